"""A configuration (the set of running compressors) and how its sequencer shares the load.

Sequencer (documented choice, what a typical master controller does): the unit with the
flattest part-load curve trims (VSD before inlet modulation before load/unload; among equals the
smaller unit, to keep load/unload cycling cheap); every other unit base-loads at full capacity.
When the remainder is smaller than the trim unit's minimum, the trim unit holds its minimum and
the base units unload in a pressure-band cascade, modelled as a time-averaged share in
proportion to their capacity. This sharing is what makes sets of the same capacity differ in
efficiency at the same flow: a VSD trim follows demand almost in proportion, a load/unload trim
wastes its unloaded power.

Feasible flow range of a set ("boundary"): from the sum of the units' minimum flows (below it
a unit would idle unloaded and the controller would stop it, so that set is not what runs) to
the sum of their capacities at the highest operating pressure (so the set can deliver it anywhere
in the operating range).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .units import TRIM_PRIORITY, Compressor


def set_name(units: Sequence[Compressor]) -> str:
    """Contract name of a set: unit names concatenated in ascending order, e.g. "c1c2c4"."""
    return "".join(sorted(u.name for u in units))


def all_sets(units: Sequence[Compressor], min_units: int = 2) -> list[tuple[Compressor, ...]]:
    """Every combination of `min_units` or more units, smaller sets first, then by name."""
    ordered = sorted(units, key=lambda u: u.name)
    return [combo for size in range(min_units, len(ordered) + 1)
            for combo in itertools.combinations(ordered, size)]


def derive_boundary(units: Sequence[Compressor], max_pressure: float) -> tuple[float, float]:
    """Feasible [lo, hi] in cfm, rounded inwards to whole cfm."""
    lo = sum(u.min_fraction * u.capacity_cfm for u in units)
    hi = sum(float(u.capacity(max_pressure)) for u in units)
    return float(math.ceil(lo - 1e-9)), float(math.floor(hi + 1e-9))


@dataclass(frozen=True)
class CompressorSet:
    """Running units plus their feasible flow range; computes the set's true power."""

    units: tuple[Compressor, ...]
    boundary: tuple[float, float]

    @property
    def name(self) -> str:
        return set_name(self.units)

    @property
    def trim(self) -> Compressor:
        return min(self.units, key=lambda u: (TRIM_PRIORITY[u.control], u.capacity_cfm, u.name))

    def power(self, flow: np.ndarray, pressure: np.ndarray,
              age_days: np.ndarray | float) -> np.ndarray:
        """Noise-free kW; NaN where the set cannot (or would not) deliver the flow."""
        flow, pressure = np.broadcast_arrays(np.asarray(flow, dtype=float),
                                             np.asarray(pressure, dtype=float))
        trim = self.trim
        base = [u for u in self.units if u is not trim]
        trim_cap = trim.capacity(pressure)
        base_cap = sum((u.capacity(pressure) for u in base), np.zeros_like(pressure))
        trim_min = trim.min_fraction * trim_cap
        residual = flow - base_cap
        trims_alone = residual >= trim_min
        with np.errstate(divide="ignore", invalid="ignore"):
            x_trim = np.where(trims_alone, residual / trim_cap, trim.min_fraction)
            x_base = np.where(trims_alone, 1.0, (flow - trim_min) / base_cap)
        total = trim.power(x_trim, pressure, age_days)
        for unit in base:
            total = total + unit.power(x_base, pressure, age_days)
        lo, hi = self.boundary
        infeasible = ((flow < lo) | (flow > hi) | (flow > trim_cap + base_cap)
                      | ~np.isfinite(flow) | ~np.isfinite(pressure) | (pressure < 0))
        return np.where(infeasible, np.nan, total)
