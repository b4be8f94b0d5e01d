"""Training: simulated devices (+ reviewed archive windows) -> verified classifier directory.

Three independent sets of simulated devices, so no number is measured on what chose it:
  seed      training devices at the enriched mix (af, PVCs and noise are rare in a real stream;
            a classifier sees enough of them only when the mix is enriched), plus the archive's
            reviewed windows, which is how the gateway's forwarded windows retrain the model;
  seed + 1  validation devices: choose the forwarding threshold (EcgClassifier.fit X_val/y_val);
  seed + 2  held-out devices, screened at the enriched mix (sensitivity needs positives) and at
            the default stream mix (the normal-forwarded fraction the gateway will really see).
The metrics, both evaluation specs, a description of the training data with the SHA-256 of the
training matrix, the seed, the time and the edgeloop version go into the model's metadata.json.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeloop import __version__
from edgeloop.components.ecg_prefilter.classifier import EcgClassifier
from edgeloop.simulator.wearable.mix import parse_mix

from .dataset import WindowSet, archive_windows, simulated_windows
from .evaluate import ENRICHED_MIX, held_out_specs, screening_metrics

# Defaults measured on the 2-core machine (workers=2): see the report in docs.
DEVICES = 40
MINUTES = 30.0
WORKERS = 2
HOP_S = 30.0


@dataclass
class TrainResult:
    model_dir: Path
    metrics: dict[str, Any]
    model: EcgClassifier
    held_out: dict[str, WindowSet]     # the evaluation windows by spec name (for pictures)


def validation_devices(devices: int) -> int:
    return max(2, round(0.4 * devices))


def train_classifier(out: str | Path, *, seed: int = 0, archive: str | Path | None = None,
                     devices: int = DEVICES, minutes: float = MINUTES, workers: int = WORKERS,
                     params: dict[str, Any] | None = None, progress: bool = True) -> TrainResult:
    """Build the three device sets, fit, evaluate on held-out devices and save to `out`."""
    mix = parse_mix(ENRICHED_MIX)
    common = functools.partial(simulated_windows, minutes=minutes, mix=mix, hop_s=HOP_S, workers=workers,
                               progress=progress)
    simulated = common(seed=seed, devices=devices)
    reviewed = archive_windows(archive) if archive is not None else None
    training = WindowSet.concat([simulated] + ([reviewed] if reviewed is not None else []))
    validation = common(seed=seed + 1, devices=validation_devices(devices))
    specs = held_out_specs(seed + 2, devices, minutes, HOP_S)
    held_out = {name: spec.windows(workers=workers, progress=progress) for name, spec in specs.items()}

    # all data is built before XGBoost starts its thread pool: forking worker processes after
    # OpenMP has run is what can hang them.
    settings = {"seed": seed, "n_jobs": workers, **(params or {})}
    model = EcgClassifier(**settings).fit(training.X, training.y, X_val=validation.X, y_val=validation.y)
    metrics = screening_metrics(model, {k: s.to_dict() for k, s in specs.items()}, held_out)
    sim_spec = {"seed": seed, "devices": devices, "minutes": minutes, "mix": ENRICHED_MIX,
                "hop_s": HOP_S, "window_s": 60.0}
    model.metadata_ = {
        "metrics": metrics,
        "evaluation": metrics["evaluation"],
        "training_data": {
            "simulated": {**sim_spec, **simulated.describe()},
            "archive": ({"root": str(archive), **reviewed.describe(), "failures": reviewed.failures[:50]}
                        if reviewed is not None else None),
            "windows": len(training), "by_label": training.counts(),
            "sha256": training.digest(),
        },
        "validation_data": {**sim_spec, "seed": seed + 1, "devices": validation_devices(devices),
                            **validation.describe()},
        "threshold_rule": f"highest threshold <= 0.5 forwarding {model.target_sensitivity:g} of the "
                          "non-normal validation windows",
        "seed": seed,
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "edgeloop_version": __version__,
    }
    model_dir = model.save(out)
    return TrainResult(Path(model_dir), metrics, model, held_out)
