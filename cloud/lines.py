"""Model lines: what differs between the twin's and the ECG screener's way to production.

Everything else (registry, approval, the component store, deployment, records, rollback) is one
path in cloud/promotion.py. A registry version belongs to the line whose model format its model
directory's metadata.json names, so any group name works and a package can never be promoted as
the wrong component.

Each line says which model component carries it (components/packaging.py ModelKind), which metrics
go into that component's configuration, and how its quality gate compares a candidate with the
model serving now (`compare`, in the line's own units: regret percentage points for the twin,
fractions of windows for the ECG screener).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgeloop.cloud.errors import UnknownModelLine
from edgeloop.components.digital_twin.model import FORMAT as TWIN_FORMAT
from edgeloop.components.digital_twin.packaging import TWIN_MODEL_KIND
from edgeloop.components.ecg_prefilter.classifier import FORMAT as ECG_FORMAT
from edgeloop.components.ecg_prefilter.packaging import ECG_MODEL_KIND
from edgeloop.modelfiles import METADATA_FILE

from .ecg.gate import compare_screening, requirements
from .gate import Compare
from .twin.gate import compare_regret


@dataclass(frozen=True)
class ModelLine:
    name: str                       # twin | ecg
    model_format: str               # metadata.json "format" of its model directories
    kind: Any                       # components.packaging.ModelKind
    default_group: str              # registry model package group the pipeline registers into
    config_metrics: tuple[str, ...]
    compare: Compare
    requirements: Callable[[Any], str | None] | None = None   # absolute bar, whatever serves now

    @property
    def component(self) -> str:
        return self.kind.component


def lines() -> dict[str, ModelLine]:
    """Every line, by name."""
    return {
        "twin": ModelLine("twin", TWIN_FORMAT, TWIN_MODEL_KIND, "edgeloop-twin",
                          ("mean_regret_pct", "savings_capture", "pooled_test_mae_kw", "infeasible"),
                          compare_regret),
        "ecg": ModelLine("ecg", ECG_FORMAT, ECG_MODEL_KIND, "edgeloop-ecg",
                         ("sensitivity_non_normal", "normal_forwarded_fraction", "recall"),
                         compare_screening, requirements),
    }


def line_named(name: str) -> ModelLine:
    known = lines()
    if name not in known:
        raise UnknownModelLine(f"unknown model line {name!r}; known: {', '.join(known)}")
    return known[name]


def line_for_component(component: str) -> ModelLine:
    for line in lines().values():
        if line.component == component:
            return line
    raise UnknownModelLine(f"{component!r} is not a model component edgeloop promotes")


def line_of_model_dir(model_dir: Path) -> ModelLine:
    """The line of a model directory, from its metadata.json format."""
    path = Path(model_dir) / METADATA_FILE
    try:
        fmt = json.loads(path.read_text(encoding="utf-8")).get("format")
    except (OSError, ValueError, AttributeError) as exc:
        raise UnknownModelLine(f"{path}: cannot read the model format ({exc})") from None
    for line in lines().values():
        if line.model_format == fmt:
            return line
    raise UnknownModelLine(f"{path}: model format {fmt!r} belongs to no model line")
