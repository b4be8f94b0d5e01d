"""Fixtures every test folder shares (helpers in tests/brokers.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from brokers import Mosquitto, free_port


@pytest.fixture
def unused_port() -> int:
    return free_port()


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(free_port(), tmp_path)
    broker.start()
    yield broker
    broker.stop()
