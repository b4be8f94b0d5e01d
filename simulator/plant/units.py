"""One compressor: its nameplate data and the physics of its power draw.

Public figures (DESIGN.md, "Compressed-air plant digital twin") drive every curve here:
full-load specific power 16-22 kW per 100 cfm; time-averaged load/unload P = x + (1 - x) u;
inlet modulation P = f0 + (1 - f0) x; VSD with 20-25 % turndown and 3-7 % drive loss;
adiabatic head ((p + pa)/pa)^0.283 - 1; capacity falls about 0.075 % per psi above rated.
All functions take numpy arrays and broadcast, so whole histories are computed at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

ATMOSPHERE_PSIA = 14.7
# Polytropic exponent term (k - 1)/k for air, as used in the adiabatic-head formula.
HEAD_EXPONENT = 0.283


class Control(StrEnum):
    """How a compressor follows demand below full load."""

    LOAD_UNLOAD = "load_unload"
    INLET_MODULATION = "inlet_modulation"
    VSD = "vsd"


# Which unit trims when several run together: the one whose part-load curve is flattest.
TRIM_PRIORITY = {Control.VSD: 0, Control.INLET_MODULATION: 1, Control.LOAD_UNLOAD: 2}


def adiabatic_head(pressure_psig: np.ndarray | float) -> np.ndarray:
    """Relative adiabatic compression work at a discharge pressure (psig), inlet at 1 atm."""
    ratio = (np.asarray(pressure_psig, dtype=float) + ATMOSPHERE_PSIA) / ATMOSPHERE_PSIA
    return ratio ** HEAD_EXPONENT - 1.0


@dataclass(frozen=True)
class Compressor:
    """Nameplate and curve parameters of one unit.

    `specific_power` is kW per 100 cfm at full load and rated pressure (for a VSD, of the
    air end, before the drive loss). `min_fraction` is the lowest load fraction at which the
    unit stays on-line in its normal mode: VSD minimum speed, the end of the modulation range,
    or the lowest duty a load/unload unit may run without exceeding its motor-start limit.
    `head_share` is the part of shaft power that scales with adiabatic head; the rest (motor,
    fan, friction) does not, which is why power rises only about 1 % per 2 psi.
    `wear_per_year` is the fractional rise in power per year of service (fouled separators,
    worn air ends).
    """

    name: str
    control: Control
    capacity_cfm: float
    specific_power: float
    rated_pressure: float = 65.0
    min_fraction: float = 0.4
    unload_fraction: float = 0.25
    modulation_f0: float = 0.68
    vsd_idle_fraction: float = 0.08
    drive_loss: float = 0.0
    head_share: float = 0.6
    capacity_derate_per_psi: float = 0.00075
    wear_per_year: float = 0.03

    def __post_init__(self) -> None:
        checks = {
            "capacity_cfm": self.capacity_cfm > 0,
            "specific_power": self.specific_power > 0,
            "min_fraction": 0 < self.min_fraction < 1,
            "unload_fraction": 0 <= self.unload_fraction < 1,
            "modulation_f0": 0 <= self.modulation_f0 < 1,
            "vsd_idle_fraction": 0 <= self.vsd_idle_fraction < 1,
            "drive_loss": 0 <= self.drive_loss < 0.5,
            "head_share": 0 < self.head_share <= 1,
            "wear_per_year": self.wear_per_year >= 0,
        }
        bad = [field for field, ok in checks.items() if not ok]
        if bad:
            raise ValueError(f"compressor {self.name!r}: invalid {', '.join(bad)}")

    @property
    def full_load_kw(self) -> float:
        """Full-load input power at rated pressure, including any drive loss."""
        return self.capacity_cfm * self.specific_power / 100.0 * (1.0 + self.drive_loss)

    def capacity(self, pressure: np.ndarray | float) -> np.ndarray:
        """Deliverable cfm at a discharge pressure: derated above rated, flat below."""
        above = np.maximum(np.asarray(pressure, dtype=float) - self.rated_pressure, 0.0)
        return self.capacity_cfm * (1.0 - self.capacity_derate_per_psi * above)

    def pressure_factor(self, pressure: np.ndarray | float) -> np.ndarray:
        """Full-load power at `pressure` relative to rated pressure."""
        head = adiabatic_head(pressure) / adiabatic_head(self.rated_pressure)
        return (1.0 - self.head_share) + self.head_share * head

    def part_load(self, x: np.ndarray) -> np.ndarray:
        """Fraction of full-load power drawn at load fraction x in [0, 1].

        Below the modulation range or the VSD's minimum speed the unit load/unloads between
        that point and unloaded, so the time average is linear between the two.
        """
        x = np.clip(np.asarray(x, dtype=float), 0.0, 1.0)
        u = self.unload_fraction
        if self.control is Control.LOAD_UNLOAD:
            return x + (1.0 - x) * u
        if self.control is Control.INLET_MODULATION:
            def curve(z: np.ndarray | float) -> np.ndarray:
                return self.modulation_f0 + (1.0 - self.modulation_f0) * np.asarray(z)
        else:
            def curve(z: np.ndarray | float) -> np.ndarray:
                return self.vsd_idle_fraction + (1.0 - self.vsd_idle_fraction) * np.asarray(z)
        m = self.min_fraction
        below = (x / m) * curve(m) + (1.0 - x / m) * u
        return np.where(x >= m, curve(x), below)

    def power(self, x: np.ndarray, pressure: np.ndarray,
              age_days: np.ndarray | float) -> np.ndarray:
        """kW drawn at load fraction x, discharge pressure and age (days in service)."""
        wear = 1.0 + self.wear_per_year * np.maximum(age_days, 0.0) / 365.0
        return self.full_load_kw * self.pressure_factor(pressure) * self.part_load(x) * wear
