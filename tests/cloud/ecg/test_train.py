"""Training data, `edgeloop ecg train` and `edgeloop ecg evaluate` end to end (small sizes)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edgeloop import __version__
from edgeloop.cli import main
from edgeloop.cloud.ecg.archive import PathologyArchive
from edgeloop.cloud.ecg.dataset import archive_windows, simulated_windows
from edgeloop.cloud.ecg.evaluate import EvalSpec, evaluate_classifier
from edgeloop.components.ecg_prefilter.classifier import EcgClassifier
from edgeloop.components.ecg_prefilter.features import FEATURE_NAMES, analyse_window
from edgeloop.components.ecg_prefilter.filters import resample
from edgeloop.contracts.ecg import parse_window, window_message
from edgeloop.simulator.wearable import Episode, Mix, WearableSimulator

ENRICHED = Mix(normal=0.5, af=0.2, pvc=0.15, noisy=0.15)


def test_simulated_windows_are_the_same_whatever_the_workers() -> None:
    one = simulated_windows(seed=7, devices=3, minutes=3, mix=ENRICHED, workers=1, progress=False,
                            keep_transitions=True)
    two = simulated_windows(seed=7, devices=3, minutes=3, mix=ENRICHED, workers=2, progress=False,
                            keep_transitions=True)
    assert one.X.shape == (len(one), len(FEATURE_NAMES)) and len(one) + one.transitions == 3 * 5
    assert one.digest() == two.digest()
    np.testing.assert_array_equal(one.device_ids, two.device_ids)
    np.testing.assert_array_equal(one.start_s, two.start_s)
    np.testing.assert_array_equal(one.transition_X, two.transition_X)
    assert one.transition_X.shape == (one.transitions, len(FEATURE_NAMES))
    other_seed = simulated_windows(seed=8, devices=3, minutes=3, mix=ENRICHED, progress=False)
    assert other_seed.digest() != one.digest()


def _forward(archive: PathologyArchive, ecg: np.ndarray, fs: float, window_id: str, label: str) -> None:
    """Archive a window as the gateway would forward it."""
    analysis = analyse_window(resample(ecg, fs, 250.0), 250.0)
    body = window_message(device_id="wearable-9000", window_id=window_id, start=1.7e9, fs=fs, ecg_mv=ecg,
                          label=label, score=0.9, probabilities={"normal": 0.1, "af": 0.9, "other": 0.0,
                                                                  "noisy": 0.0},
                          model_version="1.0.0", features=analysis.features, summary=analysis.summary)
    archive.store(parse_window(json.dumps(body)))


@pytest.fixture(scope="module")
def archive_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three forwarded windows at 360 Hz: two reviewed (af, other), one not reviewed."""
    root = tmp_path_factory.mktemp("archive")
    archive = PathologyArchive(root)
    sim = WearableSimulator(fs=360, seed=21)
    af = sim.record(1, rhythm_plan=[Episode("af", 70, hr=110)], device_id="wearable-9000").ecg
    pvc = sim.record(1, rhythm_plan=[Episode("bigeminy", 70, hr=70)], device_id="wearable-9000").ecg
    _forward(archive, af, 360.0, "w-af", "af")
    _forward(archive, pvc, 360.0, "w-pvc", "af")          # the gateway got it wrong ...
    _forward(archive, af, 360.0, "w-unreviewed", "af")
    archive.review("w-af", "af", "dr-a")
    archive.review("w-pvc", "other", "dr-a")              # ... and the reviewer corrected it
    return root


def test_archive_windows_are_the_reviewed_ones_at_their_reviewed_label(archive_dir: Path) -> None:
    ws = archive_windows(archive_dir)
    assert sorted(ws.y.tolist()) == ["af", "other"]
    assert set(ws.device_ids.tolist()) == {"wearable-9000"} and not ws.failures
    # features are computed at 250 Hz after resampling the stored (float32, mV) 360 Hz window
    stored = PathologyArchive(archive_dir).get("w-pvc")
    expected = analyse_window(resample(np.asarray(stored.ecg, np.float64), 360.0, 250.0), 250.0).vector()
    np.testing.assert_array_equal(ws.X[ws.y == "other"][0], expected)


