"""The standard four-compressor plant as data: units, operating range, staging settings.

Sizes are chosen so the plant serves a factory whose demand runs from about 180 cfm (nights,
weekends) to about 450 cfm (day shift), the range the twin's offline grid covers. Two small and
two large units, four control types between them:

  c1  40 hp class  150 cfm  load/unload            18.5 kW/100 cfm, unloaded 25 %
  c2  40 hp class  150 cfm  inlet modulation       19.5 kW/100 cfm, f0 0.68
  c3  50 hp class  200 cfm  load/unload            17.0 kW/100 cfm, unloaded 30 %
  c4  50 hp class  200 cfm  VSD, 22 % turndown     16.8 kW/100 cfm air end + 4 % drive loss

Two-unit sets top out at 300-400 cfm, so day-shift peaks need a third unit; all units are
rated at 65 psig and derate above it.

`seed` gives each plant a little individuality (nameplate scatter of +-2 % in specific power,
wear of 2-5 % per year per unit), as two "identical" real plants differ.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .units import Compressor, Control

NOMINAL_UNITS: tuple[Compressor, ...] = (
    Compressor("c1", Control.LOAD_UNLOAD, capacity_cfm=150.0, specific_power=18.5,
               unload_fraction=0.25, min_fraction=0.40),
    Compressor("c2", Control.INLET_MODULATION, capacity_cfm=150.0, specific_power=19.5,
               modulation_f0=0.68, unload_fraction=0.25, min_fraction=0.40),
    Compressor("c3", Control.LOAD_UNLOAD, capacity_cfm=200.0, specific_power=17.0,
               unload_fraction=0.30, min_fraction=0.40),
    Compressor("c4", Control.VSD, capacity_cfm=200.0, specific_power=16.8,
               drive_loss=0.04, vsd_idle_fraction=0.08, unload_fraction=0.20, min_fraction=0.22),
)


@dataclass(frozen=True)
class PlantSpec:
    """Everything that defines a plant; the Plant derives boundaries and staging from it.

    `switch_margin`: the staging rule leaves a set once flow exceeds this share of its
    capacity (headroom for demand spikes). `age_days`: time in service at the plant's current
    wear state.
    """

    units: tuple[Compressor, ...]
    pressure_range: tuple[float, float] = (50.0, 75.0)
    switch_margin: float = 0.9
    age_days: float = 365.0

    def __post_init__(self) -> None:
        names = [u.name for u in self.units]
        if len(self.units) < 2 or len(set(names)) != len(names):
            raise ValueError(f"plant spec: need two or more uniquely named units, got {names}")
        lo, hi = self.pressure_range
        if not 0 <= lo < hi:
            raise ValueError(f"plant spec: pressure_range must be 0 <= lo < hi, got {lo, hi}")
        if not 0 < self.switch_margin <= 1:
            raise ValueError(f"plant spec: switch_margin must be in (0, 1], got {self.switch_margin}")


def default_spec(seed: int = 0) -> PlantSpec:
    """The standard plant with seeded nameplate scatter and wear rates."""
    rng = np.random.default_rng([seed, 0x5EC])
    units = tuple(
        replace(u, specific_power=round(u.specific_power * rng.uniform(0.98, 1.02), 3),
                wear_per_year=round(float(rng.uniform(0.02, 0.05)), 4))
        for u in NOMINAL_UNITS)
    return PlantSpec(units=units)
