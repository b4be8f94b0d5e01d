"""Running a lifecycle step's script: `sh -c`, its own process group, output into the component log.

Greengrass runs each step through the shell on Linux; a step ends when its process exits. Every
script gets its own process group so that stopping a component stops everything it started.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

EXIT_POLL_S = 0.01


class ComponentLog:
    """ROOT/logs/<component>.log: the component's stdout/stderr and the core's notes about it."""

    def __init__(self, path: Path, component: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: TextIO = open(path, "a", buffering=1, encoding="utf-8", errors="replace")
        self.component = component

    def write(self, step: str, stream: str, line: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z"
        self._file.write(f"{stamp} [INFO] ({step}) {self.component}: {stream}. {line}\n")

    def note(self, message: str) -> None:
        self.write("core", "lifecycle", message)

    def close(self) -> None:
        self._file.close()


def should_skip(skipif: str | None, env: dict[str, str]) -> bool:
    """Greengrass `Skipif`: `onpath <exe>` skips when the executable is on PATH, `exists <file>` when it exists."""
    if not skipif:
        return False
    kind, _, target = skipif.strip().partition(" ")
    target = target.strip()
    if kind == "onpath":
        return shutil.which(target, path=env.get("PATH")) is not None
    if kind == "exists":
        return os.path.exists(target)
    raise ValueError(f"Skipif must be 'onpath <executable>' or 'exists <file>', got {skipif!r}")


@dataclass
class StepResult:
    exit_code: int | None  # None when the step timed out or was skipped
    timed_out: bool = False
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return self.skipped or self.exit_code == 0


class ScriptProcess:
    """One running step script, its output pumped into the component log line by line."""

    def __init__(self, proc: asyncio.subprocess.Process, pumps: list[asyncio.Task]) -> None:
        self._proc = proc
        self._pumps = pumps

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode

    async def wait(self) -> int:
        # Python 3.11's Process.wait() returns only once the child's pipes are closed too (unless
        # the exit was already seen), so a background process that a Startup script leaves behind
        # would hold it until that process ends. The exit status itself is set as soon as the
        # child exits: wait for that.
        while self._proc.returncode is None:
            await asyncio.sleep(EXIT_POLL_S)
        # Let the output already written reach the log; a background process's output keeps
        # flowing into the log, we do not wait for it.
        await asyncio.wait(self._pumps, timeout=0.5)
        return self._proc.returncode

    async def terminate(self, grace_s: float = 5.0) -> int:
        """SIGTERM the whole process group (including what a Startup script left running), SIGKILL after `grace_s`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace_s
        self._signal(signal.SIGTERM)
        try:
            code: int | None = await asyncio.wait_for(self.wait(), grace_s)
        except TimeoutError:
            code = None
        while self._group_alive() and loop.time() < deadline:
            await asyncio.sleep(0.05)
        self._signal(signal.SIGKILL)
        return code if code is not None else await self.wait()

    def _group_alive(self) -> bool:
        try:
            os.killpg(self._proc.pid, 0)
            return True
        except (ProcessLookupError, PermissionError):
            return False

    def _signal(self, sig: int) -> None:
        try:
            os.killpg(self._proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


async def _pump(stream: asyncio.StreamReader, log: ComponentLog, step: str, name: str) -> None:
    while True:
        line = await stream.readline()
        if not line:
            return
        log.write(step, name, line.decode("utf-8", "replace").rstrip("\n"))


async def spawn(script: str, *, step: str, env: dict[str, str], cwd: Path, log: ComponentLog) -> ScriptProcess:
    proc = await asyncio.create_subprocess_exec(
        "sh", "-c", script, cwd=str(cwd), env=env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, start_new_session=True)
    assert proc.stdout is not None and proc.stderr is not None
    pumps = [asyncio.create_task(_pump(proc.stdout, log, step, "stdout")),
             asyncio.create_task(_pump(proc.stderr, log, step, "stderr"))]
    return ScriptProcess(proc, pumps)


async def run_step(script: str, *, step: str, env: dict[str, str], cwd: Path, log: ComponentLog,
                   timeout: float | None, skipif: str | None = None) -> StepResult:
    """Run a step to completion (Bootstrap, Install, Startup, Shutdown, Recover)."""
    if should_skip(skipif, env):
        log.note(f"{step} skipped ({skipif})")
        return StepResult(exit_code=None, skipped=True)
    proc = await spawn(script, step=step, env=env, cwd=cwd, log=log)
    try:
        code = await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        await proc.terminate(grace_s=2.0)
        log.note(f"{step} timed out after {timeout:g}s")
        return StepResult(exit_code=None, timed_out=True)
    if code != 0:
        log.note(f"{step} exited with code {code}")
    return StepResult(exit_code=code)
