"""Read a recipe file (YAML or JSON), validate it against our schema of the recipe reference, type it.

Every failure is a RecipeError whose message names the file, the field (a path such as
`Manifests[0].Lifecycle.Run.Timeout`) and the problem, in one sentence.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import jsonschema
import nodesemver
import yaml
from jsonschema.exceptions import ValidationError, best_match

from edgeloop.simulator.core.errors import RecipeError

from . import keys
from .model import Artifact, Dependency, Manifest, Recipe

# The Greengrass service refuses recipes larger than this (CreateComponentVersion inline recipe).
MAX_RECIPE_BYTES = 16_000
# Greengrass caps each of MAJOR, MINOR and PATCH at six digits.
MAX_VERSION_NUMBER = 999_999

Format = Literal["yaml", "json"]


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    return json.loads(resources.files(__package__).joinpath("schema.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    return jsonschema.Draft202012Validator(schema())


@lru_cache(maxsize=1)
def _lifecycle_validator() -> jsonschema.Draft202012Validator:
    root = schema()
    return jsonschema.Draft202012Validator({"$schema": root["$schema"], "$defs": root["$defs"],
                                            "$ref": "#/$defs/lifecycle"})


def is_semver(text: str) -> bool:
    """Strict semantic version (semver.org 2.0), the form a ComponentVersion must have."""
    return re.fullmatch(schema()["properties"]["ComponentVersion"]["pattern"], text) is not None


# ----------------------------------------------------------------------------------------- parsing

class _RecipeYamlLoader(yaml.SafeLoader):
    """SafeLoader without timestamps (the reference writes `RecipeFormatVersion: 2020-01-25` unquoted
    and means the string) and with duplicate keys refused instead of silently overwritten."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, (str, int, float, bool)):
                continue
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


_RecipeYamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _no_duplicate_pairs(source: str):
    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise RecipeError(source, "", f"is not valid JSON: duplicate key {key!r}")
            out[key] = value
        return out
    return hook


def _parse_text(text: str, source: str, fmt: Format) -> Any:
    if fmt == "json":
        try:
            return json.loads(text, object_pairs_hook=_no_duplicate_pairs(source))
        except json.JSONDecodeError as exc:
            raise RecipeError(source, "", f"is not valid JSON at line {exc.lineno}, column {exc.colno}: "
                                          f"{exc.msg}") from None
    if fmt == "yaml":
        try:
            return yaml.load(text, Loader=_RecipeYamlLoader)  # noqa: S506 - a SafeLoader subclass
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = exc.problem or exc.context or "syntax error"
            raise RecipeError(source, "", f"is not valid YAML{where}: {problem}") from None
        except yaml.YAMLError as exc:
            raise RecipeError(source, "", f"is not valid YAML: {exc}") from None
    raise RecipeError(source, "", f"has unsupported format {fmt!r}; use 'yaml' or 'json'")


# ---------------------------------------------------------------------------------- error messages

