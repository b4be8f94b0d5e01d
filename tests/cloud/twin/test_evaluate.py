"""Evaluation against the plant simulator's oracle: metric definitions and the targets."""

from __future__ import annotations

import numpy as np
import pytest

from edgeloop.cloud.twin.evaluate import evaluate, reference_grid, simulate
from edgeloop.components.digital_twin.model import PowerModel
from edgeloop.components.digital_twin.telemetry import TelemetryFrame
from edgeloop.simulator.plant import Plant


@pytest.fixture(scope="module")
def plant_and_model():
    plant = Plant.default(0)
    frame = TelemetryFrame.from_rows(plant.history(hours=336, seed=1))
    return plant, PowerModel(layout="shared", n_estimators=200).fit(frame, plant.boundaries)


def test_reference_grid_shape():
    grid = reference_grid()
    assert len(grid) == 14 * 5
    assert grid[0].flow == (180, 200) and grid[-1].flow == (440, 460)
    assert grid[0].pressure == (50, 55) and grid[-1].pressure == (70, 75)
    assert {r.simulations for r in grid} == {100} and {r.no_of_trials for r in grid} == {10}


def test_simulate_is_seeded(plant_and_model):
    _, model = plant_and_model
    grid = reference_grid()[:6]
    assert [r.answer() for r in simulate(model, grid, seed=2)] == [r.answer() for r in simulate(model, grid, seed=2)]


def test_trained_twin_meets_the_targets_against_the_oracle(plant_and_model):
    plant, model = plant_and_model
    result = evaluate(model, plant, seed=0)
    assert result.infeasible == 0 and result.unanswered == 0
    assert result.mean_regret_pct <= 1.0
    assert result.savings_capture >= 0.90
    assert all(result.meets_targets().values())
    # definitions: the oracle is a lower bound and the staging rule leaves something to save
    assert all(o.oracle_kw <= o.twin_kw + 1e-9 and o.oracle_kw <= o.baseline_kw + 1e-9 for o in result.outcomes)
    assert result.baseline_savings_pct > 1.0


def test_a_twin_that_always_picks_the_biggest_set_scores_worse(plant_and_model):
    """The metrics respond to bad choices: force every answer to c1c2c3c4."""
    plant, model = plant_and_model
    rankings = simulate(model, seed=0)
    for ranking in rankings:
        ranking.ranked.sort(key=lambda r: r.config != "c1c2c3c4")
    bad = evaluate(model, plant, rankings=rankings)
    good = evaluate(model, plant, seed=0)
    assert bad.mean_regret_pct > good.mean_regret_pct + 1.0
    assert bad.savings_capture < good.savings_capture
    assert np.isfinite(bad.mean_regret_pct)
