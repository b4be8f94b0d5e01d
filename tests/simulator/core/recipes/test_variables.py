"""Recipe variables in lifecycle text, including cross-component forms and what stays unresolved."""

from __future__ import annotations

import logging

from edgeloop.simulator.core.config_store import ConfigStore, pointer_to_path
from edgeloop.simulator.core.paths import CorePaths
from edgeloop.simulator.core.recipes import (
    VariableContext,
    config_lookup_from,
    interpolate,
    interpolate_all,
)

CONFIGS = {
    "com.example.App": {"message": "hello world", "port": 8080, "ratio": 0.5, "debug": False, "nothing": None,
                        "server": {"host": "127.0.0.1", "tags": ["a", "b"]}, "a/b": "slash", "tilde~": "t",
                        "braces": "{iot:thingName}"},
    "com.example.Model": {"file": "model.ubj", "threshold": 0.75},
    "com.example.Stranger": {"secret": "s3cr3t"},
}


def context(tmp_path, **overrides) -> VariableContext:
    values = dict(component="com.example.App", paths=CorePaths.at(tmp_path / "root"),
                  versions={"com.example.App": "1.0.0", "com.example.Model": "2.1.0",
                            "com.example.Stranger": "1.0.0"},
                  thing_name="gateway-7", config_lookup=config_lookup_from(CONFIGS),
                  dependencies=frozenset({"com.example.Model"}))
    values.update(overrides)
    return VariableContext(**values)


def test_system_variables(tmp_path):
    ctx = context(tmp_path)
    root = tmp_path / "root"
    text = "{artifacts:path} {artifacts:decompressedPath} {work:path} {kernel:rootPath} {iot:thingName}"
    assert interpolate(text, ctx).split() == [
        str(root / "packages/artifacts/com.example.App/1.0.0"),
        str(root / "packages/artifacts-unarchived/com.example.App/1.0.0"),
        str(root / "work/com.example.App"), str(root), "gateway-7"]
    assert ctx.warnings == []


def test_configuration_values(tmp_path):
    ctx = context(tmp_path)
    assert interpolate("echo '{configuration:/message}'", ctx) == "echo 'hello world'"
    assert interpolate("{configuration:/port} {configuration:/ratio} {configuration:/debug} "
                       "{configuration:/nothing}", ctx) == "8080 0.5 false null"
    assert interpolate("{configuration:/server}", ctx) == '{"host":"127.0.0.1","tags":["a","b"]}'
    assert interpolate("{configuration:/server/tags/1} {configuration:/a~1b} {configuration:/tilde~0}",
                       ctx) == "b slash t"


def test_configuration_value_is_not_interpolated_again(tmp_path):
    assert interpolate("{configuration:/braces}", context(tmp_path)) == "{iot:thingName}"


def test_cross_component_variables_for_dependencies(tmp_path):
    ctx = context(tmp_path)
    root = tmp_path / "root"
    text = ("{com.example.Model:artifacts:path}/{com.example.Model:configuration:/file} "
            "{com.example.Model:artifacts:decompressedPath} {com.example.Model:work:path} "
            "{com.example.Model:configuration:/threshold}")
    assert interpolate(text, ctx).split() == [
        str(root / "packages/artifacts/com.example.Model/2.1.0") + "/model.ubj",
        str(root / "packages/artifacts-unarchived/com.example.Model/2.1.0"),
        str(root / "work/com.example.Model"), "0.75"]
    assert ctx.warnings == []


def test_unresolvable_variables_stay_and_are_reported(tmp_path, caplog):
    ctx = context(tmp_path)
    text = ("{com.example.Stranger:configuration:/secret} {configuration:/missing} {artifacts:nope} "
            "{weird:thing} {com.example.Model:configuration:/missing/deeper} ${HOME} {plain}")
    with caplog.at_level(logging.WARNING):
        assert interpolate(text, ctx) == text
    assert len(ctx.warnings) == 5
    assert "com.example.Stranger is not a direct dependency of com.example.App" in ctx.warnings[0]
    assert "has no value at /missing" in ctx.warnings[1]
    assert "artifacts:nope is not a recipe variable" in ctx.warnings[2]
    assert "{weird:thing}" in ctx.warnings[3]
    assert "com.example.Model's configuration has no value at /missing/deeper" in ctx.warnings[4]
    assert "left {com.example.Stranger:configuration:/secret} unresolved" in caplog.text


def test_artifacts_of_a_component_without_version_stay(tmp_path):
    ctx = context(tmp_path, versions={}, dependencies=frozenset())
    assert interpolate("{artifacts:path}", ctx) == "{artifacts:path}"
    assert "no version of com.example.App is deployed" in ctx.warnings[0]


def test_interpolate_all_walks_a_lifecycle(tmp_path):
    lifecycle = {"Setenv": {"THING": "{iot:thingName}"},
                 "Run": {"Script": "run --port {configuration:/port}", "Timeout": 30}}
    assert interpolate_all(lifecycle, context(tmp_path)) == {
        "Setenv": {"THING": "gateway-7"}, "Run": {"Script": "run --port 8080", "Timeout": 30}}


def test_works_with_the_configuration_store(tmp_path):
    store = ConfigStore()
    store.apply_deployment("com.example.App", {"message": "from store", "nested": {"n": 3}})
    ctx = context(tmp_path, config_lookup=lambda comp, ptr: store.get(comp, pointer_to_path(ptr)))
    assert interpolate("{configuration:/message} {configuration:/nested/n}", ctx) == "from store 3"
    assert interpolate("{configuration:/absent}", ctx) == "{configuration:/absent}"
