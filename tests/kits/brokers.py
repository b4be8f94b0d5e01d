"""A real Mosquitto broker on a free loopback port, for every test folder (fixtures in tests/conftest.py).

Mosquitto runs with `max_queued_messages 0` (its stock 1000 silently drops bursts) and without
persistence; tests never use the machine's broker on 1883. `.ci/run` installs Mosquitto.
"""

from __future__ import annotations

import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s") from None
            time.sleep(0.05)


@dataclass
class Mosquitto:
    """A Mosquitto 2 process on `port` that a test can stop and start again."""

    port: int
    folder: Path
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        conf = self.folder / "mosquitto.conf"
        conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\nmax_queued_messages 0\n"
                        "persistence false\nlog_dest stderr\n")
        log = open(self.folder / "mosquitto.log", "a")
        self.proc = subprocess.Popen(["mosquitto", "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT)
        log.close()
        try:
            wait_for_port(self.port)
        except TimeoutError:
            raise AssertionError((self.folder / "mosquitto.log").read_text()) from None

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
