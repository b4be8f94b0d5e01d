"""EcgClassifier: fitting, the sensitivity-chosen forwarding threshold, and the verified artifact."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from edgeloop.components.ecg_prefilter.classifier import (
    MODEL_FILE,
    EcgClassifier,
    encode_labels,
    threshold_for,
)
from edgeloop.components.ecg_prefilter.features import FEATURE_NAMES
from edgeloop.contracts.ecg import LABELS
from edgeloop.errors import ArtifactError, NotFittedError


def test_threshold_for_forwards_the_target_share_of_abnormal_scores() -> None:
    scores = np.array([0.05, 0.1, 0.2, 0.3, 0.4, 0.6, 0.7, 0.8, 0.9, 0.95])
    abnormal = np.array([0, 0, 1, 1, 1, 1, 1, 1, 1, 1], dtype=bool)      # 8 abnormal windows
    # 7 of 8 must be forwarded: the 7th highest abnormal score, 0.3
    assert threshold_for(scores, abnormal, 7 / 8) == pytest.approx(0.3)
    assert np.mean(scores[abnormal] >= 0.3) >= 7 / 8
    # never above 0.5 (the arg-max point) even when every abnormal score is high
    assert threshold_for(scores, scores > 0.55, 0.5) == 0.5
    assert threshold_for(scores, np.zeros(10, bool), 0.99) == 0.5


def test_fitted_screener_separates_validation_windows(tiny_model) -> None:
    model, val = tiny_model.model, tiny_model.validation
    verdicts = model.decide(val.X)
    forwarded = np.array([v.forward for v in verdicts])
    abnormal = val.y != "normal"
    assert forwarded[abnormal].mean() >= model.target_sensitivity
    assert forwarded[~abnormal].mean() <= 0.10          # a small model: the full one forwards 0 %
    for v in verdicts:
        assert set(v.probabilities) == set(LABELS)
        assert sum(v.probabilities.values()) == pytest.approx(1.0, abs=1e-5)
        assert v.score == pytest.approx(1 - v.probabilities["normal"], abs=1e-6)
        assert v.forward == (v.score >= model.threshold_)
        assert (v.label == "normal") == (not v.forward)
    assert list(model.predict(val.X[:3])) == [v.label for v in verdicts[:3]]


def test_threshold_is_lowered_until_hard_abnormal_windows_are_forwarded(tiny_model) -> None:
    """Validation windows that look normal but are labelled abnormal pull the threshold down."""
    model, val = tiny_model.model, tiny_model.validation
    normal_rows = val.X[val.y == "normal"]
    hard = np.vstack([val.X[val.y != "normal"], normal_rows[:2]])
    hard_y = np.concatenate([val.y[val.y != "normal"], ["af", "af"]])
    refit = EcgClassifier(**{**model.get_params(), "n_estimators": 40,
                             "target_sensitivity": 1.0}).fit(val.X, val.y, X_val=hard, y_val=hard_y)
    scores = refit.scores(hard)
    assert refit.threshold_ <= scores[-2:].min() + 1e-12
    assert refit.threshold_ < 0.5
    assert all(v.forward for v in refit.decide(hard))


def test_fit_refuses_bad_training_data(tiny_model) -> None:
    X = tiny_model.validation.X
    with pytest.raises(ValueError, match="normal and non-normal"):
        EcgClassifier(n_estimators=2).fit(X[:5], ["normal"] * 5)
    with pytest.raises(ValueError, match="'vfib'"):
        encode_labels(["normal", "vfib"])
    with pytest.raises(ValueError, match=f"{len(FEATURE_NAMES)} features"):
        EcgClassifier(n_estimators=2).fit(X[:, :5], tiny_model.validation.y)
    with pytest.raises(ValueError, match="rows but y has"):
        EcgClassifier(n_estimators=2).fit(X[:10], tiny_model.validation.y[:9])
    with pytest.raises(NotFittedError):
        EcgClassifier().predict_proba(X[:1])


def test_save_load_round_trip(tiny_model, tmp_path: Path) -> None:
    loaded = EcgClassifier.load(tiny_model.directory)
    X = tiny_model.validation.X
    np.testing.assert_array_equal(loaded.predict_proba(X), tiny_model.model.predict_proba(X))
    assert loaded.threshold_ == tiny_model.model.threshold_
    assert loaded.get_params() == tiny_model.model.get_params()
    assert loaded.metadata_["training_data"]["sha256"] == tiny_model.model.metadata_["training_data"]["sha256"]
    # saving the loaded model again gives the same verified files
    again = loaded.save(tmp_path / "again")
    assert (again / MODEL_FILE).read_bytes() == (tiny_model.directory / MODEL_FILE).read_bytes()


def _copy(tiny_model, tmp_path: Path) -> Path:
    return Path(shutil.copytree(tiny_model.directory, tmp_path / "model"))


def test_tampered_model_file_is_refused(tiny_model, tmp_path: Path) -> None:
    directory = _copy(tiny_model, tmp_path)
    raw = bytearray((directory / MODEL_FILE).read_bytes())
    raw[len(raw) // 2] ^= 0x01
    (directory / MODEL_FILE).write_bytes(bytes(raw))
    with pytest.raises(ArtifactError, match="SHA-256 .* does not match"):
        EcgClassifier.load(directory)


def test_model_for_another_feature_set_is_refused(tiny_model, tmp_path: Path) -> None:
    directory = _copy(tiny_model, tmp_path)
    meta = json.loads((directory / "metadata.json").read_text())
    meta["features"] = meta["features"][:-1] + ["qt_interval_ms"]
    (directory / "metadata.json").write_text(json.dumps(meta))
    with pytest.raises(ArtifactError, match="another feature set"):
        EcgClassifier.load(directory)


def test_missing_or_foreign_model_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="metadata.json: missing"):
        EcgClassifier.load(tmp_path)
    (tmp_path / "metadata.json").write_text(json.dumps({"format": "edgeloop.twin.power-model/1"}))
    with pytest.raises(ArtifactError, match="expected 'edgeloop.ecg.classifier/1'"):
        EcgClassifier.load(tmp_path)
