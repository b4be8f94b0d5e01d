"""The local component store and npm-style dependency resolution over it."""

from __future__ import annotations

import json

import pytest

from edgeloop.simulator.core.errors import MissingRecipeError, ResolutionError
from edgeloop.simulator.core.paths import CorePaths
from edgeloop.simulator.core.recipes import ComponentStore, dependency_order, parse_recipe, resolve

BUILTINS = {"aws.greengrass.Nucleus": "2.12.0", "aws.greengrass.clientdevices.mqtt.Bridge": "2.3.0"}


@pytest.fixture
def store(tmp_path) -> ComponentStore:
    paths = CorePaths.at(tmp_path / "root")
    paths.ensure()
    return ComponentStore(paths)


def add(store: ComponentStore, name: str, version: str, deps: dict[str, str] | None = None,
        soft: set[str] = frozenset()) -> None:
    recipe = {"RecipeFormatVersion": "2020-01-25", "ComponentName": name, "ComponentVersion": version,
              "Manifests": [{"Lifecycle": {"Run": f"echo {name}"}}]}
    if deps:
        recipe["ComponentDependencies"] = {
            d: {"VersionRequirement": r, "DependencyType": "SOFT" if d in soft else "HARD"} for d, r in deps.items()}
    store.add(parse_recipe(json.dumps(recipe), f"{name}-{version}", "json"))


def test_store_writes_normalised_json_and_reads_it_back(store):
    recipe = parse_recipe("recipeformatversion: 2020-01-25\ncomponentname: com.a-b.X\ncomponentversion: '1.0.0-rc.1'\n"
                          "manifests: [{lifecycle: {run: go}}]\n", "r.yaml", "yaml")
    path = store.add(recipe)
    assert path == store.paths.root / "packages" / "recipes" / "com.a-b.X-1.0.0-rc.1.json"
    assert json.loads(path.read_text())["Manifests"] == [{"Lifecycle": {"Run": "go"}}]
    again = store.get("com.a-b.X", "1.0.0-rc.1")
    assert again.raw == recipe.raw and again.source == path
    add(store, "com.a-b.X", "1.0.0")
    add(store, "com.a-b.X", "1.10.0")
    add(store, "com.a-b.X", "1.2.0")
    add(store, "com.a-b.X-1.0.0", "2.0.0")  # a name that looks like a name-version prefix
    assert store.versions("com.a-b.X") == ["1.0.0-rc.1", "1.0.0", "1.2.0", "1.10.0"]
    assert store.versions("com.a-b.X-1.0.0") == ["2.0.0"]
    assert store.versions("absent") == []
    assert store.components()["com.a-b.X"][-1] == "1.10.0"


def test_store_get_missing_names_what_exists(store):
    add(store, "com.example.A", "1.0.0")
    with pytest.raises(MissingRecipeError, match="no recipe for com.example.A 9.9.9; it has versions 1.0.0"):
        store.get("com.example.A", "9.9.9")


def test_highest_version_satisfying_every_range(store):
    for v in ("1.0.0", "1.1.0", "1.2.5", "2.0.0"):
        add(store, "com.example.Model", v)
    add(store, "com.example.App", "1.0.0", {"com.example.Model": "^1.0.0", "com.example.Lib": "~1.0"})
    add(store, "com.example.Other", "3.0.0", {"com.example.Model": ">=1.0.0 <1.2.0"}, soft={"com.example.Model"})
    for v in ("1.0.0", "1.0.9", "1.1.0"):
        add(store, "com.example.Lib", v)
    assert resolve({"com.example.App": "1.0.0"}, store) == {
        "com.example.App": "1.0.0", "com.example.Lib": "1.0.9", "com.example.Model": "1.2.5"}
    # A second root narrows Model: SOFT requirements count too.
    assert resolve({"com.example.App": "1.0.0", "com.example.Other": "3.0.0"}, store)["com.example.Model"] == "1.1.0"


def test_later_requirement_changes_an_earlier_choice_and_its_dependencies(store):
    # App needs A ^1 and B ^1. A is met first and gets 1.2.0 (which brings C ^2), then B turns up
    # requiring A ~1.0.0: A must drop to 1.0.0, and with it C to the ^1 line A 1.0.0 asks for.
    add(store, "com.example.App", "1.0.0", {"com.example.A": "^1.0.0", "com.example.B": "^1.0.0"})
    add(store, "com.example.A", "1.0.0", {"com.example.C": "^1.0.0"})
    add(store, "com.example.A", "1.2.0", {"com.example.C": "^2.0.0"})
    add(store, "com.example.B", "1.0.0", {"com.example.A": "~1.0.0"})
    add(store, "com.example.C", "1.0.0")
    add(store, "com.example.C", "2.0.0")
    assert resolve({"com.example.App": "1.0.0"}, store) == {
        "com.example.A": "1.0.0", "com.example.App": "1.0.0", "com.example.B": "1.0.0", "com.example.C": "1.0.0"}


