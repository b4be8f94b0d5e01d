"""Fixtures that run the local core as a real subprocess and author real test components (see corekit)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from corekit import ComponentKit, RunningCore, start_core


@pytest.fixture
def short_tmp() -> Path:
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