def format_path(path: list[str | int] | tuple) -> str:
    """`["Manifests", 0, "Lifecycle", "Run"]` -> `Manifests[0].Lifecycle.Run`; dotted names are quoted."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(part)):
            out += f".{part}" if out else str(part)
        else:
            out += f"[{json.dumps(str(part))}]"
    return out


def _show(value: Any) -> str:
    if isinstance(value, str):
        text = repr(value)
    else:
        try:
            text = json.dumps(value)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _describe(error: ValidationError) -> tuple[list[str | int], str]:
    """One error of the schema as (field path, problem)."""
    path = list(error.absolute_path)
    node = error.schema if isinstance(error.schema, dict) else {}
    if error.validator == "additionalProperties":
        allowed = list(node.get("properties", {}))
        unknown = [k for k in error.instance if k not in allowed]
        where = "a recipe key" if not path else "a known key here"
        return path + [unknown[0]], f"is not {where} (allowed: {', '.join(allowed)})"
    if error.validator == "required":
        missing = [k for k in error.validator_value if k not in error.instance]
        return path + [missing[0]], "is required but missing"
    if "x-message" in node:
        return path, node["x-message"]
    if "propertyNames" in error.relative_schema_path and "x-expected" in node:
        return path, f"has key {_show(error.instance)}, which must be {node['x-expected']}"
    if "x-expected" in node:
        return path, f"must be {node['x-expected']}, got {_show(error.instance)}"
    return path, error.message


def _raise_first(errors: list[ValidationError], source: str, prefix: list[str | int], note: str = "") -> None:
    if not errors:
        return
    error = best_match(errors)
    path, problem = _describe(error)
    raise RecipeError(source, format_path(prefix + path), problem + note)


# -------------------------------------------------------------------------------------- validation

def _check_version(recipe: dict[str, Any], source: str) -> None:
    numbers = re.match(r"(\d+)\.(\d+)\.(\d+)", recipe["ComponentVersion"])
    assert numbers is not None  # the schema pattern guarantees MAJOR.MINOR.PATCH
    if any(int(n) > MAX_VERSION_NUMBER for n in numbers.groups()):
        raise RecipeError(source, "ComponentVersion",
                          f"must have MAJOR, MINOR and PATCH of at most 6 digits, got {recipe['ComponentVersion']!r}")


def _check_requirements(recipe: dict[str, Any], source: str) -> None:
    for dep, props in (recipe.get("ComponentDependencies") or {}).items():
        requirement = props["VersionRequirement"]
        if nodesemver.valid_range(requirement, loose=False) is None:
            raise RecipeError(source, format_path(["ComponentDependencies", dep, "VersionRequirement"]),
                              f"must be an npm-style version range such as '^1.0.0' or '>=1.0.0 <2.0.0', "
                              f"got {requirement!r}")


def _check_platforms(recipe: dict[str, Any], source: str) -> None:
    for i, manifest in enumerate(recipe["Manifests"]):
        for key, value in (manifest.get("Platform") or {}).items():
            field = format_path(["Manifests", i, "Platform", key])
            if len(value) > 2 and value.startswith("/") and value.endswith("/"):
                try:
                    re.compile(value[1:-1])
                except re.error as exc:
                    raise RecipeError(source, field, f"is not a valid regular expression ({exc}): {value!r}") from None
            elif value not in ("*", "//") and not re.match(r"[A-Za-z0-9]", value):
                raise RecipeError(source, field, f"must start with a letter or digit, be '*', or be a "
                                                 f"/regular expression/, got {value!r}")


def select_global_lifecycle(lifecycle: Any, keywords: set[str], selectors: list[str]) -> Any:
    """The part of the global lifecycle a manifest's Selections pick (the reference's selection keys).

    At any level where a key is a selection keyword, the first of the manifest's selectors present
    wins, else `all`; sibling sections are dropped. Returns None when nothing is selected.
    """
    if not isinstance(lifecycle, dict):
        return lifecycle
    if any(k in keywords for k in lifecycle):
        chosen = next((lifecycle[s] for s in selectors if lifecycle.get(s) is not None), lifecycle.get("all"))
        return None if chosen is None else select_global_lifecycle(chosen, keywords, selectors)
    out = {}
    for key, value in lifecycle.items():
        picked = select_global_lifecycle(value, keywords, selectors)
        if picked is not None:
            out[key] = picked
    return out


def _effective_lifecycles(recipe: dict[str, Any], source: str) -> list[dict[str, Any]]:
    """Each manifest's lifecycle: its own if it has one, else the global lifecycle under its Selections."""
    manifests = recipe["Manifests"]
    keywords = {"all"} | {s for m in manifests for s in (m.get("Selections") or [])}
    global_lifecycle = recipe.get("Lifecycle") or {}
    out = []
    for i, manifest in enumerate(manifests):
        own = manifest.get("Lifecycle")
        if own:
            out.append(own)
            continue
        selected = select_global_lifecycle(global_lifecycle, keywords, manifest.get("Selections") or ["all"])
        selected = selected or {}
        errors = list(_lifecycle_validator().iter_errors(selected))
        _raise_first(errors, source, ["Lifecycle"], f" (in the global lifecycle as selected for Manifests[{i}])")
        out.append(selected)
    return out


