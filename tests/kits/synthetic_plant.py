"""A small physically plausible compressor plant for twin tests that must not depend on the plant
simulator: load/unload units sharing flow in proportion to capacity, power rising with discharge
pressure by the adiabatic law. Not a fake of our code - just a data source with known physics."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import numpy as np

CAPACITY = {1: 190.0, 2: 200.0, 3: 235.0, 4: 245.0}  # cfm at full load
SPECIFIC = {1: 19.0, 2: 18.0, 3: 20.5, 4: 17.0}      # kW per 100 cfm at full load, 100 psig
UNLOADED = {1: 0.25, 2: 0.30, 3: 0.20, 4: 0.28}      # unloaded power fraction


def _pressure_factor(p):
    pa = 14.7
    return (((np.asarray(p) + pa) / pa) ** 0.283 - 1.0) / (((100.0 + pa) / pa) ** 0.283 - 1.0)


def configs() -> list[str]:
    return ["".join(f"c{u}" for u in combo) for size in (2, 3, 4)
            for combo in itertools.combinations(range(1, 5), size)]


def boundaries() -> dict[str, list[float]]:
    return {name: [180.0, 390.0] if len(name) == 4 else [180.0, 460.0] for name in configs()}


def true_power(config: str, flow, pressure):
    units = [int(c) for c in config.split("c")[1:]]
    total_cap = sum(CAPACITY[u] for u in units)
    flow = np.asarray(flow, dtype=float)
    power = np.zeros_like(flow)
    for u in units:
        x = np.clip(flow * CAPACITY[u] / total_cap / CAPACITY[u], 0.0, 1.0)
        full = SPECIFIC[u] * CAPACITY[u] / 100.0
        power = power + full * (x + (1.0 - x) * UNLOADED[u])
    return power * _pressure_factor(pressure)


def rows(n: int = 3000, seed: int = 0, configurations: list[str] | None = None, noise: float = 0.5):
    """Telemetry rows, one a minute, every configuration run in turns of 30 minutes."""
    rng = np.random.default_rng(seed)
    names = configurations or configs()
    start = datetime(2024, 1, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        name = names[(i // 30) % len(names)]
        lo, hi = boundaries()[name]
        flow = float(rng.uniform(lo, hi))
        pressure = float(rng.uniform(60.0, 80.0))
        power = float(true_power(name, flow, pressure) + rng.normal(0.0, noise))
        out.append({"timestamp": (start + timedelta(minutes=i)).isoformat().replace("+00:00", "Z"),
                    "flow": round(flow, 2), "pressure": round(pressure, 2), "power": round(power, 3),
                    "config": name})
    return out


def write_csv(path, data) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("timestamp,flow,pressure,power,config\n")
        for r in data:
            handle.write(f"{r['timestamp']},{r['flow']},{r['pressure']},{r['power']},{r['config']}\n")
