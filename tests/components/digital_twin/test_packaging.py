"""Packaging of the twin's components: TwinModel and DigitalTwin recipes and artifacts, the GDK build.

Recipes are checked with the local core's own recipe loader (schema of the recipe reference, the
16,000-byte limit), artifacts against the digests their recipes carry.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml

from edgeloop import __version__
from edgeloop.components.digital_twin import packaging
from edgeloop.simulator.core.recipes.artifacts import digest_of
from edgeloop.simulator.core.recipes.loader import load_recipe

REPO = Path(__file__).resolve().parents[3]


def default_config(recipe: Path) -> dict:
    return yaml.safe_load(recipe.read_text())["ComponentConfiguration"]["DefaultConfiguration"]


def test_model_component_is_deterministic_and_unpacks_to_the_model_directory(model_dirs, tmp_path: Path) -> None:
    built = []
    for out in ("a", "b"):
        recipe = packaging.build_model_component(model_dirs["first"], "1.0.3", tmp_path / out / "recipes",
                                                 tmp_path / out / "artifacts", model_version="edgeloop-twin/3")
        archive = tmp_path / out / "artifacts" / "com.edgeloop.TwinModel" / "1.0.3" / "twin-model.zip"
        built.append((recipe.read_bytes(), archive.read_bytes()))
    assert built[0] == built[1]   # the same model gives the same digest

    assert recipe.name == "com.edgeloop.TwinModel-1.0.3.yaml"
    loaded = load_recipe(recipe)   # the core's loader: schema, keys, size limit
    assert (loaded.name, loaded.version) == ("com.edgeloop.TwinModel", "1.0.3")
    (artifact,) = yaml.safe_load(recipe.read_text())["Manifests"][0]["Artifacts"]
    assert artifact["URI"] == "s3://edgeloop-components/com.edgeloop.TwinModel/1.0.3/twin-model.zip"
    assert artifact["Unarchive"] == "ZIP" and artifact["Algorithm"] == "SHA-256"
    assert artifact["Digest"] == digest_of(archive)
    assert "Lifecycle" not in yaml.safe_load(recipe.read_text())["Manifests"][0]

    with zipfile.ZipFile(archive) as zf:   # unpacked into <version>/twin-model/ = the saved directory
        assert sorted(zf.namelist()) == sorted(p.name for p in model_dirs["first"].iterdir())
        assert {info.date_time for info in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}

    config = default_config(recipe)
    metadata = json.loads((model_dirs["first"] / "metadata.json").read_text())
    assert config["componentVersion"] == "1.0.3" and config["modelVersion"] == "edgeloop-twin/3"
    assert config["modelSha256"] == hashlib.sha256((model_dirs["first"] / "metadata.json").read_bytes()).hexdigest()
    assert config["trainedOn"] == metadata["training_data"]["sha256"]
    assert config["metrics"] == metadata["metrics"]


def test_extra_configuration_is_merged_over_the_generated_one(model_dirs, tmp_path: Path) -> None:
    recipe = packaging.build_model_component(model_dirs["first"], "1.0.4", tmp_path, tmp_path,
                                             model_version="m/4", extra_config={"approvedBy": "ops", "trainedOn": "x"})
    config = default_config(recipe)
    assert config["approvedBy"] == "ops" and config["trainedOn"] == "x" and config["modelVersion"] == "m/4"


def test_a_model_that_does_not_load_is_not_packaged(model_dirs, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(model_dirs["first"], broken)
    (broken / "metadata.json").write_text("{}")
    with pytest.raises(packaging.PackagingError, match="metadata.json"):
        packaging.build_model_component(broken, "1.0.0", tmp_path / "r", tmp_path / "a", model_version="m/1")
    with pytest.raises(packaging.PackagingError, match="not a semantic version"):
        packaging.build_model_component(model_dirs["first"], "1.0", tmp_path / "r", tmp_path / "a", model_version="m/1")
    assert not (tmp_path / "r").exists()


def test_twin_component_recipe_is_valid_small_and_least_privilege(tmp_path: Path) -> None:
    recipe_path = packaging.build_twin_component("1.2.0", tmp_path / "recipes", tmp_path / "artifacts",
                                                 model_requirement=">=1.0.0 <1.1.0")
    assert recipe_path.stat().st_size < 16_000
    loaded = load_recipe(recipe_path)
    assert (loaded.name, loaded.version) == ("com.edgeloop.DigitalTwin", "1.2.0")
    recipe = yaml.safe_load(recipe_path.read_text())
    assert recipe["ComponentDependencies"] == {"com.edgeloop.TwinModel": {
        "VersionRequirement": ">=1.0.0 <1.1.0", "DependencyType": "SOFT"}}
    config = recipe["ComponentConfiguration"]["DefaultConfiguration"]
    assert config["python"] == "python3"
    grants = {(service, op, resource)
              for service, policies in config["accessControl"].items()
              for policy in policies.values() for op in policy["operations"] for resource in policy["resources"]}
    assert grants == {
        ("aws.greengrass.ipc.pubsub", "aws.greengrass#SubscribeToTopic", "edgeloop/twin/request"),
        ("aws.greengrass.ipc.pubsub", "aws.greengrass#SubscribeToTopic", "dt/compressor/+/telemetry"),
        ("aws.greengrass.ipc.pubsub", "aws.greengrass#PublishToTopic", "edgeloop/twin/response/*"),
        ("aws.greengrass.ipc.pubsub", "aws.greengrass#PublishToTopic", "dt/compressor/*/recommendation"),
        ("aws.greengrass.ipc.pubsub", "aws.greengrass#PublishToTopic", "dt/compressor/*/twin/error"),
        ("aws.greengrass.ipc.pubsub", "aws.greengrass#PublishToTopic", "edgeloop/twin/status"),
        ("aws.greengrass.ipc.mqttproxy", "aws.greengrass#SubscribeToIoTCore", "edgeloop/{iot:thingName}/twin/request"),
        ("aws.greengrass.ipc.mqttproxy", "aws.greengrass#PublishToIoTCore", "edgeloop/{iot:thingName}/twin/response/+"),
        ("aws.greengrass.ipc.mqttproxy", "aws.greengrass#PublishToIoTCore", "edgeloop/{iot:thingName}/twin/status"),
    }
    lifecycle = recipe["Manifests"][0]["Lifecycle"]
    assert f"edgeloop.__version__ != '{__version__}'" in lifecycle["Install"]["Script"]
    assert "-m pip install" in lifecycle["Install"]["Script"]
    assert lifecycle["Run"]["Script"] == "{configuration:/python} -u -m edgeloop.components.digital_twin"
    assert lifecycle["Setenv"] == {"EDGELOOP_GG_ROOT": "{kernel:rootPath}"}
    (artifact,) = recipe["Manifests"][0]["Artifacts"]
    archive = tmp_path / "artifacts" / "com.edgeloop.DigitalTwin" / "1.2.0" / "edgeloop.zip"
    assert artifact["URI"] == "s3://edgeloop-components/com.edgeloop.DigitalTwin/1.2.0/edgeloop.zip"
    assert artifact["Digest"] == digest_of(archive)


def test_install_step_skips_pip_only_when_this_exact_edgeloop_version_is_there(tmp_path: Path) -> None:
    recipe = yaml.safe_load(packaging.build_twin_component("1.0.0", tmp_path, tmp_path).read_text())
    check = recipe["Manifests"][0]["Lifecycle"]["Install"]["Script"].split("||")[0]
    check = check.replace("{configuration:/python}", sys.executable)
    assert subprocess.run(["sh", "-c", check], timeout=60).returncode == 0
    other = check.replace(f"'{__version__}'", "'0.0.0-not-this'")
    assert subprocess.run(["sh", "-c", other], timeout=60).returncode != 0   # -> pip install runs


def test_the_shipped_source_holds_every_package_pip_would_install(tmp_path: Path) -> None:
    """The Install step pip-installs edgeloop.zip: it needs pyproject.toml and every listed package."""
    first = packaging.build_source_archive(tmp_path / "a.zip")
    second = packaging.build_source_archive(tmp_path / "b.zip")
    assert first.read_bytes() == second.read_bytes()
    setuptools = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    top = f"edgeloop-{__version__}"
    with zipfile.ZipFile(first) as zf:
        names = set(zf.namelist())
    assert {f"{top}/pyproject.toml", f"{top}/README.md"} <= names
    folders = setuptools["package-dir"]   # e.g. "edgeloop.components" -> "components"
    for package in setuptools["packages"]:
        prefix = max((p for p in folders if package == p or package.startswith(p + ".")), key=len)
        rest = package.split(".")[len(prefix.split(".")):]
        assert "/".join([top, folders[prefix], *rest, "__init__.py"]) in names, package
    assert f"{top}/simulator/core/recipes/schema.json" in names   # package data
    assert f"{top}/components/digital_twin/__main__.py" in names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "/tests/" in n]


def test_gdk_project_has_one_component_and_one_recipe_that_is_the_template() -> None:
    config = json.loads((REPO / "gdk-config.json").read_text())
    assert set(config) == {"gdk_version", "component"}
    (name, entry), = config["component"].items()
    assert name == "com.edgeloop.DigitalTwin"
    assert entry["build"]["build_system"] == "custom"
    assert set(entry["publish"]) >= {"bucket", "region"}
    recipes = [p.name for p in REPO.iterdir() if p.name in ("recipe.yaml", "recipe.json", "recipe.yml")]
    assert recipes == ["recipe.yaml"]
    assert (REPO / "recipes" / "com.edgeloop.DigitalTwin.yaml").resolve() == (REPO / "recipe.yaml").resolve()


def test_gdk_custom_build_command_writes_the_gdk_build_layout(tmp_path: Path) -> None:
    config = json.loads((REPO / "gdk-config.json").read_text())
    (entry,) = config["component"].values()
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(REPO / "gdk-config.json", project)
    shutil.copy(REPO / "recipe.yaml", project)
    command = list(entry["build"]["custom_build_command"])
    assert command[0] == "python3"
    result = subprocess.run([sys.executable, *command[1:]], cwd=project, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    version = entry["version"]
    recipe = project / "greengrass-build" / "recipes" / "recipe.yaml"
    archive = project / "greengrass-build" / "artifacts" / "com.edgeloop.DigitalTwin" / version / "edgeloop.zip"
    loaded = load_recipe(recipe)
    assert (loaded.name, loaded.version) == ("com.edgeloop.DigitalTwin", version)
    built = yaml.safe_load(recipe.read_text())
    assert built["ComponentPublisher"] == entry["author"]
    assert built["Manifests"][0]["Artifacts"][0]["URI"].startswith(f"s3://{entry['publish']['bucket']}/")
    assert built["Manifests"][0]["Artifacts"][0]["Digest"] == digest_of(archive)


def test_gdk_build_names_a_bad_configuration(tmp_path: Path) -> None:
    (tmp_path / "gdk-config.json").write_text(json.dumps({"gdk_version": "1.6.0", "component": {
        "com.edgeloop.DigitalTwin": {"author": "a", "version": "NEXT_PATCH", "build": {"build_system": "custom"}}}}))
    shutil.copy(REPO / "recipe.yaml", tmp_path)
    result = subprocess.run([sys.executable, "-m", "edgeloop.components.packaging", "gdk-build",
                             "--project", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "gdk-config.json" in result.stderr and "NEXT_PATCH" in result.stderr
    assert not (tmp_path / "greengrass-build").exists()