# --------------------------------------------------------------------------------------- public API

def parse_recipe(text: str, source: str, fmt: Format, *, max_bytes: int | None = MAX_RECIPE_BYTES,
                 path: Path | None = None) -> Recipe:
    """Parse, normalise, validate and type one recipe. `source` names it in error messages."""
    size = len(text.encode("utf-8"))
    if max_bytes is not None and size > max_bytes:
        raise RecipeError(source, "", f"is {size:,} bytes; the Greengrass service accepts recipes of at most "
                                      f"{max_bytes:,} bytes, so move large content into artifacts")
    data = _parse_text(text, source, fmt)
    if not isinstance(data, dict):
        raise RecipeError(source, "", f"must hold a recipe object at the top level, got {_show(data)}")

    def duplicate(at: list, first: str, second: str) -> RecipeError:
        return RecipeError(source, format_path(at) or "the top level",
                           f"has both {first!r} and {second!r}; recipe keys are matched case-insensitively, "
                           f"so give each key once")

    raw = keys.normalise(data, keys.RECIPE, duplicate)
    _raise_first(list(_validator().iter_errors(raw)), source, [])
    _check_version(raw, source)
    _check_requirements(raw, source)
    _check_platforms(raw, source)
    lifecycles = _effective_lifecycles(raw, source)
    return _build(raw, lifecycles, path)


def load_recipe(path: Path) -> Recipe:
    """Load a recipe file; the format follows the extension (.yaml, .yml or .json)."""
    path = Path(path)
    source = str(path)
    suffix = path.suffix.lower()
    fmt: Format
    if suffix in (".yaml", ".yml"):
        fmt = "yaml"
    elif suffix == ".json":
        fmt = "json"
    else:
        raise RecipeError(source, "", f"has extension {path.suffix!r}; a recipe file ends in .yaml, .yml or .json")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RecipeError(source, "", f"cannot be read: {exc.strerror or exc}") from None
    if len(data) > MAX_RECIPE_BYTES:
        raise RecipeError(source, "", f"is {len(data):,} bytes; the Greengrass service accepts recipes of at most "
                                      f"{MAX_RECIPE_BYTES:,} bytes, so move large content into artifacts")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RecipeError(source, "", f"is not UTF-8 text (byte {exc.start})") from None
    return parse_recipe(text, source, fmt, path=path)


def _build(raw: dict[str, Any], lifecycles: list[dict[str, Any]], path: Path | None) -> Recipe:
    manifests = []
    for manifest, lifecycle in zip(raw["Manifests"], lifecycles, strict=True):
        artifacts = []
        for art in manifest.get("Artifacts") or []:
            permission = art.get("Permission") or {}
            digest = art.get("Digest")
            artifacts.append(Artifact(
                uri=art["URI"], unarchive=art.get("Unarchive", "NONE"),
                permission_read=permission.get("Read", "OWNER"),
                permission_execute=permission.get("Execute", "NONE"),
                digest=digest, algorithm=art.get("Algorithm", "SHA-256") if digest else art.get("Algorithm"),
            ))
        manifests.append(Manifest(platform=dict(manifest.get("Platform") or {}), lifecycle=lifecycle,
                                  artifacts=artifacts, name=manifest.get("Name"),
                                  selections=list(manifest.get("Selections") or [])))
    configuration = raw.get("ComponentConfiguration") or {}
    return Recipe(
        name=raw["ComponentName"], version=raw["ComponentVersion"],
        description=raw.get("ComponentDescription"), publisher=raw.get("ComponentPublisher"),
        default_configuration=configuration.get("DefaultConfiguration") or {},
        dependencies={name: Dependency(d["VersionRequirement"], d.get("DependencyType", "HARD"))
                      for name, d in (raw.get("ComponentDependencies") or {}).items()},
        manifests=manifests, lifecycle=raw.get("Lifecycle") or {}, source=path, raw=raw,
        component_type=raw.get("ComponentType", "aws.greengrass.generic"),
    )
