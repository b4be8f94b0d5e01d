"""Fixtures every test folder shares (helpers in tests/brokers.py and tests/corekit.py).

The core fixtures run `edgeloop core start` as a real subprocess (see corekit); tests/core tests the
core itself with them, tests/components tests edgeloop's components deployed to it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from brokers import Mosquitto, free_port
from corekit import ComponentKit, RunningCore, start_core


@pytest.fixture
def unused_port() -> int:
    return free_port()


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(free_port(), tmp_path)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A short temporary folder: Unix socket paths are limited to 107 bytes, pytest's tmp_path can be longer."""
    path = Path(tempfile.mkdtemp(prefix="el-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def kit(short_tmp: Path) -> ComponentKit:
    return ComponentKit(short_tmp / "dev")


@pytest.fixture
def core_factory(short_tmp: Path):
    started: list[RunningCore] = []

    def factory(*args: str, root: Path | None = None, env: dict[str, str] | None = None) -> RunningCore:
        core = start_core(root or short_tmp / "root", *args, env=env)
        started.append(core)
        return core
    yield factory
    for core in started:
        if core.proc.poll() is None:
            core.stop()


@pytest.fixture
def core(core_factory) -> RunningCore:
    return core_factory()
