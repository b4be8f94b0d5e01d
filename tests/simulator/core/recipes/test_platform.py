"""Manifest selection by Greengrass's platform rules."""

from __future__ import annotations

import platform as std_platform
from pathlib import Path

import pytest

from edgeloop.simulator.core.recipes import (
    current_platform,
    load_recipe,
    parse_recipe,
    select_manifest,
)

FIXTURES = Path(__file__).parent / "fixtures"


def recipe_with(*platforms: dict | None):
    manifests = []
    for i, plat in enumerate(platforms):
        manifest = {"Name": f"m{i}", "Lifecycle": {"Run": f"echo {i}"}}
        if plat is not None:
            manifest["Platform"] = plat
        manifests.append(manifest)
    import json
    return parse_recipe(json.dumps({"RecipeFormatVersion": "2020-01-25", "ComponentName": "com.example.P",
                                    "ComponentVersion": "1.0.0", "Manifests": manifests}), "inline", "json")


def chosen(recipe, device) -> str | None:
    manifest = select_manifest(recipe, device)
    return None if manifest is None else manifest.name


def test_current_platform_uses_greengrass_names():
    here = current_platform()
    assert here["os"] == std_platform.system().lower()
    assert here["architecture"] in {"amd64", "aarch64", "arm", "x86"}
    expected = {"x86_64": "amd64", "aarch64": "aarch64", "arm64": "aarch64"}.get(std_platform.machine().lower())
    if expected:
        assert here["architecture"] == expected


def test_overrides_add_custom_attributes_and_ignore_non_strings():
    here = current_platform({"com.example.Radio": "lora", "os": "linux", "bad": {"x": 1}})
    assert here["com.example.Radio"] == "lora" and "bad" not in here


LINUX_AMD64 = {"os": "linux", "architecture": "amd64"}


def test_first_matching_manifest_wins():
    recipe = recipe_with({"os": "darwin"}, {"os": "linux", "architecture": "amd64"}, {"os": "linux"}, None)
    assert chosen(recipe, LINUX_AMD64) == "m1"
    assert chosen(recipe, {"os": "linux", "architecture": "aarch64"}) == "m2"
    assert chosen(recipe, {"os": "windows", "architecture": "amd64"}) == "m3"  # no Platform matches all


def test_no_match_gives_none():
    recipe = recipe_with({"os": "darwin"}, {"os": "windows"})
    assert select_manifest(recipe, LINUX_AMD64) is None


def test_regex_values_match_the_whole_value():
    recipe = recipe_with({"os": "/windows|darwin/"}, {"architecture": "/aarch64|amd/"}, {"architecture": "/amd.*/"})
    assert chosen(recipe, {"os": "darwin", "architecture": "x"}) == "m0"
    # "/aarch64|amd/" must match all of "amd64", so it does not.
    assert chosen(recipe, LINUX_AMD64) == "m2"


def test_wildcards():
    recipe = recipe_with({"os": "*", "com.example.Radio": "*"}, None)
    assert chosen(recipe, LINUX_AMD64) == "m0"  # '*' matches even an attribute the device lacks
    recipe = recipe_with({"os": "all", "architecture": "any"}, None)
    assert chosen(recipe, LINUX_AMD64) == "m0"
    recipe = recipe_with({"com.example.Radio": "//"}, None)
    assert chosen(recipe, LINUX_AMD64) == "m1"  # '//' needs a value
    assert chosen(recipe, {**LINUX_AMD64, "com.example.Radio": "lora"}) == "m0"


def test_custom_attribute_must_be_present_for_exact_match():
    recipe = load_recipe(FIXTURES / "com.example.FullFeatured-1.2.0.yaml")
    assert select_manifest(recipe, LINUX_AMD64).name is None  # falls to the catch-all manifest
    radio = select_manifest(recipe, {**LINUX_AMD64, "com.example.Radio": "zigbee"})
    assert radio.name == "Linux x86-64"


@pytest.mark.parametrize("device, run", [
    ({"os": "linux"}, "run-linux"),
    ({"os": "darwin"}, {"Script": "run-default"}),
    ({"os": "freebsd"}, "own lifecycle wins"),
])
def test_selected_manifest_carries_its_lifecycle(device, run):
    recipe = load_recipe(FIXTURES / "com.example.Selections-1.0.0.json")
    assert select_manifest(recipe, device).lifecycle["Run"] == run
