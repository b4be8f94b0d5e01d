"""Fixtures for the plant tests: a real MQTT broker on a free port and a paho subscriber."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from tests.kits.brokers import Mosquitto


@pytest.fixture
def broker(mosquitto: Mosquitto) -> Mosquitto:
    """The plant publishes to a Mosquitto that tests may restart (see tests/conftest.py)."""
    return mosquitto


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
def subscriber(broker: Mosquitto) -> Iterator[Subscriber]:
    sub = Subscriber(broker.port, "dt/compressor/+/telemetry")
    yield sub
    sub.close()


def run_cli(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """`python -m edgeloop.cli simulate plant ARGS` as a real process."""
    return subprocess.run([sys.executable, "-m", "edgeloop.cli", "simulate", "plant",
                           *args], capture_output=True, text=True, timeout=timeout)


def start_cli(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "edgeloop.cli", "simulate", "plant",
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
