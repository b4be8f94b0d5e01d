"""Fixtures more than one test folder uses; the helpers behind them are in tests/kits/.

The tests mirror the source: tests/<area>/... tests <area>/... (tests/edgeloop/ the component SDK and
the demo). The core fixtures run `edgeloop core start` as a real subprocess (see tests/kits/core.py);
tests/simulator/core tests the core itself with them, tests/components tests edgeloop's components
deployed to it. Session fixtures train their model once per session (once per xdist worker).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.kits.brokers import Mosquitto, free_port
from tests.kits.core import ComponentKit, RunningCore, start_core
from tests.kits.ecg import TinyModel, train_tiny_model


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `long` first: the parallel workers then share the rest while they run, and the
    suite ends when its longest test does instead of a minute after it started late."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)


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


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> TinyModel:
    """The validated small ECG screener of the classifier and cloud ECG tests (see tests/kits/ecg.py)."""
    return train_tiny_model(tmp_path_factory.mktemp("ecg-model"))
