"""How an edgeloop component process runs under a Greengrass nucleus (real or edgeloop's local core).

`run_component` is every component's `main`: log to stdout (Greengrass keeps it in
`logs/<Component>.log`), read the Greengrass root the recipe passes in `EDGELOOP_GG_ROOT`
(`{kernel:rootPath}`, where model components' artifacts are unarchived), connect over IPC with the
environment the nucleus gives, stop cleanly on SIGTERM (the nucleus's Shutdown) or SIGINT.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from edgeloop.ipc import Ipc

ROOT_ENV = "EDGELOOP_GG_ROOT"


class Component(Protocol):
    def start(self) -> None: ...
    def serve(self) -> None: ...
    def stop(self) -> None: ...


def run_component(make: Callable[[Ipc, Path, str], Component], log: logging.Logger) -> int:
    """Build the component with (ipc, Greengrass root, thing name), serve until stopped; exit code."""
    logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(levelname)s %(message)s")
    logging.getLogger("awsiot").setLevel(logging.WARNING)   # one line per connection otherwise
    root = os.environ.get(ROOT_ENV)
    if not root:
        log.error("%s is not set; the recipe sets it to {kernel:rootPath}, the Greengrass root folder", ROOT_ENV)
        return 2
    try:
        ipc = Ipc()
    except Exception as exc:  # noqa: BLE001 - any failure to connect is reported with the exit code
        log.error("cannot connect to the Greengrass core over IPC (is this running as a component?): %s", exc)
        return 2
    component = make(ipc, Path(root), os.environ.get("AWS_IOT_THING_NAME", ""))
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: component.stop())
    try:
        component.start()
        component.serve()
    finally:
        component.stop()
        ipc.close()
    log.info("stopped")
    return 0
