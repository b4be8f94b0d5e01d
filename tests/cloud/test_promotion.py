"""Approval promotes to a REAL local core; a worse model is refused unless forced; rollback goes back."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
from pathlib import Path

import pytest
import yaml

from edgeloop.cloud.home import CloudHome
from edgeloop.cloud.promotion import COMPONENT, Promoter, PromotionLog, next_version
from edgeloop.cloud.registry import APPROVED, PENDING, REJECTED, LocalRegistry
from edgeloop.components.digital_twin.model import PowerModel
from tests.kits.core import start_core


@pytest.fixture
def home(trained_home, short_tmp) -> Path:
    """A private copy of the trained home (promotion changes registry state)."""
    copy = short_tmp / "home"
    shutil.copytree(trained_home, copy)
    registry = LocalRegistry(copy / "registry.sqlite")
    for package in registry.list():   # the copy's models live where the original's URLs point: keep them
        assert Path(package.model_data_url.removeprefix("file://")).is_dir()
    return copy


@pytest.fixture
def core(short_tmp):
    running = start_core(short_tmp / "root")
    yield running
    running.stop()


def twin_model_config(core) -> dict:
    return json.loads(core.paths.effective_config.read_text())["configuration"][COMPONENT]


def test_approve_deploys_refuses_worse_and_rolls_back(home, core, cli):
    root = str(core.root)
    code, out, err = cli("registry", "approve", "edgeloop-twin/1", "--home", home, "--core-root", root)
    assert code == 0, err
    assert f"edgeloop-twin/1 -> {COMPONENT} 1.0.0 SUCCEEDED" in out
    seconds = float(out.split("time from approval to the new model serving: ")[1].split(" s")[0])
    assert 0 < seconds <= 30
    print(f"approval -> serving: {seconds:.1f} s")

    status = core.cli("core", "status", "--root", root, "--json")
    components = {c["name"]: (c["version"], c["state"]) for c in json.loads(status.stdout)["components"]}
    assert components[COMPONENT] == ("1.0.0", "FINISHED")
    recipe_path = home / "components" / "recipes" / f"{COMPONENT}-1.0.0.yaml"
    zip_path = home / "components" / "artifacts" / COMPONENT / "1.0.0" / "twin-model.zip"
    artifact = yaml.safe_load(recipe_path.read_text())["Manifests"][0]["Artifacts"][0]
    assert artifact["Digest"] == base64.b64encode(hashlib.sha256(zip_path.read_bytes()).digest()).decode()
    # Where the unpacked model sits depends on the zip's top folder (see the report); find its metadata.
    deployed = next(core.paths.decompressed_dir(COMPONENT, "1.0.0").rglob("metadata.json")).parent
    registry = LocalRegistry(home / "registry.sqlite")
    first = registry.get("edgeloop-twin", 1)
    assert PowerModel.load(deployed).test_mae_ == PowerModel.load(first.model_data_url.removeprefix("file://")).test_mae_
    assert first.status == APPROVED
    assert twin_model_config(core)["modelVersion"] == "edgeloop-twin/1"

    # a worse model is refused, stays pending, and the core keeps serving 1.0.0
    code, _, err = cli("registry", "approve", "edgeloop-twin/2", "--home", home, "--core-root", root)
    assert code == 1
    assert "refusing to approve edgeloop-twin/2: edgeloop-twin/2 has mean regret" in err
    assert f"of edgeloop-twin/1 serving as {COMPONENT} 1.0.0" in err and "pass --force" in err
    assert registry.get("edgeloop-twin", 2).status == PENDING
    assert core.state(COMPONENT) == "FINISHED" and not (home / "components" / "recipes" / f"{COMPONENT}-1.0.1.yaml").exists()

    code, out, err = cli("registry", "approve", "edgeloop-twin/2", "--home", home, "--core-root", root, "--force")
    assert code == 0, err
    assert f"edgeloop-twin/2 -> {COMPONENT} 1.0.1 SUCCEEDED" in out
    assert twin_model_config(core)["modelVersion"] == "edgeloop-twin/2"   # RESET replaced the old defaults
    assert twin_model_config(core)["componentVersion"] == "1.0.1"

    # rollback (default target: the core the last promotion deployed to)
    code, out, err = cli("registry", "rollback", "--home", home)
    assert code == 0, err
    assert f"rollback: edgeloop-twin/1 -> {COMPONENT} 1.0.0 SUCCEEDED" in out
    status = core.cli("core", "status", "--root", root, "--json")
    assert {c["name"]: c["version"] for c in json.loads(status.stdout)["components"]}[COMPONENT] == "1.0.0"
    assert twin_model_config(core)["modelVersion"] == "edgeloop-twin/1"
    second = registry.get("edgeloop-twin", 2)
    assert second.status == REJECTED and second.approval_description.startswith("rolled back on ")

    records = PromotionLog(home / "promotions.sqlite").all()
    assert [(r.kind, r.model_ref, r.component_version, r.status) for r in records] == [
        ("promote", "edgeloop-twin/1", "1.0.0", "SUCCEEDED"), ("promote", "edgeloop-twin/2", "1.0.1", "SUCCEEDED"),
        ("rollback", "edgeloop-twin/1", "1.0.0", "SUCCEEDED")]
    assert records[2].detail.startswith("from 1.0.1 (edgeloop-twin/2) to 1.0.0 (edgeloop-twin/1)")

    # nothing earlier that is not rejected: a second rollback says so and changes nothing
    code, _, err = cli("registry", "rollback", "--home", home, "--core-root", root)
    assert code == 1 and "1.0.0 stays" in err


def test_publish_without_a_core_builds_the_next_versions(home):
    cloud = CloudHome.at(home)
    registry = LocalRegistry(cloud.registry_db)
    promoter = Promoter(cloud, registry)
    first = promoter.approve("edgeloop-twin/1")
    assert (first.status, first.component_version, first.target) == ("PUBLISHED", "1.0.0", None)
    second = promoter.approve("edgeloop-twin/2", force=True)   # worse than the published 1.0.0
    assert second.component_version == "1.0.1"
    recipe = yaml.safe_load((cloud.recipe_dir / f"{COMPONENT}-1.0.1.yaml").read_text())
    assert recipe["ComponentConfiguration"]["DefaultConfiguration"]["modelVersion"] == "edgeloop-twin/2"
    zip_path = cloud.artifact_dir / COMPONENT / "1.0.1" / "twin-model.zip"
    assert second.artifact_sha256 == hashlib.sha256(zip_path.read_bytes()).hexdigest()
    assert "worse than" in registry.get("edgeloop-twin", 2).approval_description


def test_next_version_is_semver_patch():
    assert next_version([]) == "1.0.0"
    assert next_version(["1.0.0", "1.0.9", "1.0.10", "1.0.2"]) == "1.0.11"


def test_gate_reevaluates_the_serving_model_when_evaluations_differ(home, history_csvs, cli):
    cloud = CloudHome.at(home)
    registry = LocalRegistry(cloud.registry_db)
    Promoter(cloud, registry).approve("edgeloop-twin/2", force=True)   # the worse model is "serving"
    code, _, err = cli("pipeline", "run", "twin", "--home", home, "--data", history_csvs["two_weeks"],
                       "--n-estimators", "30", "--max-depth", "3", "--simulations", "20", "--trials", "5")
    assert code == 0, err
    third = registry.get("edgeloop-twin", 3)
    assert third.metrics["evaluation"] != registry.get("edgeloop-twin", 2).metrics["evaluation"]
    gate = Promoter(cloud, registry).gate(third)
    assert gate.allowed and gate.serving_ref == "edgeloop-twin/2"
    assert "re-evaluated on the candidate's evaluation" in gate.message
