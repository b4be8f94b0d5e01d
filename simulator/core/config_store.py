"""Component configuration: the one owner of every component's configuration tree.

Semantics follow Greengrass: a component's configuration starts from its recipe's
DefaultConfiguration; a deployment's configuration update RESETs JSON pointers to their defaults
and then MERGEs a JSON object; components read any component's configuration over IPC, update
their own, and subscribers hear which key path changed.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edgeloop.simulator.core.errors import ConfigError, StaleUpdateError

log = logging.getLogger(__name__)

KeyPath = tuple[str, ...]
Listener = Callable[[str, list[str]], None]


def pointer_to_path(pointer: str) -> KeyPath:
    """RFC 6901 JSON pointer ("/a/b~1c") to a key path (("a", "b/c")); "" is the whole tree."""
    if pointer == "":
        return ()
    if not pointer.startswith("/"):
        raise ConfigError(f"JSON pointer {pointer!r} must start with '/'")
    return tuple(p.replace("~1", "/").replace("~0", "~") for p in pointer[1:].split("/"))


def deep_merge(base: dict, update: dict) -> dict:
    """A copy of `base` with `update` merged in: objects merge key by key, everything else replaces."""
    out = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _leaf_paths(value: Any, prefix: KeyPath = ()) -> list[KeyPath]:
    if isinstance(value, dict) and value:
        paths: list[KeyPath] = []
        for key, child in value.items():
            paths.extend(_leaf_paths(child, prefix + (key,)))
        return paths
    return [prefix]


def _get(tree: Any, path: KeyPath) -> Any:
    node = tree
    for key in path:
        if not isinstance(node, dict) or key not in node:
            raise KeyError("/".join(path))
        node = node[key]
    return node


def _related(a: KeyPath, b: KeyPath) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


class ConfigStore:
    def __init__(self, persist_to: Path | None = None) -> None:
        self._trees: dict[str, dict] = {}
        self._defaults: dict[str, dict] = {}
        self._timestamps: dict[tuple[str, KeyPath], float] = {}
        self._listeners: list[tuple[str, KeyPath, Listener]] = []
        self._versions: dict[str, int] = {}
        self._persist_to = persist_to
        if persist_to is not None and persist_to.exists():
            saved = json.loads(persist_to.read_text())
            self._trees = saved.get("configuration", {})
            self._defaults = saved.get("defaults", {})

    # -- reading ---------------------------------------------------------------------------
    def components(self) -> list[str]:
        return sorted(self._trees)

    def get(self, component: str, key_path: list[str] | KeyPath = ()) -> Any:
        """The value at `key_path` (a deep copy); KeyError if the component or path is unknown."""
        if component not in self._trees:
            raise KeyError(component)
        return copy.deepcopy(_get(self._trees[component], tuple(key_path)))

    def defaults(self, component: str) -> dict | None:
        """The DefaultConfiguration last installed for `component` (None if unknown)."""
        value = self._defaults.get(component)
        return copy.deepcopy(value) if value is not None else None

    def version(self, component: str) -> int:
        """Bumps on every change of `component`'s configuration (lets readers cache derived views)."""
        return self._versions.get(component, 0)

    def snapshot(self) -> dict[str, dict]:
        return copy.deepcopy(self._trees)

    # -- writing ---------------------------------------------------------------------------
    def apply_deployment(self, component: str, defaults: dict, update: dict | None = None) -> None:
        """Install `component`'s DefaultConfiguration and a deployment's {"RESET": [...], "MERGE": {...}}.

        A component already configured keeps its values; keys new in `defaults` are added. RESET
        pointers go back to the defaults (or disappear when the defaults lack them), then MERGE applies.
        """
        update = update or {}
        before = self._trees.get(component)
        tree = deep_merge(defaults, before) if before is not None else copy.deepcopy(defaults)
        for pointer in update.get("RESET", []) or []:
            path = pointer_to_path(pointer)
            if path == ():
                tree = copy.deepcopy(defaults)
                continue
            try:
                default_value = _get(defaults, path)
            except KeyError:
                parent = tree
                try:
                    parent = _get(tree, path[:-1])
                except KeyError:
                    continue
                if isinstance(parent, dict):
                    parent.pop(path[-1], None)
            else:
                self._set(tree, path, copy.deepcopy(default_value))
        merge = update.get("MERGE") or {}
        if not isinstance(merge, dict):
            raise ConfigError(f"MERGE for {component} must be a JSON object, got {type(merge).__name__}")
        tree = deep_merge(tree, merge)
        self._defaults[component] = copy.deepcopy(defaults)
        self._replace(component, tree)

    def restore(self, component: str, tree: dict | None, defaults: dict | None) -> None:
        """Put back a configuration saved before a deployment (rollback); None removes the component."""
        if tree is None:
            self.remove(component)
            return
        self._defaults[component] = copy.deepcopy(defaults or {})
        self._replace(component, copy.deepcopy(tree))

    def remove(self, component: str) -> None:
        if self._trees.pop(component, None) is not None:
            self._defaults.pop(component, None)
            self._versions[component] = self.version(component) + 1
            self._save()

    def update(self, component: str, key_path: list[str], value_to_merge: Any,
               timestamp: float | None = None) -> None:
        """UpdateConfiguration: merge `value_to_merge` at `key_path` of `component`'s own tree."""
        if component not in self._trees:
            raise KeyError(component)
        stamp = time.time() if timestamp is None else timestamp
        path = tuple(key_path)
        changed = [path + leaf for leaf in _leaf_paths(value_to_merge)] if isinstance(value_to_merge, dict) \
            else [path]
        for leaf in changed:
            for (comp, known), when in self._timestamps.items():
                if comp == component and _related(known, leaf) and when > stamp:
                    raise StaleUpdateError(
                        f"the value at /{'/'.join(known)} was written at {when:.3f}, after this update's "
                        f"timestamp {stamp:.3f}")
        tree = copy.deepcopy(self._trees[component])
        if path == ():
            if not isinstance(value_to_merge, dict):
                raise ConfigError("valueToMerge at the root key path must be a JSON object")
            tree = deep_merge(tree, value_to_merge)
        else:
            try:
                existing = _get(tree, path)
            except KeyError:
                existing = None
            if isinstance(existing, dict) and isinstance(value_to_merge, dict):
                self._set(tree, path, deep_merge(existing, value_to_merge))
            else:
                self._set(tree, path, copy.deepcopy(value_to_merge))
        for leaf in changed:
            self._timestamps[(component, leaf)] = stamp
        self._commit(component, tree, changed)

    # -- listening -------------------------------------------------------------------------
    def subscribe(self, component: str, key_path: list[str] | KeyPath, listener: Listener) -> Callable[[], None]:
        """Call `listener(component, changed_key_path)` on changes at or below/above `key_path`."""
        entry = (component, tuple(key_path), listener)
        self._listeners.append(entry)

        def unsubscribe() -> None:
            if entry in self._listeners:
                self._listeners.remove(entry)
        return unsubscribe

    # -- internals -------------------------------------------------------------------------
    @staticmethod
    def _set(tree: dict, path: KeyPath, value: Any) -> None:
        node = tree
        for key in path[:-1]:
            if not isinstance(node.get(key), dict):
                node[key] = {}
            node = node[key]
        node[path[-1]] = value

    def _replace(self, component: str, tree: dict) -> None:
        before = self._trees.get(component, {})
        changed = sorted({p for p in _leaf_paths(before) + _leaf_paths(tree)
                          if _safe_get(before, p) != _safe_get(tree, p)})
        self._commit(component, tree, changed)

    def _commit(self, component: str, tree: dict, changed: list[KeyPath]) -> None:
        self._trees[component] = tree
        self._versions[component] = self.version(component) + 1
        self._save()
        for comp, watched, listener in list(self._listeners):
            if comp != component:
                continue
            for leaf in changed:
                if _related(watched, leaf):
                    try:
                        listener(component, list(leaf))
                    except Exception:
                        log.exception("configuration listener for %s failed", component)

    def _save(self) -> None:
        if self._persist_to is None:
            return
        tmp = self._persist_to.with_suffix(".tmp")
        tmp.write_text(json.dumps({"configuration": self._trees, "defaults": self._defaults}, indent=1))
        os.replace(tmp, self._persist_to)


def _safe_get(tree: Any, path: KeyPath) -> Any:
    try:
        return _get(tree, path)
    except KeyError:
        return KeyError
