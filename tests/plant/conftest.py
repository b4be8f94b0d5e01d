"""Fixtures for the plant tests: a real MQTT broker on a free port and a paho subscriber."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"broker did not listen on port {port} within {timeout_s} s")


@dataclass
class Broker:
    """A mosquitto (or, without it, amqtt) process that can be stopped and restarted."""

    port: int
    folder: Path
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        if shutil.which("mosquitto"):
            conf = self.folder / "mosquitto.conf"
            conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                            "max_queued_messages 0\npersistence false\n")
            cmd = ["mosquitto", "-c", str(conf)]
        else:
            conf = self.folder / "amqtt.yaml"
            conf.write_text(json.dumps({
                "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}"}},
                "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin":
                            {"allow_anonymous": True}}}))
            cmd = [shutil.which("amqtt") or "amqtt", "-c", str(conf)]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture
def unused_port() -> int:
    return free_port()


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(free_port(), tmp_path)
    b.start()
    yield b
    b.stop()


@dataclass
class Subscriber:
    """Collects JSON telemetry; resubscribes after every (re)connect."""

    port: int
    topic: str
    messages: list[dict] = field(default_factory=list)
    topics: list[str] = field(default_factory=list)
    subscribed: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="plant-test-sub")
        self.client.reconnect_delay_set(min_delay=0.1, max_delay=0.5)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(self.topic, qos=1)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", self.port)
        self.client.loop_start()
        assert self.subscribed.wait(5), "subscriber was not subscribed within 5 s"

    def _on_message(self, client, userdata, message) -> None:
        self.topics.append(message.topic)
        self.messages.append(json.loads(message.payload))

    def wait_for(self, n: int, timeout_s: float = 15.0) -> list[dict]:
        deadline = time.monotonic() + timeout_s
        while len(self.messages) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def subscriber(broker: Broker) -> Iterator[Subscriber]:
    sub = Subscriber(broker.port, "dt/compressor/+/telemetry")
    yield sub
    sub.close()


def run_cli(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """`python -m edgeloop.simulator.cli simulate plant ARGS` as a real process."""
    return subprocess.run([sys.executable, "-m", "edgeloop.simulator.cli", "simulate", "plant",
                           *args], capture_output=True, text=True, timeout=timeout)


def start_cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "edgeloop.simulator.cli", "simulate", "plant",
                             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def cli():
    """Runs the simulate command in a subprocess and returns the CompletedProcess."""
    return run_cli


@pytest.fixture
def cli_process():
    """Starts the simulate command in a subprocess; killed at teardown if still running."""
    started: list[subprocess.Popen] = []

    def start(*args: str) -> subprocess.Popen:
        proc = start_cli(*args)
        started.append(proc)
        return proc
    yield start
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
