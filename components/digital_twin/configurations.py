"""Configuration names (the set of running compressors) and feasible-flow boundaries.

A configuration name is its unit names concatenated in ascending order ("c1c2c4"). Names are data:
the known set comes from a boundaries file, or, without one, from the standard four-compressor
plant (every combination of two, three or four of c1..c4).
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from edgeloop.components.errors import BoundariesError

_NAME = re.compile(r"^(?:c\d+){2,}$")
_UNIT = re.compile(r"c(\d+)")

Boundaries = dict[str, tuple[float, float]]


def units(name: str) -> tuple[int, ...]:
    """The unit numbers of a configuration name, or ValueError when the name is not canonical."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"{name!r} is not a configuration name (expected e.g. 'c1c2')")
    numbers = tuple(int(n) for n in _UNIT.findall(name))
    if list(numbers) != sorted(set(numbers)):
        raise ValueError(f"{name!r} is not a configuration name: units must be distinct and ascending")
    return numbers


def sort_key(name: str) -> tuple[int, tuple[int, ...]]:
    """Canonical order: fewer running units first, then by unit numbers (c1c2, c1c3, ..., c1c2c3c4)."""
    numbers = units(name)
    return (len(numbers), numbers)


def canonical_order(names: Iterable[str]) -> list[str]:
    return sorted(set(names), key=sort_key)


def standard_configurations(unit_count: int = 4, min_running: int = 2) -> list[str]:
    """Every combination of at least `min_running` of units c1..c<unit_count>, in canonical order."""
    names = ["".join(f"c{u}" for u in combo)
             for size in range(min_running, unit_count + 1)
             for combo in itertools.combinations(range(1, unit_count + 1), size)]
    return canonical_order(names)


def validate_boundaries(raw: object, source: str = "boundaries") -> Boundaries:
    """Check a `{config: [lo, hi]}` mapping; lo <= hi, finite numbers. Returns it in canonical order."""
    if not isinstance(raw, Mapping) or not raw:
        raise BoundariesError(f"{source}: expected a non-empty JSON object {{config: [lo, hi]}}")
    out: Boundaries = {}
    for name, value in raw.items():
        try:
            units(name)
        except ValueError as exc:
            raise BoundariesError(f"{source}: entry {name!r}: {exc}") from None
        if (not isinstance(value, (list, tuple)) or len(value) != 2
                or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
            raise BoundariesError(f"{source}: entry {name!r}: expected [lo, hi] as two numbers, got {value!r}")
        lo, hi = float(value[0]), float(value[1])
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
            raise BoundariesError(f"{source}: entry {name!r}: need finite lo <= hi, got [{lo}, {hi}]")
        out[name] = (lo, hi)
    return {name: out[name] for name in canonical_order(out)}


def load_boundaries(path: str | Path) -> Boundaries:
    """Read a boundaries JSON file (`{"c1c2": [180, 390], ...}`)."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BoundariesError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise BoundariesError(f"{path}: not JSON: {exc.msg} at line {exc.lineno}") from None
    return validate_boundaries(raw, str(path))
