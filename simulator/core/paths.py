"""The on-disk layout of a core device under its --root folder (the same shape as a Greengrass root)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

# A Unix socket path may hold at most 107 bytes plus the terminating NUL.
MAX_SOCKET_PATH = 107


@dataclass(frozen=True)
class CorePaths:
    root: Path

    @classmethod
    def at(cls, root: str | Path) -> CorePaths:
        return cls(Path(root).expanduser().resolve())

    @property
    def recipes(self) -> Path:
        """The local component store: one recipe file per component version, as the core normalised it."""
        return self.root / "packages" / "recipes"

    @property
    def artifacts(self) -> Path:
        return self.root / "packages" / "artifacts"

    @property
    def artifacts_unarchived(self) -> Path:
        return self.root / "packages" / "artifacts-unarchived"

    def artifact_dir(self, name: str, version: str) -> Path:
        return self.artifacts / name / version

    def decompressed_dir(self, name: str, version: str) -> Path:
        return self.artifacts_unarchived / name / version

    def work_dir(self, name: str) -> Path:
        return self.root / "work" / name

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def component_log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    @property
    def core_log(self) -> Path:
        return self.logs / "core.log"

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def effective_config(self) -> Path:
        """Every component's configuration as last written by the configuration store."""
        return self.config / "config.json"

    @property
    def services_file(self) -> Path:
        """Deployed root components, resolved versions and the state of each component (read by `core status`)."""
        return self.config / "services.json"

    @property
    def deployments(self) -> Path:
        return self.root / "deployments"

    @property
    def spool(self) -> Path:
        """The durable spool of messages waiting for the IoT Core connection."""
        return self.root / "spool" / "iotcore.sqlite"

    @property
    def cli_ipc_info(self) -> Path:
        """Where the core leaves the socket path and a token for the `edgeloop core` CLI (as Greengrass CLI does)."""
        return self.root / "cli_ipc_info"

    @property
    def ipc_socket(self) -> Path:
        return self.root / "ipc.socket"

    @property
    def pid_file(self) -> Path:
        return self.root / "core.pid"

    def ensure(self) -> None:
        for path in (self.recipes, self.artifacts, self.artifacts_unarchived, self.logs, self.config,
                     self.deployments, self.spool.parent, self.root / "work"):
            path.mkdir(parents=True, exist_ok=True)
        self.cli_ipc_info.mkdir(mode=0o700, parents=True, exist_ok=True)
        if len(str(self.ipc_socket).encode()) > MAX_SOCKET_PATH:
            raise ValueError(
                f"--root {self.root} is too long: the IPC socket path {self.ipc_socket} would exceed "
                f"the {MAX_SOCKET_PATH}-byte limit of Unix socket paths; choose a shorter root")
