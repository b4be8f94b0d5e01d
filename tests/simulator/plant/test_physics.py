"""What a compressed-air engineer would check first: figures in range, curves with the right shape."""

from __future__ import annotations

import itertools
import json
from dataclasses import replace

import numpy as np
import pytest

from edgeloop.simulator.plant import Compressor, Control, Plant

CONTRACT_CONFIGS = ["c1c2", "c1c3", "c1c4", "c2c3", "c2c4", "c3c4",
                    "c1c2c3", "c1c2c4", "c1c3c4", "c2c3c4", "c1c2c3c4"]


@pytest.fixture(scope="module")
def plant() -> Plant:
    return Plant.default(seed=0)


@pytest.fixture(scope="module")
def new_plant(plant: Plant) -> Plant:
    """The same plant on its first day (no wear), for nameplate figures."""
    return Plant(replace(plant.spec, age_days=0.0))


def unit(plant: Plant, name: str) -> Compressor:
    return next(u for u in plant.spec.units if u.name == name)


def test_eleven_configurations_with_contract_names(plant: Plant) -> None:
    assert plant.configurations == CONTRACT_CONFIGS
    assert list(plant.boundaries) == CONTRACT_CONFIGS


def test_boundaries_follow_capacity_and_turndown(plant: Plant) -> None:
    for config, (lo, hi) in plant.boundaries.items():
        units = [u for u in plant.spec.units if u.name in config]
        assert lo == pytest.approx(sum(u.min_fraction * u.capacity_cfm for u in units), abs=1)
        assert hi == pytest.approx(sum(u.capacity_cfm for u in units) * (1 - 0.00075 * 10), abs=1)
    # Two-unit sets top out below the day-shift peak; bigger sets reach it.
    assert max(hi for c, (_, hi) in plant.boundaries.items() if len(c) == 4) < 420
    assert all(hi >= 460 for c, (_, hi) in plant.boundaries.items() if len(c) > 4)


def test_boundaries_json_is_the_contract_file(plant: Plant, tmp_path) -> None:
    path = tmp_path / "boundaries.json"
    plant.write_boundaries(path)
    data = json.loads(path.read_text())
    assert list(data) == CONTRACT_CONFIGS
    assert all(isinstance(v, list) and len(v) == 2 and v[0] < v[1] for v in data.values())
    assert {k: tuple(v) for k, v in data.items()} == plant.boundaries


def test_full_load_specific_power_is_16_to_22_kw_per_100_cfm(new_plant: Plant) -> None:
    for u in new_plant.spec.units:
        kw = float(u.power(1.0, u.rated_pressure, age_days=0.0))
        assert 16.0 <= kw / u.capacity_cfm * 100 <= 22.0, u.name
    for config, (_, hi) in new_plant.boundaries.items():  # whole sets near full load
        kw = float(new_plant.true_power(config, hi, 65.0))
        assert 16.0 <= kw / hi * 100 <= 22.5, config


def test_power_rises_about_one_percent_per_two_psi(plant: Plant) -> None:
    flow = np.linspace(200.0, 380.0, 10)
    for config in ("c1c2", "c3c4", "c1c3c4"):
        lo, hi = plant.boundaries[config]
        f = flow[(flow > lo) & (flow < hi - 5)]
        for p in (50.0, 60.0, 70.0):
            rise = plant.true_power(config, f, p + 2.0) / plant.true_power(config, f, p) - 1
            assert np.all((rise > 0.007) & (rise < 0.015)), (config, p, rise)


def test_capacity_derates_above_rated_pressure_only(plant: Plant) -> None:
    c3 = unit(plant, "c3")
    assert float(c3.capacity(55.0)) == c3.capacity_cfm
    assert float(c3.capacity(c3.rated_pressure + 10)) == pytest.approx(c3.capacity_cfm * 0.9925)
    # A set that can just deliver a flow at rated pressure cannot at a much higher pressure.
    hi = plant.boundaries["c3c4"][1]
    assert np.isfinite(plant.true_power("c3c4", hi, 65.0))
    assert np.isnan(plant.true_power("c3c4", hi, 90.0))


def test_part_load_curves_per_control_type(plant: Plant) -> None:
    c1, c2, c4 = unit(plant, "c1"), unit(plant, "c2"), unit(plant, "c4")
    assert c1.control is Control.LOAD_UNLOAD and c2.control is Control.INLET_MODULATION
    assert c4.control is Control.VSD
    x = np.linspace(0.0, 1.0, 11)
    # Load/unload, time averaged: P = x + (1 - x) u; unloaded it still draws u.
    np.testing.assert_allclose(c1.part_load(x), x + (1 - x) * c1.unload_fraction)
    assert 0.15 <= c1.unload_fraction <= 0.35
    # Inlet modulation: P = f0 + (1 - f0) x over its modulation range; f0 about 0.65-0.70.
    xm = np.linspace(c2.min_fraction, 1.0, 7)
    np.testing.assert_allclose(c2.part_load(xm), c2.modulation_f0 + (1 - c2.modulation_f0) * xm)
    assert 0.65 <= c2.modulation_f0 <= 0.70
    assert float(c2.part_load(0.5)) > float(c1.part_load(0.5))  # modulation wastes more at 50 %
    # VSD: nearly proportional down to its minimum speed (20-25 % turndown), then load/unload.
    assert 0.20 <= c4.min_fraction <= 0.25 and 0.03 <= c4.drive_loss <= 0.07
    assert float(c4.part_load(0.5)) < 0.56
    m = c4.min_fraction
    below = np.linspace(0.0, m, 5)
    expected = np.interp(below, [0.0, m], [c4.unload_fraction, float(c4.part_load(m))])
    np.testing.assert_allclose(c4.part_load(below), expected)


