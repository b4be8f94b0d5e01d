"""Recipe variables ({artifacts:path}, {configuration:/ptr}, {other.Comp:work:path}, ...) in lifecycle text.

Follows the Greengrass nucleus: a variable it cannot resolve (unknown namespace or key, a
configuration pointer with no node, a component that is not a direct dependency) is left in the
text unchanged and reported; configuration strings go in as they are and any other JSON value
(numbers, booleans, null, objects, lists) goes in as compact JSON. Replacement is one pass over the
original text, so a configuration value that itself contains `{...}` is never expanded again.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..paths import CorePaths

log = logging.getLogger(__name__)

# {namespace:key} or {component:namespace:key}; a key may hold any character but ':' and '}'.
_VARIABLE = re.compile(r"\{(?:([\w.-]+):)?([\w.]+):([^:}]+)\}")

ConfigLookup = Callable[[str, str], Any]


@dataclass
class VariableContext:
    """What interpolation needs to know about one component; the lifecycle manager fills it.

    `versions` maps every deployed component name to its version (artifact folders are per
    version). `config_lookup(component, pointer)` returns the value at an RFC 6901 pointer in that
    component's configuration and raises LookupError (e.g. KeyError) when there is no such node.
    `warnings` collects one sentence per variable left unresolved.
    """

    component: str
    paths: CorePaths
    versions: Mapping[str, str]
    thing_name: str
    config_lookup: ConfigLookup
    dependencies: frozenset[str] = frozenset()
    warnings: list[str] = field(default_factory=list)


def _config_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def _system_value(ctx: VariableContext, component: str, namespace: str, key: str) -> str | None:
    if namespace == "kernel" and key == "rootPath":
        return str(ctx.paths.root)
    if namespace == "iot" and key == "thingName":
        return ctx.thing_name
    if namespace == "work" and key == "path":
        return str(ctx.paths.work_dir(component))
    if namespace == "artifacts" and key in ("path", "decompressedPath"):
        version = ctx.versions.get(component)
        if version is None:
            return None
        if key == "path":
            return str(ctx.paths.artifact_dir(component, version))
        return str(ctx.paths.decompressed_dir(component, version))
    return None


def _resolve(ctx: VariableContext, target: str | None, namespace: str, key: str) -> tuple[str | None, str]:
    """(replacement or None, reason when None)."""
    component = target or ctx.component
    if target is not None and target != ctx.component and target not in ctx.dependencies:
        return None, f"{target} is not a direct dependency of {ctx.component}"
    if namespace == "configuration":
        try:
            return _config_text(ctx.config_lookup(component, key)), ""
        except LookupError:
            return None, f"{component}'s configuration has no value at {key}"
    value = _system_value(ctx, component, namespace, key)
    if value is None:
        if namespace == "artifacts" and key in ("path", "decompressedPath"):
            return None, f"no version of {component} is deployed"
        return None, f"{namespace}:{key} is not a recipe variable"
    return value, ""


def interpolate(text: str, ctx: VariableContext) -> str:
    """`text` with every resolvable recipe variable replaced; unresolvable ones stay as written."""

    def replace(match: re.Match[str]) -> str:
        target, namespace, key = match.groups()
        value, reason = _resolve(ctx, target, namespace, key)
        if value is None:
            warning = f"{ctx.component}: left {match.group(0)} unresolved: {reason}"
            ctx.warnings.append(warning)
            log.warning(warning)
            return match.group(0)
        return value

    return _VARIABLE.sub(replace, text)


def interpolate_all(value: Any, ctx: VariableContext) -> Any:
    """Interpolate every string inside a lifecycle structure (dicts and lists), keys left alone."""
    if isinstance(value, str):
        return interpolate(value, ctx)
    if isinstance(value, dict):
        return {k: interpolate_all(v, ctx) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate_all(v, ctx) for v in value]
    return value


def pointer_lookup(tree: Any, pointer: str) -> Any:
    """The value at an RFC 6901 JSON pointer in `tree` ("" is the whole tree); KeyError if absent.

    Hand-written because it is ten lines and a library for it would be one more dependency on edge devices.
    """
    if pointer == "":
        return tree
    if not pointer.startswith("/"):
        raise KeyError(pointer)
    node = tree
    for raw in pointer[1:].split("/"):
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise KeyError(pointer)
    return node


def config_lookup_from(configs: Mapping[str, Any]) -> ConfigLookup:
    """A `config_lookup` over {component name: configuration tree}, e.g. a configuration store snapshot."""

    def lookup(component: str, pointer: str) -> Any:
        if component not in configs:
            raise KeyError(component)
        return pointer_lookup(configs[component], pointer)

    return lookup