def test_archive_windows_refuses_a_folder_that_is_no_archive(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no pathology archive"):
        archive_windows(tmp_path)


def test_train_and_evaluate_commands(archive_dir: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "model"
    assert main(["ecg", "train", "--out", str(out), "--seed", "4", "--devices", "3", "--minutes", "4",
                 "--workers", "1", "--archive", str(archive_dir), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    model = EcgClassifier.load(out)
    meta = model.metadata_
    data = meta["training_data"]
    assert data["archive"]["windows"] == 2 and data["archive"]["by_label"]["other"] == 1
    assert data["windows"] == data["simulated"]["windows"] + 2
    assert len(data["sha256"]) == 64 and meta["seed"] == 4 and meta["edgeloop_version"] == __version__
    assert meta["validation_data"]["seed"] == 5
    specs = meta["evaluation"]
    assert specs["enriched"]["seed"] == specs["stream"]["seed"] == 6
    assert specs["stream"]["mix"] == "normal=0.9,af=0.05,pvc=0.03,noisy=0.02"
    metrics = meta["metrics"]
    assert printed["metrics"] == json.loads(json.dumps(metrics))
    for name in ("enriched", "stream"):
        m = metrics[name]
        assert sum(m["windows"].values()) == sum(map(sum, m["confusion"]["rows_true_columns_predicted"]))
        assert m["transition_windows"] >= 0 and set(m["recall"]) == {"normal", "af", "other", "noisy"}
    assert metrics["sensitivity_non_normal"] == metrics["enriched"]["sensitivity_non_normal"]
    assert metrics["normal_forwarded_fraction"] == metrics["stream"]["normal_forwarded_fraction"]

    # re-evaluating on the recorded spec reproduces the recorded metrics (what a promotion gate does)
    assert evaluate_classifier(model, specs["enriched"]) == metrics["enriched"]

    png = tmp_path / "eval.png"
    assert main(["ecg", "evaluate", "--model", str(out), "--seed", "6", "--devices", "3", "--minutes", "4",
                 "--workers", "1", "--json", "--plot", str(png)]) == 0
    captured = capsys.readouterr()
    evaluated = json.loads(captured.out)
    assert evaluated["evaluation"] == EvalSpec(6, 3, 4.0).to_dict()
    assert evaluated["confusion"] == metrics["enriched"]["confusion"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    assert "warning" not in captured.err

    # the training devices are not held out: say so
    assert main(["ecg", "evaluate", "--model", str(out), "--seed", "4", "--devices", "1", "--minutes", "2",
                 "--workers", "1"]) == 0
    captured = capsys.readouterr()
    assert "seed 4 built this model's training or validation devices" in captured.err
    assert "sensitivity (non-normal forwarded)" in captured.out


def test_command_errors_exit_2(tmp_path: Path, capsys) -> None:
    assert main(["ecg", "train", "--out", str(tmp_path / "m"), "--archive", str(tmp_path / "none")]) == 2
    assert "--archive" in capsys.readouterr().err
    assert main(["ecg", "evaluate", "--model", str(tmp_path), "--mix", "normal=0.5,vf=0.5"]) == 2
    assert "mix field 'vf': unknown condition" in capsys.readouterr().err
    assert main(["ecg", "evaluate", "--model", str(tmp_path), "--hop", "90"]) == 2
    assert "hop_s 90.0: need 0 < hop_s <= window_s" in capsys.readouterr().err
    assert main(["ecg", "evaluate", "--model", str(tmp_path), "--devices", "1", "--minutes", "1"]) == 1
    assert "metadata.json: missing" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["ecg", "train", "--out", str(tmp_path / "m"), "--minutes", "0.5"])
    assert exit_.value.code == 2
    assert "at least 1 minute" in capsys.readouterr().err
