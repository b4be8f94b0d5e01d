"""Fixtures for the component tests: small twin models trained on simulated plant history (see twinkit).

Core fixtures (core_factory, kit, short_tmp) come from tests/conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from edgeloop.simulator.plant import Plant
from twinkit import train_model


@pytest.fixture(scope="session")
def plant() -> Plant:
    return Plant.default(0)


@pytest.fixture(scope="session")
def model_dirs(plant: Plant, tmp_path_factory) -> dict[str, Path]:
    """Two models of the same plant: "first" on one history, "second" on the plant 90 days older."""
    base = tmp_path_factory.mktemp("twin-models")
    return {"first": train_model(plant, base / "first", seed=1),
            "second": train_model(plant.aged(90), base / "second", seed=2)}
