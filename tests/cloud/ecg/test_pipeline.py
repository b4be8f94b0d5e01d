"""`edgeloop pipeline run ecg` goes through the twin's experiment store, registry, gate and promotion:
the ECG line builds com.edgeloop.EcgModel versions and refuses screeners that miss the targets."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

from edgeloop.cli import build_parser
from edgeloop.cloud.ecg.archive import PathologyArchive
from edgeloop.cloud.promotion import PromotionLog
from edgeloop.cloud.registry import APPROVED, LocalRegistry
from edgeloop.components.ecg_prefilter.classifier import EcgClassifier
from edgeloop.contracts.ecg import parse_window
from edgeloop.modelfiles import metadata_sha256
from tests.kits.core import start_core
from tests.kits.ecg_archive import window_body

MODEL = "com.edgeloop.EcgModel"
GOOD = ["--devices", "16", "--minutes", "10"]     # meets both targets on its held-out devices (~12 s)
SMALL = ["--devices", "4", "--minutes", "4"]      # misses the normal-forwarded target (~39 %)


@pytest.fixture(scope="module")
def ecg_home(tmp_path_factory) -> Path:
    """A home whose archive has three forwarded windows, two of them reviewed, and one good run."""
    home = tmp_path_factory.mktemp("ecg-home")
    with PathologyArchive(home / "ecg-archive") as archive:      # close(): its renderer process ends
        for i, condition in enumerate(("af", "other", "noisy")):
            body = window_body(f"wearable-000{i}", f"wearable-000{i}-1709294400000", condition=condition)
            archive.store(parse_window(body))
        archive.review("wearable-0000-1709294400000", "af", "dr-test")
        archive.review("wearable-0001-1709294400000", "other", "dr-test")
    argv = ["pipeline", "run", "ecg", "--home", str(home), *GOOD]
    args = build_parser(argv).parse_args(argv)
    assert args.func(args) == 0
    return home


@pytest.fixture
def home(ecg_home, tmp_path) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(ecg_home, copy)
    return copy


def test_run_is_an_experiment_with_archive_lineage_a_picture_and_a_registered_version(ecg_home, cli):
    code, out, _ = cli("pipeline", "list", "--home", ecg_home, "--json")
    run = json.loads(out)[0]
    assert code == 0 and run["pipeline"] == "ecg" and run["status"] == "Succeeded"
    assert [s["name"] for s in run["steps"]] == ["gather", "train", "evaluate", "register"]
    assert run["lineage"]["archive"]["windows"] == 2           # reviewed ones only
    assert run["metrics"]["sensitivity_non_normal"] >= 0.97
    assert run["metrics"]["normal_forwarded_fraction"] <= 0.03
    work = ecg_home / "runs" / run["run_id"]
    assert (work / "evaluation.png").read_bytes()[:4] == b"\x89PNG"
    model = EcgClassifier.load(ecg_home / "models" / run["run_id"])
    assert model.metadata_["training_data"]["archive"]["windows"] == 2
    code, out, _ = cli("registry", "list", "--home", ecg_home)
    assert re.search(r"edgeloop-ecg/1 .* sens (0\.9[7-9]\d|1\.000) normal fwd 0\.0[0-2]\d", out), out


def test_approve_publishes_an_ecg_model_component_with_a_verified_digest(home, cli):
    code, out, err = cli("registry", "approve", "edgeloop-ecg/1", "--home", home)
    assert code == 0, err
    assert f"edgeloop-ecg/1 -> {MODEL} 1.0.0 PUBLISHED" in out
    recipe = yaml.safe_load((home / "components" / "recipes" / f"{MODEL}-1.0.0.yaml").read_text())
    config = recipe["ComponentConfiguration"]["DefaultConfiguration"]
    package = LocalRegistry(home / "registry.sqlite").get("edgeloop-ecg", 1)
    model_dir = Path(package.model_data_url.removeprefix("file://"))
    assert config["modelVersion"] == "edgeloop-ecg/1" and config["modelSha256"] == metadata_sha256(model_dir)
    assert config["metrics"]["sensitivity_non_normal"] == package.metrics["sensitivity_non_normal"]
    archive = home / "components" / "artifacts" / MODEL / "1.0.0" / "ecg-model.zip"
    digest = base64.b64encode(hashlib.sha256(archive.read_bytes()).digest()).decode()
    assert recipe["Manifests"][0]["Artifacts"][0]["Digest"] == digest
    assert [r.component for r in PromotionLog(home / "promotions.sqlite").all()] == [MODEL]


def test_a_screener_that_misses_the_targets_is_refused_unless_forced(home, cli):
    assert cli("pipeline", "run", "ecg", "--home", home, *SMALL)[0] == 0
    code, _, err = cli("registry", "approve", "edgeloop-ecg/2", "--home", home)
    assert code == 1 and "misses the screening targets" in err and "pass --force" in err
    assert not (home / "components" / "recipes" / f"{MODEL}-1.0.0.yaml").exists()
    code, out, err = cli("registry", "approve", "edgeloop-ecg/2", "--home", home, "--force")
    assert code == 0 and f"{MODEL} 1.0.0 PUBLISHED" in out, err


def test_approve_deploys_the_model_component_to_a_real_core(home, cli, short_tmp):
    core = start_core(short_tmp / "root")
    try:
        code, out, err = cli("registry", "approve", "edgeloop-ecg/1", "--home", home, "--core-root", core.root)
        assert code == 0, err
        assert f"edgeloop-ecg/1 -> {MODEL} 1.0.0 SUCCEEDED" in out
        assert core.state(MODEL) == "FINISHED"
        deployed = core.paths.decompressed_dir(MODEL, "1.0.0") / "ecg-model"
        assert EcgClassifier.load(deployed).metadata_["seed"] == 0
        assert LocalRegistry(home / "registry.sqlite").get("edgeloop-ecg", 1).status == APPROVED
    finally:
        core.stop()


def test_classify_without_model_uses_the_newest_approved_ecg_model(home, cli, tmp_path):
    import numpy as np

    from edgeloop.simulator.wearable import WearableSimulator
    from edgeloop.simulator.wearable.rhythm import Episode
    recording = tmp_path / "af.npy"
    np.save(recording, WearableSimulator(seed=3).record(2, [Episode("af", 120, hr=120)]).ecg)
    code, _, err = cli("ecg", "classify", "--input", recording, "--fs", "250", "--home", home)
    assert code == 2 and "approve an ECG model" in err           # nothing approved yet
    assert cli("registry", "approve", "edgeloop-ecg/1", "--home", home)[0] == 0
    code, out, err = cli("ecg", "classify", "--input", recording, "--fs", "250", "--home", home, "--json")
    assert code == 0, err
    windows = json.loads(out)["windows"]
    assert [w["label"] for w in windows] == ["af", "af"] and all(w["forward"] for w in windows)
