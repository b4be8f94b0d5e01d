"""Case-insensitive recipe keys, brought to their canonical casing before validation.

Greengrass matches recipe keys case-insensitively ("lifecycle", "LIFECYCLE" and "Lifecycle" are
the same key). We rename every *known* key to the casing of the recipe reference so that the
schema, the error messages and the stored recipe speak one spelling. Values the user owns are
never touched: DefaultConfiguration, Setenv, dependency names, Platform values and custom
Platform attribute names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

SELF = "self"  # unknown keys of this object hold the same kind of object (selection keys)


@dataclass(frozen=True)
class Obj:
    """An object whose known keys have a canonical spelling; `extra` says how to treat other keys' values."""

    keys: dict[str, tuple[str, Any]]
    extra: Any = None  # None: leave values of unknown keys untouched; SELF: recurse with this Obj

    @classmethod
    def of(cls, *entries: tuple[str, Any], extra: Any = None) -> Obj:
        return cls({name.lower(): (name, child) for name, child in entries}, extra)


@dataclass(frozen=True)
class ListOf:
    item: Any


@dataclass(frozen=True)
class MapOf:
    """An object whose keys are user names (left as written) and whose values are `value`."""

    value: Any


OPAQUE = None

_STEP_ENTRIES = (("Script", OPAQUE), ("RequiresPrivilege", OPAQUE), ("Timeout", OPAQUE),
                 ("Setenv", OPAQUE), ("Skipif", OPAQUE))
STEP = Obj.of(*_STEP_ENTRIES)
# In the global lifecycle any level may hold selection keys, so unknown keys recurse.
GLOBAL_STEP = Obj.of(*_STEP_ENTRIES, extra=SELF)

_STEP_NAMES = ("Bootstrap", "Install", "Startup", "Run", "Shutdown", "Recover")
LIFECYCLE = Obj.of(("Setenv", OPAQUE), *((name, STEP) for name in _STEP_NAMES))
GLOBAL_LIFECYCLE = Obj.of(("Setenv", OPAQUE), *((name, GLOBAL_STEP) for name in _STEP_NAMES), extra=SELF)

PLATFORM = Obj.of(("os", OPAQUE), ("architecture", OPAQUE), ("architecture.detail", OPAQUE))

ARTIFACT = Obj.of(
    ("URI", OPAQUE), ("Unarchive", OPAQUE), ("Digest", OPAQUE), ("Algorithm", OPAQUE),
    ("Permission", Obj.of(("Read", OPAQUE), ("Execute", OPAQUE))),
)

MANIFEST = Obj.of(
    ("Name", OPAQUE), ("Platform", PLATFORM), ("Lifecycle", LIFECYCLE), ("Selections", OPAQUE),
    ("Artifacts", ListOf(ARTIFACT)),
)

RECIPE = Obj.of(
    ("RecipeFormatVersion", OPAQUE), ("ComponentName", OPAQUE), ("ComponentVersion", OPAQUE),
    ("ComponentType", OPAQUE), ("ComponentDescription", OPAQUE), ("ComponentPublisher", OPAQUE),
    ("ComponentSource", OPAQUE),
    ("ComponentConfiguration", Obj.of(("DefaultConfiguration", OPAQUE))),
    ("ComponentDependencies", MapOf(Obj.of(("VersionRequirement", OPAQUE), ("DependencyType", OPAQUE)))),
    ("Manifests", ListOf(MANIFEST)),
    ("Lifecycle", GLOBAL_LIFECYCLE),
)

PathPart = str | int
OnDuplicate = Callable[[list[PathPart], str, str], Exception]


def normalise(value: Any, node: Any, on_duplicate: OnDuplicate, path: list[PathPart] | None = None) -> Any:
    """A copy of `value` with known keys renamed to canonical casing.

    Two keys that differ only in case would silently shadow each other, so `on_duplicate(path,
    first, second)` builds the exception raised for them.
    """
    path = path or []
    if node is None:
        return value
    if isinstance(node, ListOf):
        if not isinstance(value, list):
            return value
        return [normalise(item, node.item, on_duplicate, path + [i]) for i, item in enumerate(value)]
    if not isinstance(value, dict):
        return value
    if isinstance(node, MapOf):
        return {k: normalise(v, node.value, on_duplicate, path + [k]) for k, v in value.items()}
    out: dict[Any, Any] = {}
    written_as: dict[Any, Any] = {}
    for key, child_value in value.items():
        entry = node.keys.get(key.lower()) if isinstance(key, str) else None
        if entry is not None:
            canonical, child = entry
        else:
            canonical, child = key, (node if node.extra == SELF else node.extra)
        if canonical in out:
            raise on_duplicate(path, str(written_as[canonical]), str(key))
        written_as[canonical] = key
        out[canonical] = normalise(child_value, child, on_duplicate, path + [canonical])
    return out
