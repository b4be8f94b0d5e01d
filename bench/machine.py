"""What every bench script shares: the machine it ran on (printed with every result) and waiting."""

from __future__ import annotations

import os
import platform
import time
from typing import Any, Callable


def describe() -> str:
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        mem = f", {pages / 2**30:.0f} GiB"
    except (ValueError, OSError):
        pass
    return (f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores ({model}){mem}, "
            f"Python {platform.python_version()}")


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """The predicate's first truthy value; exits the bench with a message after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what}")
