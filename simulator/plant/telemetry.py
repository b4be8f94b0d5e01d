"""Telemetry as the plant's meters would record it: demand, operation, noise and wear.

Operation: the switch-point staging rule runs the plant, except that operators sometimes run
another set for a few hours (maintenance on a unit, rotating run hours, trials). Each block of
`block_h` hours is, with probability `probability`, assigned a configuration drawn uniformly
from all of them; while the flow lies inside that set's boundary it runs, otherwise the staging
rule takes over. This is how a real plant's history comes to contain every configuration, and it
gives the twin training data for sets the staging rule never picks.

Measurements: flow, pressure and power carry independent Gaussian meter noise; power includes
the units' slow wear at each sample's age, so a long history drifts upwards.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import numpy as np

from .demand import Conditions, DemandProfile

if TYPE_CHECKING:
    from .plant import Plant

CSV_HEADER = ("timestamp", "flow", "pressure", "power", "config")
# Deterministic default start of a history: a Monday, midnight UTC.
DEFAULT_START = datetime(2024, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class SensorNoise:
    """Standard deviations of the meters (flow relative, pressure psi, power relative + kW)."""

    flow_rel: float = 0.01
    pressure_psi: float = 0.25
    power_rel: float = 0.005
    power_kw: float = 0.2


@dataclass(frozen=True)
class Exploration:
    """How often operators run a set other than the staging rule's choice."""

    block_h: float = 3.0
    probability: float = 0.35


@dataclass
class Batch:
    """Consecutive telemetry samples as arrays (one entry per sample)."""

    times: np.ndarray  # datetime64[ms], UTC
    flow: np.ndarray
    pressure: np.ndarray
    power: np.ndarray
    config: np.ndarray  # object array of configuration names
    true_power: np.ndarray = field(repr=False)

    def __len__(self) -> int:
        return len(self.times)

    def timestamps(self) -> list[str]:
        """ISO-8601 UTC strings with a trailing Z."""
        return [f"{t}Z" for t in np.datetime_as_string(self.times, unit="s")]

    def rows(self) -> list[dict]:
        return [{"timestamp": ts, "flow": float(f), "pressure": float(p), "power": float(w),
                 "config": str(c)}
                for ts, f, p, w, c in zip(self.timestamps(), self.flow, self.pressure,
                                          self.power, self.config, strict=True)]


def to_datetime64(moment: datetime) -> np.datetime64:
    """A timezone-aware datetime as numpy UTC; naive datetimes are rejected, not guessed."""
    if moment.tzinfo is None:
        raise ValueError(f"start time {moment.isoformat()} has no timezone; pass UTC")
    utc = moment.astimezone(UTC).replace(tzinfo=None)
    return np.datetime64(utc, "ms")


class TelemetrySource:
    """Produces consecutive batches from `start`; the plant ages as simulated time passes."""

    def __init__(self, plant: Plant, start: datetime, seed: int, step_s: float = 60.0,
                 age_start_days: float | None = None, profile: DemandProfile | None = None,
                 noise: SensorNoise | None = None, exploration: Exploration | None = None):
        if not (np.isfinite(step_s) and step_s > 0):
            raise ValueError(f"step_s must be a positive number of seconds, got {step_s!r}")
        self.plant = plant
        self.start = to_datetime64(start)
        self.step_ms = int(round(step_s * 1000))
        self.age_start = plant.age_days if age_start_days is None else age_start_days
        self.noise = noise or SensorNoise()
        self.exploration = exploration or Exploration()
        self.rng = np.random.default_rng([seed, 0x7E1E])
        self.conditions = Conditions(profile or DemandProfile(), plant.pressure_range,
                                     step_s, self.rng)
        self.index = 0
        self._blocks: dict[int, str | None] = {}

    def _explored(self, blocks: np.ndarray) -> np.ndarray:
        configs = self.plant.configurations
        for block in np.unique(blocks):
            if int(block) not in self._blocks:
                explore = self.rng.random() < self.exploration.probability
                pick = configs[int(self.rng.integers(len(configs)))]
                self._blocks[int(block)] = pick if explore else None
        for old in [b for b in self._blocks if b < int(blocks.min())]:
            del self._blocks[old]
        return np.array([self._blocks[int(b)] or "" for b in blocks], dtype=object)

    def next(self, n: int) -> Batch:
        """The next n samples."""
        idx = np.arange(self.index, self.index + n, dtype=np.int64)
        self.index += n
        offsets_ms = idx * self.step_ms
        times = self.start + offsets_ms.astype("timedelta64[ms]")
        age = self.age_start + offsets_ms / 86_400_000.0
        flow, pressure = self.conditions.at(times)

        config = self.plant.staging_configs(flow)
        blocks = offsets_ms // int(self.exploration.block_h * 3_600_000)
        wanted = self._explored(blocks)
        power = np.full(n, np.nan)
        for name in set(wanted) - {""}:
            mask = wanted == name
            power[mask] = self.plant.power_at_age(name, flow[mask], pressure[mask], age[mask])
        runs_wanted = np.isfinite(power)
        config = np.where(runs_wanted, wanted, config)
        for name in set(config[~runs_wanted]):
            mask = ~runs_wanted & (config == name)
            power[mask] = self.plant.power_at_age(name, flow[mask], pressure[mask], age[mask])

        nz = self.noise
        meas_flow = flow * (1 + nz.flow_rel * self.rng.standard_normal(n))
        meas_pressure = pressure + nz.pressure_psi * self.rng.standard_normal(n)
        meas_power = (power * (1 + nz.power_rel * self.rng.standard_normal(n))
                      + nz.power_kw * self.rng.standard_normal(n))
        return Batch(times=times, flow=np.round(meas_flow, 1),
                     pressure=np.round(meas_pressure, 2), power=np.round(meas_power, 2),
                     config=config, true_power=power)


def history_batch(plant: Plant, hours: float, seed: int, start: datetime | None = None,
                  step_s: float = 60.0) -> Batch:
    """`hours` of telemetry ending at the plant's current wear state."""
    if not (np.isfinite(hours) and hours > 0):
        raise ValueError(f"hours must be a positive number, got {hours!r}")
    if not (np.isfinite(step_s) and step_s > 0):
        raise ValueError(f"step_s must be a positive number of seconds, got {step_s!r}")
    n = int(round(hours * 3600.0 / step_s))
    if n < 1:
        raise ValueError(f"hours={hours} is shorter than one sample of {step_s} s")
    source = TelemetrySource(plant, start or DEFAULT_START, seed, step_s,
                             age_start_days=plant.age_days - hours / 24.0)
    return source.next(n)


def write_csv(batch: Batch, out: TextIO) -> None:
    """Write the contract CSV (header `timestamp,flow,pressure,power,config`)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(zip(batch.timestamps(), batch.flow.tolist(), batch.pressure.tolist(),
                         batch.power.tolist(), batch.config.tolist(), strict=True))


def write_csv_file(batch: Batch, path: str | Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as out:
        write_csv(batch, out)
