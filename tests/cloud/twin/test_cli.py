"""`edgeloop twin ...` end to end in real processes: train on the plant simulator's CSV, recommend
from the reference event, bad inputs exit 2 with the row/field named, tampered models exit 1."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

EVENT = {"flow": "[280, 300]", "pressure": "[69, 70]", "simulations": "10", "no_of_trials": "10",
         "train_error_weight": "1.0"}


def twin(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "edgeloop.cli", "twin", *args], input=stdin,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from edgeloop.simulator.plant import Plant
    from edgeloop.simulator.plant.telemetry import history_batch, write_csv_file
    root = tmp_path_factory.mktemp("cli")
    plant = Plant.default(0)
    write_csv_file(history_batch(plant, 96, 2), root / "history.csv")
    plant.write_boundaries(root / "boundaries.json")
    result = twin("train", "--data", str(root / "history.csv"), "--out", str(root / "model"),
                  "--boundaries", str(root / "boundaries.json"), "--n-estimators", "80", "--json")
    assert result.returncode == 0, result.stderr
    return root, json.loads(result.stdout)


def test_train_records_layout_comparison_and_metadata(trained):
    root, summary = trained
    assert summary["chosen_layout"] in ("per_config", "shared")
    assert set(summary["layout_comparison"]) == {"per_config", "shared"}
    meta = json.loads((root / "model" / "metadata.json").read_text())
    assert meta["boundaries_source"] == "boundaries file"
    assert meta["training_data"]["sha256"] and meta["training_data"]["rows"] > 5000
    assert all(len(digest) == 64 for digest in meta["files"].values())
    assert meta["features"][:2] == ["flow", "pressure"]


def test_recommend_prints_the_ranked_list(trained):
    root, _ = trained
    result = twin("recommend", "--model", str(root / "model"), "--event", "-", "--seed", "1", "--json",
                  "--plot", str(root / "r.png"), stdin=json.dumps(EVENT))
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer and all(len(item) == 1 for item in answer)
    assert (root / "r.png").stat().st_size > 10_000
    again = twin("recommend", "--model", str(root / "model"), "--event", "-", "--seed", "1", "--json",
                 stdin=json.dumps(EVENT))
    assert json.loads(again.stdout) == answer


def test_malformed_event_exits_2_naming_the_field(trained, tmp_path):
    root, _ = trained
    (tmp_path / "e.json").write_text(json.dumps({**EVENT, "pressure": "[70, 69]"}))
    result = twin("recommend", "--model", str(root / "model"), "--event", str(tmp_path / "e.json"))
    assert result.returncode == 2
    assert "pressure: low 70 is above high 69" in result.stderr and "Traceback" not in result.stderr


def test_bad_csv_exits_2_naming_row_and_column(tmp_path):
    (tmp_path / "d.csv").write_text("timestamp,flow,pressure,power,config\n"
                                    "2024-01-01T00:00:00Z,250,70,50,c1c2\n2024-01-01T00:01:00Z,250,70,lots,c1c2\n")
    result = twin("train", "--data", str(tmp_path / "d.csv"), "--out", str(tmp_path / "m"))
    assert result.returncode == 2
    assert "line 3, column 'power': 'lots' is not a number" in result.stderr


def test_tampered_model_is_refused(trained, tmp_path):
    import shutil
    root, _ = trained
    copy = tmp_path / "model"
    shutil.copytree(root / "model", copy)
    victim = next(copy.glob("*.ubj"))
    victim.write_bytes(victim.read_bytes()[:-1] + b"\x00")
    result = twin("recommend", "--model", str(copy), "--event", "-", stdin=json.dumps(EVENT))
    assert result.returncode == 1 and "refusing to load" in result.stderr


def test_evaluate_reports_metrics_as_json(trained):
    root, _ = trained
    result = twin("evaluate", "--model", str(root / "model"), "--json", "--plot", str(root / "e.png"))
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["requests"] == 70 and summary["infeasible"] == 0
    assert summary["mean_regret_pct"] >= 0 and 0 < summary["savings_capture"] <= 1
    assert (root / "e.png").stat().st_size > 10_000
