"""JSON-safe copies of metrics: evaluation and training results may hold NaN, which JSON cannot carry."""

from __future__ import annotations

import math
from typing import Any


def json_safe(value: Any) -> Any:
    """A copy with NaN and infinities (e.g. regret when nothing was scored) replaced by None."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value
