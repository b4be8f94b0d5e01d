"""Recipe loading: case-insensitive keys, typed views, and one clear error per bad recipe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgeloop.simulator.core.errors import RecipeError
from edgeloop.simulator.core.recipes import DEFAULT_TIMEOUTS, MAX_RECIPE_BYTES, load_recipe, parse_recipe

FIXTURES = Path(__file__).parent / "fixtures"

HEADER = """RecipeFormatVersion: 2020-01-25
ComponentName: com.example.Hello
ComponentVersion: '1.0.0'
"""


def write(tmp_path: Path, text: str, name: str = "recipe.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str, name: str = "recipe.yaml") -> RecipeError:
    path = write(tmp_path, text, name)
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert str(path) in str(info.value), "every message names the file"
    return info.value


def test_full_recipe_with_mixed_key_casing_is_normalised_and_typed():
    recipe = load_recipe(FIXTURES / "com.example.FullFeatured-1.2.0.yaml")
    assert (recipe.name, recipe.version) == ("com.example.FullFeatured", "1.2.0")
    assert recipe.publisher == "edgeloop tests"
    assert recipe.component_type == "aws.greengrass.generic"
    # User-owned keys keep their casing, even ones that look like recipe keys.
    assert recipe.default_configuration["lifecycle"].startswith("this key belongs")
    assert recipe.default_configuration["Server"] == {"port": 8080, "tls": False}
    assert "com.example.FullFeatured:pubsub:1" in recipe.default_configuration["accessControl"][
        "aws.greengrass.ipc.pubsub"]
    assert recipe.dependencies["com.example.Model"].version_requirement == ">=1.0.0 <2.0.0"
    assert recipe.dependencies["com.example.Model"].dependency_type == "SOFT"
    assert recipe.dependencies["aws.greengrass.Nucleus"].dependency_type == "HARD"

    linux = recipe.manifests[0]
    assert linux.name == "Linux x86-64"
    assert linux.platform == {"os": "linux", "architecture": "amd64", "com.example.Radio": "/lora|zigbee/"}
    assert set(linux.lifecycle) == {"Setenv", "Install", "Run"}
    app, requirements = linux.artifacts
    assert (app.uri, app.unarchive, app.permission_read, app.permission_execute) == (
        "s3://bucket/com.example.FullFeatured/1.2.0/app.zip", "ZIP", "ALL", "OWNER")
    assert app.file_name == "app.zip" and app.digest is None
    assert requirements.digest == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
    assert (requirements.algorithm, requirements.permission_read, requirements.unarchive) == ("SHA-256", "OWNER", "NONE")

    # The stored form is canonical JSON a second parse accepts unchanged.
    again = parse_recipe(json.dumps(recipe.raw), "stored.json", "json")
    assert again.raw == recipe.raw and again.manifests == recipe.manifests


def test_lifecycle_steps_are_normalised():
    linux = load_recipe(FIXTURES / "com.example.FullFeatured-1.2.0.yaml").manifests[0]
    lifecycle = linux.lifecycle_steps()
    assert lifecycle.setenv == {"PYTHONUNBUFFERED": "1", "DEBUG": "false"}
    install = lifecycle.step("Install")
    assert install.script.startswith("pip install")
    assert install.requires_privilege is True
    assert install.timeout == 300.0
    assert install.setenv == {"PIP_NO_CACHE_DIR": "off"}
    assert install.skipif == "onpath never-installed-tool"
    run = lifecycle.step("Run")
    assert run.script.startswith("python3 -u") and run.timeout is None and run.requires_privilege is False
    assert lifecycle.step("Shutdown") is None
    assert DEFAULT_TIMEOUTS["Shutdown"] == 15.0 and DEFAULT_TIMEOUTS["Run"] is None


def test_global_lifecycle_with_selection_keys():
    recipe = load_recipe(FIXTURES / "com.example.Selections-1.0.0.json")
    linux, darwin, other = recipe.manifests
    assert linux.selections == ["linux"]
    assert linux.lifecycle_steps().step("Run").script == "run-linux"
    assert linux.lifecycle_steps().step("Install").timeout == 60.0
    # No Selections means the `all` sections, at every level.
    assert darwin.lifecycle == {"Run": {"Script": "run-default"}}
    # A manifest's own lifecycle wins over the global one.
    assert other.lifecycle == {"Run": "own lifecycle wins"}
    assert "linux" in recipe.lifecycle and "all" in recipe.lifecycle


def test_json_and_yaml_give_the_same_recipe(tmp_path):
    text = HEADER + "Manifests:\n  - Lifecycle:\n      Run: echo hi\n"
    from_yaml = load_recipe(write(tmp_path, text))
    as_json = json.dumps({"recipeformatversion": "2020-01-25", "componentname": "com.example.Hello",
                          "componentversion": "1.0.0", "manifests": [{"lifecycle": {"run": "echo hi"}}]})
    from_json = load_recipe(write(tmp_path, as_json, "recipe.json"))
    assert from_yaml.raw == from_json.raw
    assert from_json.manifests[0].lifecycle_steps().step("Run").script == "echo hi"


@pytest.mark.parametrize("body, field, problem", [
    ("Manifests: [{Lifecycle: {Run: x}}]\nFoo: 1\n", "Foo", "is not a recipe key"),
    ("", "Manifests", "is required but missing"),
    ("Manifests: []\n", "Manifests", "must be a non-empty list"),
    ("Manifests: [{Lifecycle: {Run: {Script: x, Timeout: ten}}}]\n",
     "Manifests[0].Lifecycle.Run.Timeout", "must be a number of seconds, got 'ten'"),
    ("Manifests: [{Lifecycle: {Run: {Script: x, Timeout: 0}}}]\n",
     "Manifests[0].Lifecycle.Run.Timeout", "greater than 0, got 0"),
    ("Manifests: [{Lifecycle: {Startup: a, Run: b}}]\n", "Manifests[0].Lifecycle", "defines both Startup and Run"),
    ("Manifests: [{Lifecycle: {Intall: a}}]\n", "Manifests[0].Lifecycle.Intall", "is not a known key here"),
    ("Manifests: [{Lifecycle: {Run: {Timeout: 5}}}]\n", "Manifests[0].Lifecycle.Run.Script",
     "is required but missing"),
    ("Manifests: [{Lifecycle: {Run: 5}}]\n", "Manifests[0].Lifecycle.Run",
     "must be a script string or an object with Script, got 5"),
    ("Manifests: [{Lifecycle: {Run: {Script: a, RequiresPrivilege: maybe}}}]\n",
     "Manifests[0].Lifecycle.Run.RequiresPrivilege", "must be true or false, got 'maybe'"),
    ("Manifests: [{Lifecycle: {Install: {Script: a, Skipif: 'if python3'}}}]\n",
     "Manifests[0].Lifecycle.Install.Skipif", "'onpath <executable>' or 'exists <file>'"),
    ("Manifests: [{Lifecycle: {Setenv: {A: [1]}, Run: a}}]\n", "Manifests[0].Lifecycle.Setenv.A", "got [1]"),
    ("Manifests: [{Artifacts: [{Unarchive: ZIP}]}]\n", "Manifests[0].Artifacts[0].URI", "is required"),
    ("Manifests: [{Artifacts: [{URI: a.tgz, Unarchive: TAR}]}]\n", "Manifests[0].Artifacts[0].Unarchive",
     "must be NONE or ZIP, got 'TAR'"),
    ("Manifests: [{Artifacts: [{URI: a, Permission: {Execute: EVERYONE}}]}]\n",
     "Manifests[0].Artifacts[0].Permission.Execute", "must be NONE, OWNER or ALL"),
    ("Manifests: [{Artifacts: [{URI: a, Digest: x, Algorithm: MD5}]}]\n",
     "Manifests[0].Artifacts[0].Algorithm", "must be SHA-256, got 'MD5'"),
    ("Manifests: [{Platform: {os: 5}}]\n", "Manifests[0].Platform.os", "must be a string"),
    ("Manifests: [{Platform: {os: '/lin(ux/'}}]\n", "Manifests[0].Platform.os", "is not a valid regular expression"),
    ("Manifests: [{Platform: {os: '-linux'}}]\n", "Manifests[0].Platform.os", "must start with a letter or digit"),
    ("Manifests: [{Lifecycle: {Run: a, run: b}}]\n", "Manifests[0].Lifecycle", "has both 'Run' and 'run'"),
    ("ComponentDependencies: {com.x.Y: {VersionRequirement: banana}}\nManifests: [{}]\n",
     'ComponentDependencies["com.x.Y"].VersionRequirement', "must be an npm-style version range"),
    ("ComponentDependencies: {com.x.Y: {VersionRequirement: '^1.0.0', DependencyType: WEAK}}\nManifests: [{}]\n",
     'ComponentDependencies["com.x.Y"].DependencyType', "must be HARD or SOFT, got 'WEAK'"),
    ("ComponentDependencies: {com.x.Y: {DependencyType: HARD}}\nManifests: [{}]\n",
     'ComponentDependencies["com.x.Y"].VersionRequirement', "is required but missing"),
    ("ComponentDependencies: {'com x': {VersionRequirement: '^1'}}\nManifests: [{}]\n",
     "ComponentDependencies", "has key 'com x', which must be a component name"),
    ("ComponentConfiguration: {DefaultConfiguration: 5}\nManifests: [{}]\n",
     "ComponentConfiguration.DefaultConfiguration", "must be an object"),
    ("ComponentType: aws.greengrass.docker\nManifests: [{}]\n", "ComponentType", "must be one of"),
    ("Manifests: [{Selections: [k1]}]\nLifecycle: {k1: {Run: {Script: a, Timeout: ten}}}\n",
     "Lifecycle.Run.Timeout", "as selected for Manifests[0]"),
])
def test_bad_recipe_names_file_field_and_problem(tmp_path, body, field, problem):
    error = error_of(tmp_path, HEADER + body)
    assert error.field == field
    assert problem in error.problem
    assert str(error) == f"{tmp_path / 'recipe.yaml'}: {field} {error.problem}"


@pytest.mark.parametrize("version, problem", [
    ("1.0", "must be a semantic version string"),      # YAML reads an unquoted 1.0 as a number
    ("'v1.0.0'", "got 'v1.0.0'"),
    ("'1.0'", "got '1.0'"),
    ("'01.0.0'", "got '01.0.0'"),
    ("'1.0.1000000'", "at most 6 digits"),
])
def test_component_version_must_be_semver(tmp_path, version, problem):
    error = error_of(tmp_path, HEADER.replace("'1.0.0'", version) + "Manifests: [{}]\n")
    assert error.field == "ComponentVersion" and problem in error.problem


def test_prerelease_and_build_versions_are_accepted(tmp_path):
    recipe = load_recipe(write(tmp_path, HEADER.replace("'1.0.0'", "'1.0.0-rc.1+build.7'") + "Manifests: [{}]\n"))
    assert recipe.version == "1.0.0-rc.1+build.7"


@pytest.mark.parametrize("name", ["com example", "", "x" * 129, "com/example"])
def test_component_name_rules(tmp_path, name):
    error = error_of(tmp_path, HEADER.replace("com.example.Hello", json.dumps(name)) + "Manifests: [{}]\n")
    assert error.field == "ComponentName" and "must be a component name" in error.problem


def test_recipe_format_version_must_be_the_known_one(tmp_path):
    error = error_of(tmp_path, HEADER.replace("2020-01-25", "2021-01-01") + "Manifests: [{}]\n")
    assert error.field == "RecipeFormatVersion" and "'2021-01-01'" in error.problem


def test_oversize_recipe_is_refused_with_the_service_limit(tmp_path):
    filler = "x" * (MAX_RECIPE_BYTES + 1)
    error = error_of(tmp_path, HEADER + f"ComponentDescription: {filler}\nManifests: [{{}}]\n")
    assert "16,000 bytes" in error.problem and "Greengrass service" in error.problem
    with pytest.raises(RecipeError, match="16,000 bytes"):
        parse_recipe(HEADER + f"ComponentDescription: {filler}\nManifests: [{{}}]\n", "inline", "yaml")


def test_recipe_just_under_the_limit_loads(tmp_path):
    text = HEADER + "Manifests: [{}]\nComponentDescription: "
    text += "x" * (MAX_RECIPE_BYTES - len(text.encode()) - 1) + "\n"
    assert len(text.encode()) == MAX_RECIPE_BYTES
    assert load_recipe(write(tmp_path, text)).name == "com.example.Hello"


def test_yaml_syntax_error_names_file_and_line(tmp_path):
    error = error_of(tmp_path, HEADER + "ComponentDescription: a: b\nManifests: [{}]\n")
    assert "is not valid YAML at line 4" in error.problem and "mapping values are not allowed" in error.problem


def test_yaml_duplicate_key_is_refused(tmp_path):
    error = error_of(tmp_path, HEADER + "ComponentName: com.example.Other\nManifests: [{}]\n")
    assert "line 4" in error.problem and "duplicate key 'ComponentName'" in error.problem


def test_json_syntax_error_names_file_and_line(tmp_path):
    error = error_of(tmp_path, '{\n  "RecipeFormatVersion": "2020-01-25",\n  "ComponentName": \n}\n', "recipe.json")
    assert "is not valid JSON at line 4" in error.problem


def test_top_level_must_be_an_object(tmp_path):
    assert "top level" in error_of(tmp_path, "- a\n- b\n").problem
    assert "top level" in error_of(tmp_path, "").problem


def test_unknown_extension_and_missing_file(tmp_path):
    assert "extension '.txt'" in error_of(tmp_path, HEADER, "recipe.txt").problem
    with pytest.raises(RecipeError, match="cannot be read"):
        load_recipe(tmp_path / "absent.yaml")
