"""The twin's quality gate: a candidate may not rank configurations worse (mean regret %) than the
model serving now, on the same evaluation (same grid, plant and Monte Carlo settings). When the
recorded evaluation specs differ, the serving model is re-evaluated on the candidate's spec."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeloop.components.digital_twin.model import PowerModel
from edgeloop.errors import ArtifactError

from ..gate import GateResult
from ..pipeline import evaluation_metrics


def compare_regret(candidate: Any, serving: Any, serving_dir: Path, tolerance: float,
                   serving_as: str) -> GateResult:
    """`tolerance` in regret percentage points; `serving_as` says where the serving model runs."""
    new = candidate.metrics.get("mean_regret_pct")
    if new is None:
        return GateResult(False, f"{candidate.ref} has no mean regret metric; cannot show it is "
                                 f"not worse than {serving.ref}", serving.ref)
    spec = candidate.metrics.get("evaluation")
    if spec is None:
        return GateResult(False, f"{candidate.ref} records no evaluation spec", serving.ref)
    if serving.metrics.get("evaluation") == spec:
        old, how = serving.metrics.get("mean_regret_pct"), "recorded"
    else:

        try:
            old = evaluation_metrics(PowerModel.load(serving_dir), spec)["mean_regret_pct"]
        except ArtifactError as exc:
            return GateResult(False, f"cannot re-evaluate serving {serving.ref}: {exc}", serving.ref)
        how = "re-evaluated on the candidate's evaluation"
    if old is None:
        return GateResult(True, f"serving {serving.ref} has no mean regret; nothing to compare", serving.ref)
    if new > old + tolerance:
        return GateResult(False, f"{candidate.ref} has mean regret {new:.3f} %, worse than {old:.3f} % "
                                 f"of {serving.ref} serving as {serving_as} ({how})", serving.ref)
    return GateResult(True, f"{candidate.ref} mean regret {new:.3f} % <= {old:.3f} % of "
                            f"{serving.ref} ({how})", serving.ref)
