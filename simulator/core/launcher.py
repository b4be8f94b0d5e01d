"""Start `edgeloop core start` as a child process and wait until it is ready (demo, benches, tests).

The core prints one line, `edgeloop core ready: root=... ipc=... mqtt=... cloud=... thing=...`,
once its IPC server, broker and bridge are up and the components deployed before are on their way.

A launched core ends with the process that launched it: if a demo, bench or test is killed
(SIGKILL runs no teardown), the core still gets SIGTERM and stops its components through their
Shutdown steps instead of running on as an orphan (Linux `PR_SET_PDEATHSIG`, set by the core itself
when `EDGELOOP_PARENT_PID` names its parent; elsewhere nothing changes). Linux sends the signal when
the launching *thread* ends, so launch a core from a thread that outlives it (the main thread).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from edgeloop.simulator.core.errors import CoreStartError

from .paths import CorePaths

READY = "edgeloop core ready"
PARENT_ENV = "EDGELOOP_PARENT_PID"
_PR_SET_PDEATHSIG = 1


@dataclass
class CoreProcess:
    root: Path
    proc: subprocess.Popen
    ready_line: str

    @property
    def paths(self) -> CorePaths:
        return CorePaths.at(self.root)

    @property
    def fields(self) -> dict[str, str]:
        """The key=value pairs of the ready line (root, ipc, mqtt, cloud, thing)."""
        return dict(part.split("=", 1) for part in self.ready_line.split(": ", 1)[1].split() if "=" in part)

    @property
    def mqtt_url(self) -> str | None:
        url = self.fields.get("mqtt")
        return None if url in (None, "none") else url

    def stop(self, timeout: float = 60.0) -> int:
        """SIGTERM (components stop through their Shutdown steps); SIGKILL if it hangs."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


def launch_core(root: str | Path, *args: str, env: dict[str, str] | None = None, timeout: float = 60.0,
                stderr: int | None = subprocess.DEVNULL) -> CoreProcess:
    """`edgeloop core start --root ROOT ARGS...`; returns once it is ready, or raises CoreStartError."""
    root = Path(root)
    cmd = [sys.executable, "-m", "edgeloop.cli", "core", "start", "--root", str(root), *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=stderr, text=True,
                            env=dict(os.environ, **(env or {}), **{PARENT_ENV: str(os.getpid())}))
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith(READY):
            return CoreProcess(root, proc, line.strip())
        if not line and proc.poll() is not None:
            break
    proc.kill()
    log = CorePaths.at(root).core_log
    tail = "\n".join(log.read_text().splitlines()[-20:]) if log.exists() else "(no core.log)"
    raise CoreStartError(f"the core under {root} did not start (exit {proc.poll()}):\n{tail}")


def follow_parent() -> None:
    """In a core that launch_core started: get SIGTERM when the launcher dies (module docstring).
    Exits at once if the launcher is already gone."""
    parent = os.environ.pop(PARENT_ENV, None)      # popped: components must not inherit it
    if parent is None or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        return                                      # not fatal: the core just would not follow
    if str(os.getppid()) != parent:                 # the launcher died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)