def test_conflict_names_component_requirements_requirers_and_versions(store):
    add(store, "com.example.Model", "1.0.0")
    add(store, "com.example.Model", "1.5.0")
    add(store, "com.example.Model", "2.0.0")
    add(store, "com.example.Twin", "1.0.0", {"com.example.Model": "^1.0.0"})
    add(store, "com.example.Ecg", "2.0.0", {"com.example.Model": ">=2.0.0"})
    with pytest.raises(ResolutionError) as info:
        resolve({"com.example.Twin": "1.0.0", "com.example.Ecg": "2.0.0"}, store)
    message = str(info.value)
    assert "cannot resolve com.example.Model" in message
    assert "com.example.Ecg 2.0.0 requires '>=2.0.0'" in message
    assert "com.example.Twin 1.0.0 requires '^1.0.0'" in message
    assert "available versions: 1.0.0, 1.5.0, 2.0.0" in message
    assert info.value.component == "com.example.Model"
    assert info.value.available == ["1.0.0", "1.5.0", "2.0.0"]


def test_root_versions_are_fixed(store):
    add(store, "com.example.Model", "1.0.0")
    add(store, "com.example.Model", "1.9.0")
    add(store, "com.example.App", "1.0.0", {"com.example.Model": "^1.5.0"})
    with pytest.raises(ResolutionError, match=r"the deployment pins com.example.Model at 1.0.0, which does not "
                                              r"satisfy: com.example.App 1.0.0 requires '\^1.5.0'"):
        resolve({"com.example.App": "1.0.0", "com.example.Model": "1.0.0"}, store)
    assert resolve({"com.example.App": "1.0.0", "com.example.Model": "1.9.0"}, store)["com.example.Model"] == "1.9.0"


def test_missing_dependency_and_missing_root(store):
    add(store, "com.example.App", "1.0.0", {"com.example.Absent": "^1.0.0"})
    with pytest.raises(ResolutionError, match="com.example.App 1.0.0 requires '\\^1.0.0', but the component store .* "
                                              "has no recipe for com.example.Absent"):
        resolve({"com.example.App": "1.0.0"}, store)
    with pytest.raises(ResolutionError, match="root component com.example.App 2.0.0 has no recipe .* "
                                              "available versions: 1.0.0"):
        resolve({"com.example.App": "2.0.0"}, store)


def test_builtins_satisfy_dependencies_without_recipes(store):
    add(store, "com.example.Bridge", "1.0.0",
        {"aws.greengrass.Nucleus": ">=2.0.0", "aws.greengrass.clientdevices.mqtt.Bridge": "^2.0.0"})
    resolved = resolve({"com.example.Bridge": "1.0.0"}, store, builtins=BUILTINS)
    assert resolved == {"aws.greengrass.Nucleus": "2.12.0", "aws.greengrass.clientdevices.mqtt.Bridge": "2.3.0",
                        "com.example.Bridge": "1.0.0"}
    assert dependency_order(resolved, store, builtins=BUILTINS)[-1] == "com.example.Bridge"
    add(store, "com.example.Future", "1.0.0", {"aws.greengrass.Nucleus": "^3.0.0"})
    with pytest.raises(ResolutionError, match="built into the local core at 2.12.0, which does not satisfy: "
                                              "com.example.Future 1.0.0 requires '\\^3.0.0'"):
        resolve({"com.example.Future": "1.0.0"}, store, builtins=BUILTINS)
    with pytest.raises(ResolutionError, match="provides aws.greengrass.Nucleus 2.12.0 built in"):
        resolve({"aws.greengrass.Nucleus": "2.13.0"}, store, builtins=BUILTINS)


def test_dependency_order_puts_dependencies_first(store):
    add(store, "com.example.Model", "1.0.0")
    add(store, "com.example.Lib", "1.0.0", {"com.example.Model": "^1.0.0"})
    add(store, "com.example.App", "1.0.0", {"com.example.Lib": "^1.0.0", "com.example.Model": "^1.0.0"})
    add(store, "com.example.Alone", "1.0.0")
    resolved = resolve({"com.example.App": "1.0.0", "com.example.Alone": "1.0.0"}, store)
    order = dependency_order(resolved, store)
    assert order.index("com.example.Model") < order.index("com.example.Lib") < order.index("com.example.App")
    assert sorted(order) == sorted(resolved)


def test_dependency_cycle_is_named(store):
    add(store, "com.example.A", "1.0.0", {"com.example.B": "^1.0.0"})
    add(store, "com.example.B", "1.0.0", {"com.example.C": "^1.0.0"})
    add(store, "com.example.C", "1.0.0", {"com.example.A": "^1.0.0"})
    resolved = resolve({"com.example.A": "1.0.0"}, store)
    with pytest.raises(ResolutionError, match="dependency cycle: com.example.A -> com.example.B -> com.example.C "
                                              "-> com.example.A"):
        dependency_order(resolved, store)


def test_corrupt_stored_recipe_is_a_resolution_error(store):
    add(store, "com.example.App", "1.0.0")
    store.recipe_file("com.example.App", "1.0.0").write_text('{"ComponentName": "com.example.App", '
                                                              '"ComponentVersion": "1.0.0", "Manifests": 5}')
    with pytest.raises(ResolutionError, match="cannot read the stored recipe of com.example.App 1.0.0: .*RecipeFormatVersion is required"):
        resolve({"com.example.App": "1.0.0"}, store)
