"""A core started with launch_core ends with its launcher, even when the launcher is SIGKILLed
(as `subprocess.run(timeout=...)` does to a demo), and it stops in order, as on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

LAUNCHER = r"""
import sys, time
from edgeloop.simulator.core.launcher import launch_core
core = launch_core(sys.argv[1], "--mqtt-port", "0")
print(core.proc.pid, flush=True)
time.sleep(300)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text() if Path(f"/proc/{pid}/stat").exists() else ""
    return " Z " not in stat        # a zombie has exited


def test_a_killed_launcher_takes_its_core_down(short_tmp: Path) -> None:
    launcher = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(short_tmp / "root")],
                                stdout=subprocess.PIPE, text=True)
    try:
        core_pid = int(launcher.stdout.readline())
        assert _alive(core_pid)
        launcher.send_signal(signal.SIGKILL)      # no teardown runs in the launcher
        launcher.wait(10)
        deadline = time.monotonic() + 30
        while _alive(core_pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(core_pid), "the core outlived its launcher"
        assert not (short_tmp / "root" / "core.pid").exists()    # an orderly stop (SIGTERM), not a kill
    finally:
        if launcher.poll() is None:
            launcher.kill()
