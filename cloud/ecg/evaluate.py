"""How well the screener screens: held-out simulated devices scored against their ground truth.

The two numbers that matter (issue 4 targets):
  sensitivity_non_normal     forwarded / all windows whose truth is af, other or noisy (>= 0.97)
  normal_forwarded_fraction  forwarded / all windows whose truth is normal (<= 0.03)
A missed arrhythmia is the costly error, so sensitivity counts forwarding, whatever label the
forwarded window got; `recall` (label right after the forwarding rule) and the confusion matrix say
how well the label itself is chosen. Transition windows (truth None) are reported apart.

An `EvalSpec` pins the simulated devices, so evaluation is deterministic for (model, spec): a
promotion gate can re-score the serving model on a candidate's spec. Training records two specs,
an enriched mix (enough positives to measure sensitivity) and the default stream mix (what the
gateway sees, for the normal-forwarded fraction); `screening_metrics` scores both.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from edgeloop.components.ecg_prefilter.classifier import EcgClassifier
from edgeloop.components.ecg_prefilter.strides import stride_starts
from edgeloop.contracts.ecg import LABELS
from edgeloop.simulator.wearable.mix import DEFAULT_MIX, parse_mix

from .dataset import WindowSet, simulated_windows

ENRICHED_MIX = "normal=0.5,af=0.2,pvc=0.15,noisy=0.15"
TARGETS = {"sensitivity_non_normal": 0.97, "normal_forwarded_fraction": 0.03}


@dataclass(frozen=True)
class EvalSpec:
    """Which simulated devices an evaluation screens: seed, count, minutes each, mix, strides."""

    seed: int
    devices: int
    minutes: float
    mix: str = ENRICHED_MIX
    hop_s: float = 30.0
    window_s: float = 60.0

    def __post_init__(self) -> None:
        parse_mix(self.mix)                                    # MixError names a bad field
        if self.devices < 1 or not self.minutes > 0:
            raise ValueError(f"evaluation needs devices >= 1 and minutes > 0, got {self.devices}, {self.minutes}")
        stride_starts(0, 250.0, self.window_s, self.hop_s)       # ValueError for a hop beyond the window

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalSpec:
        try:
            return cls(seed=int(data["seed"]), devices=int(data["devices"]), minutes=float(data["minutes"]),
                       mix=str(data.get("mix", ENRICHED_MIX)), hop_s=float(data.get("hop_s", 30.0)),
                       window_s=float(data.get("window_s", 60.0)))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"evaluation spec {data!r}: {exc!r}") from None

    def windows(self, *, workers: int = 1, progress: bool = False) -> WindowSet:
        return simulated_windows(seed=self.seed, devices=self.devices, minutes=self.minutes,
                                 mix=parse_mix(self.mix), window_s=self.window_s, hop_s=self.hop_s,
                                 workers=workers, progress=progress, keep_transitions=True)


def held_out_specs(seed: int, devices: int, minutes: float, hop_s: float = 30.0) -> dict[str, EvalSpec]:
    """The two evaluations training records: enriched mix and the default stream mix."""
    return {"enriched": EvalSpec(seed, devices, minutes, ENRICHED_MIX, hop_s),
            "stream": EvalSpec(seed, devices, minutes, DEFAULT_MIX, hop_s)}


def _fraction(hits: int, total: int) -> float | None:
    return hits / total if total else None


def metrics_of(model: EcgClassifier, windows: WindowSet, spec: dict[str, Any]) -> dict[str, Any]:
    """JSON-safe metrics of `model` on labelled windows (None where nothing was there to count)."""
    truth = np.asarray(windows.y, dtype=str)
    verdicts = model.decide(windows.X) if len(windows) else []
    predicted = np.array([v.label for v in verdicts], dtype=str)
    forwarded = np.array([v.forward for v in verdicts], dtype=bool)
    abnormal = truth != "normal"
    index = {label: i for i, label in enumerate(LABELS)}
    confusion = np.zeros((len(LABELS), len(LABELS)), dtype=int)
    for t, p in zip(truth, predicted, strict=True):
        confusion[index[t], index[p]] += 1
    transition_forwarded = (int(np.count_nonzero(model.scores(windows.transition_X) >= model.threshold_))
                            if len(windows.transition_X) else 0)
    return {
        "sensitivity_non_normal": _fraction(int(forwarded[abnormal].sum()), int(abnormal.sum())),
        "normal_forwarded_fraction": _fraction(int(forwarded[~abnormal].sum()), int((~abnormal).sum())),
        "recall": {k: _fraction(int(confusion[i, i]), int(confusion[i].sum())) for k, i in index.items()},
        "forwarded_by_label": {k: _fraction(int(forwarded[truth == k].sum()), int((truth == k).sum()))
                               for k in LABELS},
        "confusion": {"labels": list(LABELS), "rows_true_columns_predicted": confusion.tolist()},
        "windows": windows.counts(),
        "transition_windows": windows.transitions,
        "transition_forwarded_fraction": _fraction(transition_forwarded, len(windows.transition_X)),
        "failed_windows": len(windows.failures),
        "threshold": float(model.threshold_),
        "evaluation": dict(spec),
    }


def evaluate_classifier(model: EcgClassifier, spec: EvalSpec | dict[str, Any],
                        windows: WindowSet | None = None, *, workers: int = 1,
                        progress: bool = False) -> dict[str, Any]:
    """Metrics of `model` on the devices `spec` names (or on `windows`, already built from it)."""
    spec = spec if isinstance(spec, EvalSpec) else EvalSpec.from_dict(spec)
    if windows is None:
        windows = spec.windows(workers=workers, progress=progress)
    return metrics_of(model, windows, spec.to_dict())


def scores_by_label(model: EcgClassifier, windows: WindowSet) -> dict[str, np.ndarray]:
    """Abnormality scores grouped by true label (the histogram in plot_evaluation)."""
    scores = model.scores(windows.X) if len(windows) else np.empty(0)
    return {label: scores[windows.y == label] for label in LABELS}


def meets_targets(metrics: dict[str, Any]) -> dict[str, bool]:
    sens, fwd = metrics.get("sensitivity_non_normal"), metrics.get("normal_forwarded_fraction")
    return {"sensitivity_non_normal": sens is not None and sens >= TARGETS["sensitivity_non_normal"],
            "normal_forwarded_fraction": fwd is not None and fwd <= TARGETS["normal_forwarded_fraction"]}


def screening_metrics(model: EcgClassifier, evaluation: dict[str, Any],
                      windows: dict[str, WindowSet] | None = None, *, workers: int = 1,
                      progress: bool = False) -> dict[str, Any]:
    """Headline metrics over training's two held-out specs ({"enriched": spec, "stream": spec}):
    sensitivity from the enriched set, normal-forwarded fraction from the stream set, each set's
    full metrics under its name, and `evaluation` = the specs (what a gate compares)."""
    detail = {name: evaluate_classifier(model, spec, (windows or {}).get(name), workers=workers, progress=progress)
              for name, spec in evaluation.items()}
    head = {"sensitivity_non_normal": detail["enriched"]["sensitivity_non_normal"],
            "normal_forwarded_fraction": detail["stream"]["normal_forwarded_fraction"]}
    return {**head, "targets": TARGETS, "targets_met": meets_targets(head), **detail,
            "evaluation": {name: (s.to_dict() if isinstance(s, EvalSpec) else EvalSpec.from_dict(s).to_dict())
                           for name, s in evaluation.items()}}
