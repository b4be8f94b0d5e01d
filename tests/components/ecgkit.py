"""Helpers for the ECG pre-filter tests: a small real screener trained on simulated windows, wearable
chunk payloads of a chosen rhythm, and an EcgModel placed where Greengrass unarchives it."""

from __future__ import annotations

import functools
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from edgeloop.components.ecg_prefilter.classifier import EcgClassifier
from edgeloop.components.ecg_prefilter.features import analyse_window
from edgeloop.components.ecg_prefilter.service import ECG_MODEL_ON_GATEWAY
from edgeloop.simulator.wearable import Episode, WearableSimulator
from edgeloop.simulator.wearable.simulator import stream_payloads

from edgeloop.modelfiles import metadata_sha256

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
