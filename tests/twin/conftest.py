"""Shared fixtures: small trained twins (seconds to fit) on synthetic and simulated plant data."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import synthetic  # noqa: E402

from edgeloop.components.digital_twin.model import PowerModel  # noqa: E402
from edgeloop.components.digital_twin.telemetry import TelemetryFrame  # noqa: E402

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
