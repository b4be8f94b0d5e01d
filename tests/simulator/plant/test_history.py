"""Telemetry history: the demand a factory shows, every set in the data, noise and wear drift."""

from __future__ import annotations

import csv
import itertools
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from edgeloop.simulator.plant import CSV_HEADER, Plant
from edgeloop.simulator.plant.demand import calendar
from edgeloop.simulator.plant.telemetry import history_batch, write_csv_file


@pytest.fixture(scope="module")
def plant() -> Plant:
    return Plant.default(seed=0)


@pytest.fixture(scope="module")
def month(plant: Plant):
    return history_batch(plant, hours=24 * 28, seed=7)


def test_rows_have_contract_keys_and_one_minute_timestamps(plant: Plant) -> None:
    start = datetime(2024, 3, 4, 6, 30, tzinfo=UTC)
    rows = plant.history(hours=2, seed=1, start=start)
    assert len(rows) == 120
    assert all(set(r) == {"timestamp", "flow", "pressure", "power", "config"} for r in rows)
    stamps = [datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00")) for r in rows]
    assert stamps[0] == start and all(r["timestamp"].endswith("Z") for r in rows)
    assert all(b - a == timedelta(minutes=1) for a, b in itertools.pairwise(stamps))
    assert all(r["config"] in plant.configurations for r in rows)
    assert all(isinstance(r[k], float) for r in rows for k in ("flow", "pressure", "power"))
    with pytest.raises(ValueError, match="timezone"):
        plant.history(hours=1, seed=1, start=datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="hours"):
        plant.history(hours=-1, seed=1)


def test_same_seed_same_history_other_seed_other_history(plant: Plant) -> None:
    assert plant.history(hours=3, seed=5) == plant.history(hours=3, seed=5)
    assert plant.history(hours=3, seed=5) != plant.history(hours=3, seed=6)


def test_demand_is_lower_at_night_and_at_weekends(month) -> None:
    hour, weekend = calendar(month.times)
    day = ~weekend & (hour >= 7) & (hour < 13)
    night = ~weekend & ((hour >= 23) | (hour < 5))
    assert month.flow[day].mean() > month.flow[night].mean() + 100
    assert month.flow[day].mean() > month.flow[weekend].mean() + 100
    assert 160 <= month.flow.min() and month.flow.max() <= 475  # demand limits + meter noise
    assert 50 - 1 <= month.pressure.min() and month.pressure.max() <= 75 + 1
    assert month.pressure.std() > 2  # pressure varies, so the twin can learn its effect


def test_staging_runs_the_plant_and_exploration_covers_every_configuration(plant: Plant,
                                                                            month) -> None:
    configs, counts = np.unique(month.config.astype(str), return_counts=True)
    assert set(configs) == set(plant.configurations)
    staging = plant.staging_configs(np.clip(month.flow, *plant.flow_range))
    follows = np.mean(staging == month.config)
    assert 0.5 < follows < 0.9  # mostly the staging rule, sometimes another set
    for name in plant.configurations:  # every row's set could deliver its (true) flow
        mask = month.config == name
        assert np.isfinite(month.true_power[mask]).all(), name


def test_meters_are_noisy_but_unbiased(plant: Plant, month) -> None:
    rel = month.power / month.true_power - 1
    assert 0.003 < rel.std() < 0.02
    assert abs(rel.mean()) < 0.002


def test_wear_drift_raises_power_over_months(plant: Plant) -> None:
    """Judged against the plant as it was when the history began, late power reads higher."""
    days = 240
    batch = history_batch(plant, hours=24 * days, seed=3, step_s=600)
    then = plant.aged(-days)
    expected = np.full(len(batch), np.nan)
    for config in set(batch.config):
        rows = batch.config == config
        expected[rows] = then.true_power(config, batch.flow[rows], batch.pressure[rows])
    ratio = batch.power / expected
    first = np.nanmean(ratio[: len(ratio) // 8])
    last = np.nanmean(ratio[-len(ratio) // 8:])
    assert last - first > 0.01


def test_csv_history_header_and_columns(plant: Plant, tmp_path) -> None:
    batch = history_batch(plant, hours=5, seed=2)
    path = tmp_path / "history.csv"
    write_csv_file(batch, path)
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        rows = list(reader)
    assert header == list(CSV_HEADER) == ["timestamp", "flow", "pressure", "power", "config"]
    assert len(rows) == 300
    for (ts, flow, pressure, power, config), expected in zip(rows, batch.rows(), strict=False):
        assert ts == expected["timestamp"]
        assert (float(flow), float(pressure), float(power)) == (
            expected["flow"], expected["pressure"], expected["power"])
        assert config == expected["config"]
