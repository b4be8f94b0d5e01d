"""The twin pipeline: experiments with lineage and digests, a PendingManualApproval version, and failures."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

from edgeloop.cloud.experiments import ExperimentStore
from edgeloop.cloud.home import CloudHome
from edgeloop.cloud.lake import Lake
from edgeloop.cloud.pipeline import preprocess
from edgeloop.cloud.registry import PENDING, LocalRegistry
from edgeloop.components.digital_twin import configurations as cfgs
from edgeloop.components.digital_twin.model import PowerModel


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_run_records_experiment_and_registers_pending_version(trained_home, history_csvs, cli):
    home = CloudHome.at(trained_home)
    runs = ExperimentStore(home.experiments_db).list()
    good = runs[-1]   # the first run; list is newest first
    assert good.status == "Succeeded" and good.pipeline == "twin"
    assert [s["name"] for s in good.steps] == ["preprocess", "train", "simulate", "evaluate", "register"]
    assert all(s["status"] == "Succeeded" and s["seconds"] >= 0 for s in good.steps)
    assert good.parameters["n_estimators"] == 60 and good.parameters["source"] == "files"

    lineage = good.lineage
    source = history_csvs["two_weeks"]
    assert lineage["inputs"] == [{"path": str(source.resolve()), "sha256": sha256(source), "rows": 20160}]
    assert lineage["rows"] == 20160 and lineage["duplicates_dropped"] == 0 and lineage["rows_invalid"] == 0
    assert lineage["time_range"] == ["2024-01-01T00:00:00Z", "2024-01-14T23:59:00Z"]
    assert lineage["training_csv"]["sha256"] == sha256(lineage["training_csv"]["path"])
    for name, entry in good.artifacts["files"].items():
        assert sha256(entry["path"]) == entry["sha256"], name

    package = LocalRegistry(home.registry_db).get("edgeloop-twin", 1)
    assert package.status == PENDING and package.run_id == good.run_id
    assert good.artifacts["model_package"]["ref"] == "edgeloop-twin/1"
    assert package.metrics["mean_regret_pct"] == good.metrics["mean_regret_pct"]
    assert package.metrics["infeasible"] == 0 and 0 < package.metrics["mean_regret_pct"] < 5
    model = PowerModel.load(Path(package.model_data_url.removeprefix("file://")))
    assert model.metadata_["training_data"]["sha256"] == lineage["training_csv"]["sha256"]

    code, out, _ = cli("pipeline", "show", good.run_id, "--home", trained_home)
    assert code == 0 and f"input {source.resolve()}  20160 rows  sha256 {sha256(source)}" in out
    code, out, _ = cli("pipeline", "list", "--home", trained_home)
    assert code == 0 and "edgeloop-twin/1" in out and "edgeloop-twin/2" in out


def write_lake(lake: Lake, rows: list[tuple[str, int, str, str]]) -> None:
    for plant, seq, timestamp, config in rows:
        lake.ingest(f"dt/compressor/{plant}/telemetry", json.dumps(
            {"plant_id": plant, "seq": seq, "timestamp": timestamp, "flow": 250.0 + seq, "pressure": 70.0,
             "power": 50.0 + seq, "config": config}).encode())


def test_preprocess_orders_by_time_and_drops_duplicates(tmp_path):
    lake = Lake(tmp_path / "lake")
    write_lake(lake, [("p1", 1, "2024-01-02T00:00:00Z", "c1c2"), ("p1", 0, "2024-01-01T23:59:00Z", "c1c2"),
                      ("p1", 1, "2024-01-02T00:00:00Z", "c1c2"),          # QoS 1 redelivery
                      ("p1", 0, "2024-01-02T00:01:00Z", "c1c3"),          # the device restarted: seq 0 again
                      ("p2", 5, "2024-01-02T00:00:00Z", "c1c2")])         # same instant, other plant
    bad = tmp_path / "extra.csv"
    bad.write_text("timestamp,flow,pressure,power,config\n2024-01-01T22:00:00Z,200,70,40,c1c2\n"
                   "2024-01-01T22:01:00Z,abc,70,40,c1c2\n")
    prepared = preprocess([*lake.files(), bad], tmp_path / "training.csv",
                          frozenset(cfgs.standard_configurations()))
    with open(prepared.path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["plant_id"], r["timestamp"], r["seq"]) for r in rows] == [
        ("", "2024-01-01T22:00:00Z", ""), ("p1", "2024-01-01T23:59:00Z", "0"),
        ("p1", "2024-01-02T00:00:00Z", "1"), ("p2", "2024-01-02T00:00:00Z", "5"),
        ("p1", "2024-01-02T00:01:00Z", "0")]
    assert prepared.lineage["duplicates_dropped"] == 1
    assert prepared.lineage["invalid_by_reason"] == {"not a number": 1}
    assert prepared.lineage["invalid_examples"] == [f"{bad} line 3: flow 'abc' is not a number"]
    assert prepared.lineage["plants"] == {"": 1, "p1": 3, "p2": 1}


def test_preprocess_drops_rows_the_telemetry_contract_refuses(tmp_path):
    """Naive timestamps (accepted as UTC before) and negative readings are dropped, counted by reason."""
    data = tmp_path / "data.csv"
    data.write_text("timestamp,flow,pressure,power,config\n2024-01-01T22:00:00Z,200,70,40,c1c2\n"
                    "2024-01-01T22:01:00,200,70,40,c1c2\n2024-01-01T22:02:00Z,200,-70,40,c1c2\n")
    prepared = preprocess([data], tmp_path / "training.csv", frozenset(cfgs.standard_configurations()))
    assert prepared.lineage["rows"] == 1
    assert prepared.lineage["invalid_by_reason"] == {"bad timestamp": 1, "negative": 1}
    assert prepared.lineage["invalid_examples"][0].startswith(f"{data} line 3: timestamp '2024-01-01T22:01:00' has no")


def test_failed_runs_are_recorded_with_the_reason(tmp_path, cli):
    code, _, err = cli("pipeline", "run", "twin", "--home", tmp_path)
    assert code == 1 and "no input data: the lake has no telemetry" in err
    bad = tmp_path / "bad.csv"
    bad.write_text("time,flow,pressure,power,config\n1,2,3,4,c1c2\n")
    code, _, err = cli("pipeline", "run", "twin", "--home", tmp_path, "--data", bad)
    assert code == 1 and f"{bad} line 1: missing column(s) timestamp" in err
    runs = ExperimentStore(tmp_path / "experiments.sqlite").list()
    assert [r.status for r in runs] == ["Failed", "Failed"]
    assert runs[0].error.startswith("preprocess: ") and runs[0].steps[-1]["status"] == "Failed"
    assert LocalRegistry(tmp_path / "registry.sqlite").list() == []
    code, _, err = cli("pipeline", "show", "nope", "--home", tmp_path)
    assert code == 2 and "no run 'nope'" in err
