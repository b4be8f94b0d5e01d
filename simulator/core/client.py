"""The `edgeloop core` CLI's side of IPC: find a running core under --root and talk to it as aws.greengrass.Cli.

Like the Greengrass CLI, it reads the socket path and a token the core left in ROOT/cli_ipc_info
(readable by the core's user only) and calls the ordinary IPC operations with the official client.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from awsiot.greengrasscoreipc.model import DeploymentStatus

from edgeloop.ipc import connect
from edgeloop.simulator.core.errors import CoreNotRunning

from .paths import CorePaths

CLI_INFO_FILE = "ipc.json"
TERMINAL = (DeploymentStatus.SUCCEEDED, DeploymentStatus.FAILED, DeploymentStatus.CANCELED)


def write_cli_info(paths: CorePaths, token: str) -> None:
    info = paths.cli_ipc_info / CLI_INFO_FILE
    info.write_text(json.dumps({"socket": str(paths.ipc_socket), "token": token}))
    info.chmod(0o600)


class CoreClient:
    def __init__(self, paths: CorePaths) -> None:
        info_file = paths.cli_ipc_info / CLI_INFO_FILE
        if not info_file.exists() or not paths.ipc_socket.exists():
            raise CoreNotRunning(f"no core is running under {paths.root} (start one with `edgeloop core start --root {paths.root}`)")
        info = json.loads(info_file.read_text())
        try:
            self.client = connect(info["socket"], info["token"], timeout=5.0)
        except Exception as exc:
            raise CoreNotRunning(f"the core under {paths.root} does not answer on {info['socket']}: {exc}") from exc

    def create_deployment(self, *, recipe_dir: str | None, artifact_dir: str | None, merge: dict[str, str],
                          remove: list[str], configuration: dict[str, Any], failure_policy: str) -> str:
        response = self.client.create_local_deployment(
            recipe_directory_path=str(Path(recipe_dir).resolve()) if recipe_dir else None,
            artifacts_directory_path=str(Path(artifact_dir).resolve()) if artifact_dir else None,
            root_component_versions_to_add=merge or None, root_components_to_remove=remove or None,
            component_to_configuration=configuration or None, failure_handling_policy=failure_policy)
        return response.deployment_id

    def deployment(self, deployment_id: str) -> dict[str, Any]:
        response = self.client.get_local_deployment_status(deployment_id=deployment_id)
        return response.deployment._to_payload()

    def wait_for_deployment(self, deployment_id: str, timeout_s: float = 600.0, poll_s: float = 0.2) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        while True:
            deployment = self.deployment(deployment_id)
            if deployment.get("status") in TERMINAL or time.monotonic() > deadline:
                return deployment
            time.sleep(poll_s)

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> CoreClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
