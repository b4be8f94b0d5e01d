"""A step script that leaves a background process behind (what Startup steps do) must still end.

Python 3.11's asyncio `Process.wait()` also waits for the child's pipes to close, which the
background process keeps open; measured here 17 of 20 such waits hung. The core's step runner
waits for the exit status instead.
"""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

from edgeloop.simulator.core.lifecycle.process import ComponentLog, run_step, spawn


def test_a_script_that_backgrounds_a_process_finishes_and_its_group_is_stopped(tmp_path: Path) -> None:
    async def scenario() -> tuple[list[int], int]:
        log = ComponentLog(tmp_path / "c.log", "com.test.C")
        codes = []
        for _ in range(10):
            result = await run_step("(sleep 60) & echo $! >> pids.txt; echo started", step="Startup",
                                    env={"PATH": os.environ["PATH"]}, cwd=tmp_path, log=log, timeout=5)
            codes.append(result.exit_code)
        proc = await spawn("(sleep 60) & echo $! > last.txt", step="Startup", env={"PATH": os.environ["PATH"]},
                           cwd=tmp_path, log=log)
        await asyncio.wait_for(proc.wait(), 5)
        await proc.terminate(grace_s=1.0)
        for pid in map(int, (tmp_path / "pids.txt").read_text().split()):  # run_step's leftovers
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        await asyncio.sleep(0.5)  # their pipes close and the transports finish while the loop runs
        log.close()
        return codes, int((tmp_path / "last.txt").read_text())

    codes, last = asyncio.run(scenario())
    assert codes == [0] * 10  # none timed out
    assert "started" in (tmp_path / "c.log").read_text()
    try:  # the background process of the terminated group is gone (or a zombie awaiting its reaper)
        os.kill(last, 0)
        assert Path(f"/proc/{last}/stat").read_text().split()[2] == "Z"
    except ProcessLookupError:
        pass
