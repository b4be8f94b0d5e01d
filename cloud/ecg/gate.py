"""The ECG screener's quality gate.

A screening model must first meet the issue's targets on its own held-out evaluation (sensitivity for
non-normal windows >= 0.97, normal windows forwarded <= 3 %): a model that misses arrhythmias is not
deployed to wearable gateways unless someone forces it. Then it may not be worse than the model serving
now on either number, on the same evaluation: when the recorded evaluation specs differ, the serving
model is re-evaluated on the candidate's (cloud/ecg/evaluate.screening_metrics, deterministic per spec).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeloop.components.ecg_prefilter.classifier import EcgClassifier
from edgeloop.errors import ArtifactError

from ..gate import GateResult
from .evaluate import TARGETS, screening_metrics

SENSITIVITY = "sensitivity_non_normal"
FORWARDED = "normal_forwarded_fraction"


def requirements(candidate: Any) -> str | None:
    """Why the candidate misses the screening targets on its own evaluation, or None."""
    sens, fwd = candidate.metrics.get(SENSITIVITY), candidate.metrics.get(FORWARDED)
    if sens is None or fwd is None:
        return f"{candidate.ref} records no {SENSITIVITY} / {FORWARDED}"
    problems = []
    if sens < TARGETS[SENSITIVITY]:
        problems.append(f"sensitivity {sens:.3f} < {TARGETS[SENSITIVITY]}")
    if fwd > TARGETS[FORWARDED]:
        problems.append(f"normal windows forwarded {fwd:.3f} > {TARGETS[FORWARDED]}")
    return f"{candidate.ref} misses the screening targets: {'; '.join(problems)}" if problems else None


def compare_screening(candidate: Any, serving: Any, serving_dir: Path, tolerance: float,
                      serving_as: str) -> GateResult:
    """`tolerance` as a fraction of windows, on both numbers."""
    spec = candidate.metrics.get("evaluation")
    if not spec:
        return GateResult(False, f"{candidate.ref} records no evaluation spec", serving.ref)
    if serving.metrics.get("evaluation") == spec:
        old, how = serving.metrics, "recorded"
    else:


        try:
            old = screening_metrics(EcgClassifier.load(serving_dir), spec)
        except ArtifactError as exc:
            return GateResult(False, f"cannot re-evaluate serving {serving.ref}: {exc}", serving.ref)
        how = "re-evaluated on the candidate's evaluation"
    new = candidate.metrics
    if old.get(SENSITIVITY) is None or old.get(FORWARDED) is None:
        return GateResult(True, f"serving {serving.ref} has no screening metrics; nothing to compare", serving.ref)
    worse = []
    if new[SENSITIVITY] < old[SENSITIVITY] - tolerance:
        worse.append(f"sensitivity {new[SENSITIVITY]:.4f} < {old[SENSITIVITY]:.4f}")
    if new[FORWARDED] > old[FORWARDED] + tolerance:
        worse.append(f"normal windows forwarded {new[FORWARDED]:.4f} > {old[FORWARDED]:.4f}")
    if worse:
        return GateResult(False, f"{candidate.ref} screens worse than {serving.ref} serving as {serving_as} "
                                 f"({how}): {'; '.join(worse)}", serving.ref)
    return GateResult(True, f"{candidate.ref} sensitivity {new[SENSITIVITY]:.4f} >= {old[SENSITIVITY]:.4f}, "
                            f"normal forwarded {new[FORWARDED]:.4f} <= {old[FORWARDED]:.4f} of {serving.ref} "
                            f"({how})", serving.ref)
