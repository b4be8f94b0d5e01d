"""What a quality gate answers: may this candidate replace the model serving now, and why.

Each model line has its own gate (cloud/twin/gate.py: regret; cloud/ecg/gate.py: the screening
targets); both answer with a GateResult, which the one promotion path (cloud/promotion.py) acts on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class GateResult:
    allowed: bool
    message: str
    serving_ref: str | None = None


Compare = Callable[[Any, Any, Path, float, str], GateResult]
# (candidate, serving, serving model dir, tolerance, "where the serving model runs") -> verdict
