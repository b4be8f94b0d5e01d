"""PowerModel: time split, estimator shape, artifact round trip and digest refusal."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xgboost as xgb

from edgeloop.components.digital_twin.model import PowerModel, time_split
from edgeloop.components.digital_twin.telemetry import TelemetryFrame
from edgeloop.errors import ArtifactError
from tests.kits import synthetic_plant as synthetic


def test_time_split_puts_strictly_later_rows_in_the_holdout():
    time = np.array([5, 1, 3, 3, 9, 7, 2, 8, 8, 4], dtype=float)
    train, test = time_split(time, 0.3)
    assert time[test].min() > time[train].max()
    assert test.sum() >= 3


def test_fit_holds_out_each_configurations_latest_rows(per_config_model, synthetic_frame):
    train = per_config_model.train_mask_
    for name in per_config_model.configurations_:
        rows = synthetic_frame.config == name
        assert synthetic_frame.time[rows & ~train].min() > synthetic_frame.time[rows & train].max()
        assert per_config_model.rows_[name]["test"] == int(np.sum(rows & ~train))


def test_estimator_shape_and_accuracy(per_config_model):
    model = per_config_model
    assert model.get_params()["n_estimators"] == 60
    assert model.configurations_ == synthetic.configs()
    flow = np.array([200.0, 300.0, 380.0])
    pressure = np.array([65.0, 70.0, 75.0])
    predicted = model.predict("c1c2", flow, pressure)
    assert predicted.dtype == np.float32 and predicted.shape == (3,)
    truth = synthetic.true_power("c1c2", flow, pressure)
    assert np.max(np.abs(predicted - truth)) < 3.0
    assert all(0.2 < mae < 3.0 for mae in model.test_mae_.values())
    with pytest.raises(ValueError, match="unknown configuration"):
        model.predict("c9c8", flow, pressure)


def test_unfitted_model_says_so():
    with pytest.raises(RuntimeError, match="not fitted"):
        PowerModel().predict("c1c2", [1.0], [2.0])


def test_save_load_round_trip_predicts_identically(per_config_model, saved_model):
    loaded = PowerModel.load(saved_model)
    flow = np.linspace(180, 460, 57)
    pressure = np.linspace(60, 80, 57)
    for name in per_config_model.configurations_:
        assert np.array_equal(loaded.predict(name, flow, pressure), per_config_model.predict(name, flow, pressure))
    assert loaded.test_mae_ == per_config_model.test_mae_
    assert loaded.boundaries_ == per_config_model.boundaries_
    files = sorted(p.name for p in saved_model.iterdir())
    assert "metadata.json" in files and all(f.endswith((".ubj", ".json")) for f in files)


def test_shared_layout_round_trip(shared_model, tmp_path):
    shared_model.save(tmp_path)
    loaded = PowerModel.load(tmp_path)
    assert loaded.layout == "shared" and (tmp_path / "power.ubj").exists()
    assert np.array_equal(loaded.predict("c2c3c4", [300.0], [70.0]), shared_model.predict("c2c3c4", [300.0], [70.0]))


def test_load_refuses_a_modified_model_file(per_config_model, tmp_path):
    per_config_model.save(tmp_path)
    target = tmp_path / "power-c1c3.ubj"
    other = xgb.train({"max_depth": 2}, xgb.DMatrix(np.ones((4, 2)), label=np.ones(4)), 2)
    target.write_bytes(bytes(other.save_raw("ubj")))
    with pytest.raises(ArtifactError, match="SHA-256 .* does not match"):
        PowerModel.load(tmp_path)


def test_load_refuses_missing_or_foreign_metadata(per_config_model, tmp_path):
    with pytest.raises(ArtifactError, match="metadata.json: missing"):
        PowerModel.load(tmp_path)
    per_config_model.save(tmp_path)
    meta = json.loads((tmp_path / "metadata.json").read_text())
    meta["files"]["../escape.ubj"] = "0" * 64
    (tmp_path / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="plain file name"):
        PowerModel.load(tmp_path)


def test_boundaries_default_to_the_observed_envelope(synthetic_frame):
    small = synthetic_frame.select(np.isin(synthetic_frame.config, ["c1c2", "c3c4"]))
    model = PowerModel(n_estimators=5).fit(small)
    lo, hi = model.boundaries_["c1c2"]
    rows = small.config == "c1c2"
    assert (lo, hi) == (small.flow[rows].min(), small.flow[rows].max())
    assert model.boundaries_source_.startswith("observed")


def test_fit_accepts_column_arrays():
    rows = synthetic.rows(300, configurations=["c1c2", "c1c3"])
    data = {"flow": [r["flow"] for r in rows], "pressure": [r["pressure"] for r in rows],
            "power": [r["power"] for r in rows], "config": [r["config"] for r in rows]}
    model = PowerModel(n_estimators=5).fit(data)
    assert model.configurations_ == ["c1c2", "c1c3"]
    assert TelemetryFrame.from_rows(rows).flow[0] == rows[0]["flow"]


def test_configurations_with_too_few_rows_are_skipped_not_fatal(synthetic_frame):
    rows = np.flatnonzero(synthetic_frame.config == "c2c3")[5:]
    keep = np.ones(len(synthetic_frame), dtype=bool)
    keep[rows] = False
    model = PowerModel(n_estimators=5).fit(synthetic_frame.select(keep))
    assert "c2c3" not in model.configurations_ and "5 rows" in model.skipped_["c2c3"]
    assert len(model.configurations_) == 10
