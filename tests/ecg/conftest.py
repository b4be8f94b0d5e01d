"""A small but real ECG screener, trained once per test session on simulated devices.

16 training devices x 10 min and 10 validation devices (the threshold) at the enriched mix: about
570 windows, enough for every class to be learned, a few seconds of feature extraction. The
threshold forwards 98.5 % of the ~100 abnormal validation windows, so one hard window (a few
PVCs in a minute) does not set it alone, as it would with ~60.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from edgeloop.cloud.ecg.dataset import WindowSet, simulated_windows
from edgeloop.cloud.ecg.evaluate import ENRICHED_MIX
from edgeloop.components.ecg_prefilter.classifier import EcgClassifier
from edgeloop.simulator.wearable import parse_mix


@dataclass
class TinyModel:
    model: EcgClassifier
    directory: Path          # the saved, verified model directory
    validation: WindowSet


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> TinyModel:
    mix = parse_mix(ENRICHED_MIX)
    train = simulated_windows(seed=10, devices=16, minutes=10, mix=mix, progress=False)
    val = simulated_windows(seed=11, devices=10, minutes=10, mix=mix, progress=False)
    model = EcgClassifier(n_estimators=150, seed=0).fit(train.X, train.y, X_val=val.X, y_val=val.y)
    model.metadata_ = {"seed": 10, "training_data": {"sha256": train.digest(), **train.describe()}}
    directory = model.save(tmp_path_factory.mktemp("ecg-model"))
    return TinyModel(model, Path(directory), val)
