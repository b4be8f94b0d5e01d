"""Fixtures of the twin tests: small models (seconds to fit) trained once per session, on synthetic
data with known physics (tests/kits/synthetic_plant.py) and on the plant simulator's history through
the cloud trainer (tests/kits/twin.py).

Core fixtures (core_factory, kit, short_tmp) come from tests/conftest.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from edgeloop.components.digital_twin.model import PowerModel
from edgeloop.components.digital_twin.telemetry import TelemetryFrame
from edgeloop.simulator.plant import Plant
from tests.kits import synthetic_plant as synthetic
from tests.kits.twin import train_model

SMALL = {"n_estimators": 60, "max_depth": 4}


@pytest.fixture(scope="session")
def synthetic_frame() -> TelemetryFrame:
    return TelemetryFrame.from_rows(synthetic.rows(2400, seed=3))


@pytest.fixture(scope="session")
def per_config_model(synthetic_frame) -> PowerModel:
    return PowerModel(layout="per_config", **SMALL).fit(synthetic_frame, synthetic.boundaries())


@pytest.fixture(scope="session")
def shared_model(synthetic_frame) -> PowerModel:
    return PowerModel(layout="shared", **SMALL).fit(synthetic_frame, synthetic.boundaries())


@pytest.fixture(scope="session")
def saved_model(per_config_model, tmp_path_factory) -> Path:
    return per_config_model.save(tmp_path_factory.mktemp("twin-model"))


@pytest.fixture(scope="session")
def plant() -> Plant:
    return Plant.default(0)


@pytest.fixture(scope="session")
def model_dirs(plant: Plant, tmp_path_factory) -> dict[str, Path]:
    """Two models of the same plant: "first" on one history, "second" on the plant 90 days older."""
    base = tmp_path_factory.mktemp("twin-models")
    return {"first": train_model(plant, base / "first", seed=1),
            "second": train_model(plant.aged(90), base / "second", seed=2)}
