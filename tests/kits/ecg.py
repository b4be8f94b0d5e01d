"""Helpers for the ECG tests: two small real screeners trained on simulated windows (one for the
gateway's tests; one with its threshold set on held-out devices, for the classifier and the cloud's
screening tests), wearable chunk payloads of a chosen rhythm, and an EcgModel placed where
Greengrass unarchives it."""

from __future__ import annotations

import functools
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeloop.cloud.ecg.dataset import WindowSet, simulated_windows
from edgeloop.cloud.ecg.evaluate import ENRICHED_MIX
from edgeloop.components.ecg_prefilter.classifier import EcgClassifier
from edgeloop.components.ecg_prefilter.features import analyse_window
from edgeloop.components.ecg_prefilter.service import ECG_MODEL_ON_GATEWAY
from edgeloop.modelfiles import metadata_sha256
from edgeloop.simulator.wearable import Episode, WearableSimulator, parse_mix
from edgeloop.simulator.wearable.simulator import stream_payloads

FS = 250.0
# Rhythm plans per screener class: each simulated device records 4 minutes of one of them.
PLANS = {
    "normal": [lambda hr: Episode("sinus", 300, hr=hr)],
    "af": [lambda hr: Episode("af", 300, hr=hr + 30)],
    "other": [lambda hr: Episode("bigeminy", 300, hr=hr), lambda hr: Episode("pvc", 300, hr=hr)],
    "noisy": [lambda hr: Episode("sinus", 300, hr=hr, artifact="motion"),
              lambda hr: Episode("sinus", 300, hr=hr, artifact="lead_off")],
}


def plan(rhythm: str, seconds: float = 600, hr: float = 72.0, artifact: str | None = None) -> list[Episode]:
    return [Episode(rhythm, seconds, hr=hr, artifact=artifact)]


@functools.cache
def trained_model_dir() -> Path:
    """A small EcgClassifier (real XGBoost) on 4-minute recordings of 3 devices per abnormal class
    and 6 normal ones; trained once per test session (about 3 s), saved with its verified metadata."""
    sim = WearableSimulator(FS, seed=11)
    X, y = [], []
    rng = np.random.default_rng(5)
    for label, makers in PLANS.items():
        devices = 6 if label == "normal" else 3      # sinus at many rates, as on a real ward
        for d, hr in enumerate(np.linspace(55, 100, devices) + rng.uniform(-3, 3, devices)):
            episode = makers[d % len(makers)](float(hr))
            ecg = sim.record(4, [episode], device_id=f"train-{label}-{d}").ecg
            for start in range(0, ecg.size - round(60 * FS) + 1, round(60 * FS)):
                X.append(analyse_window(ecg[start:start + round(60 * FS)], FS).vector())
                y.append(label)
    folder = Path(tempfile.mkdtemp(prefix="ecg-model-"))
    EcgClassifier(n_estimators=40, max_depth=3, seed=0).fit(np.array(X), y).save(folder / "model")
    return folder / "model"


def install_model(root: Path, model_dir: Path, version: str = "1.0.0",
                  model_version: str = "edgeloop-ecg/1") -> dict:
    """Put the model where Greengrass unarchives EcgModel `version`; its component configuration."""
    target = ECG_MODEL_ON_GATEWAY.directory(root, version)
    shutil.copytree(model_dir, target)
    return {"componentVersion": version, "modelVersion": model_version, "modelSha256": metadata_sha256(target)}


def chunks(device_id: str, episodes: list[Episode], seconds: int, start_time: float = 1_700_000_000.0,
           seed: int = 3) -> Iterator[dict]:
    """The first `seconds` 1 s chunk payloads a wearable with this rhythm plan publishes."""
    gen = WearableSimulator(FS, seed=seed).device(device_id, episodes)
    stream = stream_payloads(gen, device_id, 1.0, start_time)
    for _ in range(seconds):
        yield next(stream)


@dataclass
class TinyModel:
    model: EcgClassifier
    directory: Path          # the saved, verified model directory
    validation: WindowSet


def train_tiny_model(folder: Path) -> TinyModel:
    """A small but real ECG screener on simulated devices, saved under `folder`.

    16 training devices x 10 min and 10 validation devices (the threshold) at the enriched mix: about
    570 windows, enough for every class to be learned, a few seconds of feature extraction. The
    threshold forwards 98.5 % of the ~100 abnormal validation windows, so one hard window (a few
    PVCs in a minute) does not set it alone, as it would with ~60.
    """
    mix = parse_mix(ENRICHED_MIX)
    train = simulated_windows(seed=10, devices=16, minutes=10, mix=mix, progress=False)
    val = simulated_windows(seed=11, devices=10, minutes=10, mix=mix, progress=False)
    model = EcgClassifier(n_estimators=150, seed=0).fit(train.X, train.y, X_val=val.X, y_val=val.y)
    model.metadata_ = {"seed": 10, "training_data": {"sha256": train.digest(), **train.describe()}}
    directory = model.save(folder)
    return TinyModel(model, Path(directory), val)
