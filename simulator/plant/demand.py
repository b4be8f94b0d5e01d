"""The factory's air demand and the discharge pressure it sees, over time.

Demand follows three shifts (day 06-14, evening 14-22, night 22-06, UTC) with lower levels at
weekends, half-hour ramps at shift changes and autocorrelated production noise (AR(1), the way
real plant data is autocorrelated hour to hour). Discharge pressure follows the operators'
setpoint (raised for production shifts, lowered nights and weekends, a common energy measure),
wanders within the control band (slow AR(1)) and rises with flow, because the controller holds
pressure at the far end of the header and piping loss grows with flow.

Generators keep their random state between calls, so a stream produced in chunks is one
continuous series.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import lfilter

WEEKDAY_OF_EPOCH = 3  # 1970-01-01 was a Thursday (Monday = 0)


@dataclass(frozen=True)
class DemandProfile:
    """Shift levels in cfm, noise, and the pressure schedule in psig."""

    weekday_levels: tuple[float, float, float] = (390.0, 330.0, 215.0)  # day, evening, night
    weekend_levels: tuple[float, float, float] = (250.0, 215.0, 195.0)
    shift_starts_h: tuple[float, float, float] = (6.0, 14.0, 22.0)
    ramp_h: float = 0.25
    noise_cfm: float = 18.0
    noise_tau_min: float = 45.0
    flow_limits: tuple[float, float] = (170.0, 460.0)
    setpoint_production: float = 68.0
    setpoint_off_shift: float = 60.0
    pressure_noise_psi: float = 2.5
    pressure_tau_min: float = 120.0
    pressure_per_cfm: float = 0.015
    pressure_reference_cfm: float = 300.0


def calendar(times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(hour of day as float, is-weekend) for datetime64 UTC times."""
    seconds = times.astype("datetime64[s]").astype(np.int64)
    days = np.floor_divide(seconds, 86400)
    hour = (seconds - days * 86400) / 3600.0
    weekday = (days + WEEKDAY_OF_EPOCH) % 7
    return hour, weekday >= 5


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(z / 2.0))


def shift_level(profile: DemandProfile, hour: np.ndarray,
                levels: tuple[np.ndarray | float, ...]) -> np.ndarray:
    """Blend shift levels with smooth ramps at each shift start (hour 0 is in the night shift)."""
    day, evening, night = levels
    s1, s2, s3 = (_sigmoid((hour - start) / profile.ramp_h) for start in profile.shift_starts_h)
    return night + (day - night) * s1 + (evening - day) * s2 + (night - evening) * s3


class Ar1:
    """Stationary AR(1) noise with a correlation time, continuous across calls."""

    def __init__(self, std: float, tau_s: float, step_s: float, rng: np.random.Generator):
        self.a = float(np.exp(-step_s / tau_s))
        self.scale = std * np.sqrt(1.0 - self.a ** 2)
        self.rng = rng
        self.last = float(rng.normal(0.0, std))

    def draw(self, n: int) -> np.ndarray:
        shocks = self.rng.normal(0.0, self.scale, n)
        out, _ = lfilter([1.0], [1.0, -self.a], shocks, zi=[self.a * self.last])
        if n:
            self.last = float(out[-1])
        return out


class Conditions:
    """True flow and discharge pressure for consecutive sample times."""

    def __init__(self, profile: DemandProfile, pressure_range: tuple[float, float],
                 step_s: float, rng: np.random.Generator) -> None:
        self.profile = profile
        self.pressure_range = pressure_range
        self.flow_noise = Ar1(profile.noise_cfm, profile.noise_tau_min * 60, step_s, rng)
        self.pressure_noise = Ar1(profile.pressure_noise_psi, profile.pressure_tau_min * 60,
                                  step_s, rng)

    def at(self, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        p = self.profile
        hour, weekend = calendar(times)
        levels = tuple(np.where(weekend, we, wd)
                       for wd, we in zip(p.weekday_levels, p.weekend_levels, strict=True))
        flow = shift_level(p, hour, levels) + self.flow_noise.draw(len(times))
        flow = np.clip(flow, *p.flow_limits)
        on, off = p.setpoint_production, p.setpoint_off_shift
        setpoint = np.where(weekend, off, shift_level(p, hour, (on, on, off)))
        pressure = (setpoint + self.pressure_noise.draw(len(times))
                    + p.pressure_per_cfm * (flow - p.pressure_reference_cfm))
        return flow, np.clip(pressure, *self.pressure_range)