def test_vsd_beats_load_unload_at_part_load_but_not_at_full_load(plant: Plant) -> None:
    c3, c4 = unit(plant, "c3"), unit(plant, "c4")
    assert c3.capacity_cfm == c4.capacity_cfm
    for x in (0.3, 0.5, 0.7):
        assert float(c4.power(x, 65.0, 0.0)) < float(c3.power(x, 65.0, 0.0)), x
    assert float(c4.power(0.3, 65.0, 0.0)) < 0.8 * float(c3.power(0.3, 65.0, 0.0))
    assert float(c4.power(1.0, 65.0, 0.0)) > float(c3.power(1.0, 65.0, 0.0))  # drive loss
    # Whole sets of equal capacity at low flow: a VSD trim beats a load/unload trim.
    flow = np.linspace(180.0, 230.0, 6)
    assert np.all(plant.true_power("c1c4", flow, 65.0) < plant.true_power("c1c3", flow, 65.0))


def test_nan_outside_boundaries_and_clear_error_for_unknown_config(plant: Plant) -> None:
    for config, (lo, hi) in plant.boundaries.items():
        power = plant.true_power(config, np.array([lo - 1, lo, (lo + hi) / 2, hi, hi + 1]), 60.0)
        assert np.isnan(power[[0, 4]]).all() and np.isfinite(power[1:4]).all(), config
    with pytest.raises(ValueError, match="c5c6.*c1c2"):
        plant.true_power("c5c6", np.array([300.0]), np.array([60.0]))


def test_true_power_is_vectorised_over_flow_and_pressure(plant: Plant) -> None:
    flow, pressure = np.meshgrid(np.linspace(180, 380, 21), np.linspace(50, 75, 6))
    grid = plant.true_power("c3c4", flow, pressure)
    assert grid.shape == flow.shape
    pointwise = [float(plant.true_power("c3c4", f, p)) for f, p in zip(flow.ravel(), pressure.ravel(), strict=False)]
    np.testing.assert_allclose(grid.ravel(), pointwise)
    assert np.all(np.diff(grid, axis=1) > 0) and np.all(np.diff(grid, axis=0) > 0)


def test_oracle_never_worse_than_staging_and_strictly_better_somewhere(plant: Plant) -> None:
    flow, pressure = (a.ravel() for a in np.meshgrid(np.arange(180.0, 451.0, 5.0),
                                                     np.arange(50.0, 75.1, 2.5)))
    table = plant.power_table(flow, pressure)
    names = plant.configurations
    staging = plant.staging_configs(flow)
    oracle = plant.oracle_configs(flow, pressure)
    cols = np.arange(len(flow))
    p_stage = table[[names.index(c) for c in staging], cols]
    p_oracle = table[[names.index(c) for c in oracle], cols]
    assert np.isfinite(p_stage).all(), "the staging rule picked an infeasible set"
    np.testing.assert_allclose(p_oracle, np.nanmin(table, axis=0))
    assert np.all(p_oracle <= p_stage)
    regret = (p_stage - p_oracle) / p_oracle
    assert regret.max() > 0.10 and 0.03 < regret.mean() < 0.30
    assert plant.oracle_config(300.0, 65.0) == oracle[np.flatnonzero((flow == 300) & (pressure == 65))[0]]


def test_staging_is_a_flow_switch_point_table(plant: Plant) -> None:
    table = plant.staging.table()
    lo, hi = plant.flow_range
    assert table[0][0] == lo and table[-1][1] == hi
    assert all(a[1] == b[0] for a, b in itertools.pairwise(table))
    for a, b, config in table:
        mid = (a + b) / 2
        assert plant.staging_config(mid, 50.0) == plant.staging_config(mid, 75.0) == config
    # As flow rises the rule moves to sets of more capacity.
    his = [plant.boundaries[c][1] for _, _, c in table]
    assert his[1:] == sorted(his[1:])
    with pytest.raises(ValueError, match="outside every configuration"):
        plant.staging_config(hi + 10, 60.0)
    with pytest.raises(ValueError, match="no configuration"):
        plant.oracle_config(lo - 10, 60.0)


def test_wear_raises_power_over_months(plant: Plant) -> None:
    flow = np.linspace(200.0, 380.0, 10)
    later = plant.aged(180)
    for config in ("c1c2", "c3c4", "c1c2c3c4"):
        lo, hi = plant.boundaries[config]
        f = flow[(flow >= lo) & (flow <= hi)]
        ratio = later.true_power(config, f, 65.0) / plant.true_power(config, f, 65.0)
        assert np.all((ratio > 1.005) & (ratio < 1.03)), (config, ratio)
    assert later.boundaries == plant.boundaries


def test_seed_gives_a_reproducible_individual_plant() -> None:
    a, b, c = Plant.default(0), Plant.default(0), Plant.default(1)
    assert a.spec == b.spec and a.spec != c.spec
    ratio = c.true_power("c3c4", 300.0, 65.0) / a.true_power("c3c4", 300.0, 65.0)
    assert 0.95 < float(ratio) < 1.05 and float(ratio) != 1.0


def test_bad_boundaries_are_rejected_with_the_field_named(plant: Plant) -> None:
    bad = dict(plant.boundaries)
    bad["c1c2"] = (300.0, 200.0)
    with pytest.raises(ValueError, match=r"boundaries\['c1c2'\]"):
        Plant(plant.spec, bad)
    with pytest.raises(ValueError, match="do not match"):
        Plant(plant.spec, {"c1c2": (180.0, 290.0)})
    narrower = dict(plant.boundaries, c1c2=(180.0, 290.0))
    assert Plant(plant.spec, narrower).boundaries["c1c2"] == (180.0, 290.0)
