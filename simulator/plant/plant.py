"""The plant: configurations, their boundaries, true power, the staging rule and the oracle.

This is the contract the digital twin codes against (see the package docstring). The oracle and
the staging rule both read `true_power`, so regret (staging power minus oracle power) is never
negative by construction and is exactly what a perfect twin could save.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np

from .sets import CompressorSet, all_sets, derive_boundary, set_name
from .spec import PlantSpec, default_spec
from .staging import StagingRule
from .telemetry import history_batch


class Plant:
    """A compressor plant at a given wear state (`spec.age_days`)."""

    def __init__(self, spec: PlantSpec,
                 boundaries: Mapping[str, tuple[float, float]] | None = None) -> None:
        self.spec = spec
        combos = all_sets(spec.units)
        derived = {set_name(c): derive_boundary(c, spec.pressure_range[1]) for c in combos}
        chosen = derived if boundaries is None else _checked_boundaries(boundaries, derived)
        self._sets = {name: CompressorSet(c, chosen[name])
                      for name, c in zip(derived, combos, strict=True)}
        self.staging = StagingRule(chosen, spec.switch_margin,
                                   {n: len(s.units) for n, s in self._sets.items()})

    @classmethod
    def default(cls, seed: int = 0) -> Plant:
        """The standard four-compressor plant (see `spec.py`)."""
        return cls(default_spec(seed))

    def aged(self, days: float) -> Plant:
        """The same plant `days` later (more wear); boundaries are unchanged."""
        return Plant(replace(self.spec, age_days=self.spec.age_days + days), self.boundaries)

    @property
    def configurations(self) -> list[str]:
        return list(self._sets)

    @property
    def boundaries(self) -> dict[str, tuple[float, float]]:
        return {name: s.boundary for name, s in self._sets.items()}

    @property
    def age_days(self) -> float:
        return self.spec.age_days

    @property
    def pressure_range(self) -> tuple[float, float]:
        return self.spec.pressure_range

    @property
    def flow_range(self) -> tuple[float, float]:
        """Lowest and highest flow some configuration can deliver."""
        b = self.boundaries.values()
        return min(lo for lo, _ in b), max(hi for _, hi in b)

    def boundaries_json(self) -> str:
        """The contract boundaries file: {"c1c2": [lo, hi], ...}."""
        return json.dumps({n: list(b) for n, b in self.boundaries.items()}, indent=2)

    def write_boundaries(self, path: str | Path) -> None:
        Path(path).write_text(self.boundaries_json() + "\n", encoding="utf-8")

    def _set(self, config: str) -> CompressorSet:
        try:
            return self._sets[config]
        except KeyError:
            raise ValueError(f"unknown configuration {config!r}; "
                             f"expected one of {', '.join(self._sets)}") from None

    def power_at_age(self, config: str, flow: np.ndarray, pressure: np.ndarray,
                     age_days: np.ndarray | float) -> np.ndarray:
        """Noise-free kW at any age (days in service); NaN outside the boundary."""
        return self._set(config).power(flow, pressure, age_days)

    def true_power(self, config: str, flow: np.ndarray, pressure: np.ndarray) -> np.ndarray:
        """Noise-free kW at the current wear state, vectorised; NaN outside the boundary."""
        return self.power_at_age(config, flow, pressure, self.spec.age_days)

    def staging_configs(self, flow: np.ndarray) -> np.ndarray:
        """The staging rule for many flows (it does not look at pressure)."""
        return self.staging.choose(flow)

    def staging_config(self, flow: float, pressure: float) -> str:
        """The switch-point staging rule's choice; `pressure` is ignored, as the rule does."""
        return str(self.staging.choose(flow)[0])

    def power_table(self, flow: np.ndarray, pressure: np.ndarray) -> np.ndarray:
        """True power of every configuration, shape (n_configs, *broadcast shape)."""
        return np.stack([self.true_power(c, flow, pressure) for c in self._sets])

    def oracle_configs(self, flow: np.ndarray, pressure: np.ndarray) -> np.ndarray:
        """Least-true-power feasible configuration per point; ValueError if none is feasible."""
        table = self.power_table(np.atleast_1d(flow), np.atleast_1d(pressure))
        none = np.all(np.isnan(table), axis=0)
        if none.any():
            f, p = np.broadcast_arrays(np.atleast_1d(flow), np.atleast_1d(pressure))
            lo, hi = self.flow_range
            raise ValueError(f"no configuration can deliver {f[none][0]:g} cfm at "
                             f"{p[none][0]:g} psig (plant range {lo:g}..{hi:g} cfm)")
        names = np.array(self.configurations, dtype=object)
        return names[np.nanargmin(table, axis=0)]

    def oracle_config(self, flow: float, pressure: float) -> str:
        """The feasible configuration with the least true power."""
        return str(self.oracle_configs(np.array([flow]), np.array([pressure]))[0])

    def history(self, hours: float, seed: int, start: datetime | None = None,
                step_s: float = 60.0) -> list[dict]:
        """Telemetry rows (timestamp, flow, pressure, power, config) for `hours` ending now.

        The plant runs on the staging rule with operator exploration (see `telemetry.py`);
        readings carry meter noise and the wear of each sample's age. `start` (UTC) stamps the
        first row, default 2024-01-01T00:00Z; the last row is at the plant's current wear.
        """
        return history_batch(self, hours, seed, start, step_s).rows()


def _checked_boundaries(given: Mapping[str, tuple[float, float]],
                        derived: Mapping[str, tuple[float, float]]) -> dict[str, tuple[float, float]]:
    """Validate user-supplied boundaries: same configurations, lo < hi within capacity."""
    if set(given) != set(derived):
        raise ValueError(f"boundaries: configurations {sorted(given)} do not match the plant's "
                         f"{sorted(derived)}")
    out = {}
    for name, pair in given.items():
        try:
            lo, hi = (float(v) for v in pair)
        except (TypeError, ValueError):
            raise ValueError(f"boundaries[{name!r}]: expected [lo, hi] numbers, got {pair!r}") from None
        if not lo < hi:
            raise ValueError(f"boundaries[{name!r}]: lo {lo:g} must be below hi {hi:g}")
        if lo < derived[name][0] or hi > derived[name][1]:
            raise ValueError(f"boundaries[{name!r}]: [{lo:g}, {hi:g}] exceeds what the units "
                             f"can do {list(derived[name])}")
        out[name] = (lo, hi)
    return out
