"""The lookup table answers bit-identically to XGBoost's own predict."""

from __future__ import annotations

import numpy as np
import xgboost as xgb

from edgeloop.components.digital_twin.lookup import PiecewiseTable, split_thresholds


def _points(rng, n=20000):
    flow = np.concatenate([rng.uniform(150, 480, n), rng.integers(180, 461, n).astype(float)])
    pressure = np.concatenate([rng.uniform(45, 85, n), rng.integers(50, 76, n).astype(float)])
    return flow, pressure


def test_table_is_bit_identical_to_booster_predict(per_config_model, shared_model):
    rng = np.random.default_rng(7)
    flow, pressure = _points(rng)
    for model in (per_config_model, shared_model):
        for name in ("c1c2", "c2c4", "c1c2c3c4"):
            table = model.lookup_table(name)
            booster = model.boosters_[name]
            expected = booster.predict(xgb.DMatrix(model.design_matrix(name, flow, pressure),
                                                   feature_names=model.feature_names_))
            got = table(flow, pressure)
            assert got.dtype == np.float32
            assert np.array_equal(got, expected), f"{model.layout} {name}"
            assert table.cells_predicted < len(flow)


def test_points_on_thresholds_and_their_neighbours(per_config_model):
    booster = per_config_model.boosters_["c1c3"]
    flow_t, pressure_t = split_thresholds(booster)
    assert len(flow_t) > 10 and len(pressure_t) > 10
    # exactly on, one float32 ulp below and one float64 step above every threshold
    below = np.nextafter(flow_t, np.float32(-np.inf)).astype(np.float64)
    above = np.nextafter(flow_t.astype(np.float64), np.inf)
    flow = np.concatenate([flow_t.astype(np.float64), below, above])
    pressure = np.resize(pressure_t.astype(np.float64), len(flow))
    table = per_config_model.lookup_table("c1c3")
    expected = booster.inplace_predict(np.column_stack([flow, pressure]))
    assert np.array_equal(table(flow, pressure), expected)


def test_constant_model_has_one_cell():
    booster = xgb.train({"max_depth": 1}, xgb.DMatrix(np.zeros((5, 2)), label=np.full(5, 3.0)), 3)
    flow_t, pressure_t = split_thresholds(booster)
    table = PiecewiseTable(flow_t, pressure_t, lambda f, p: booster.inplace_predict(np.column_stack([f, p])))
    assert table.shape == (1, 1)
    assert np.array_equal(table(np.array([1.0, 900.0]), np.array([5.0, 6.0])),
                          booster.inplace_predict(np.array([[1.0, 5.0], [900.0, 6.0]])))
