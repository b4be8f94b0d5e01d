"""npm-style dependency resolution over the local component store, as a Greengrass deployment does it.

Root components come from the deployment with exact versions. Every other component gets the
highest version in the store that satisfies the VersionRequirement of every component that
depends on it (HARD and SOFT alike). Built-in components (provided by the core itself, e.g.
aws.greengrass.Nucleus) satisfy dependencies without a recipe. Choosing a version can change the
requirements it brings, so resolution repeats until the choice no longer changes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

import nodesemver

from edgeloop.simulator.core.errors import MissingRecipeError, RecipeError, ResolutionError

from .model import Recipe
from .store import ComponentStore

MAX_ROUNDS = 20

Requirement = tuple[str, str]  # (who requires it, e.g. "com.x.App 1.0.0"; the range)


def _listing(requirements: list[Requirement]) -> str:
    return "; ".join(f"{who} requires {rng!r}" for who, rng in requirements)


def _stored(store: ComponentStore, name: str, version: str) -> Recipe:
    """A stored recipe, with a broken or vanished store file reported as a resolution failure."""
    try:
        return store.get(name, version)
    except (RecipeError, MissingRecipeError) as exc:
        raise ResolutionError(f"cannot read the stored recipe of {name} {version}: {exc}", name) from exc


def _satisfies(version: str, requirement: str) -> bool:
    return bool(nodesemver.satisfies(version, requirement, loose=False))


class _Resolver:
    def __init__(self, roots: Mapping[str, str], store: ComponentStore, builtins: Mapping[str, str]) -> None:
        self.roots = dict(roots)
        self.store = store
        self.builtins = dict(builtins)
        self._available: dict[str, list[str]] = {}
        self._deps: dict[tuple[str, str], dict[str, str]] = {}

    def available(self, name: str) -> list[str]:
        if name not in self._available:
            self._available[name] = self.store.versions(name)
        return self._available[name]

    def dependencies(self, name: str, version: str) -> dict[str, str]:
        if name in self.builtins:
            return {}
        key = (name, version)
        if key not in self._deps:
            recipe = _stored(self.store, name, version)
            self._deps[key] = {dep: d.version_requirement for dep, d in recipe.dependencies.items()}
        return self._deps[key]

    def check_roots(self) -> None:
        for name, version in sorted(self.roots.items()):
            if name in self.builtins:
                if version != self.builtins[name]:
                    raise ResolutionError(
                        f"the deployment asks for {name} {version}, but the local core provides {name} "
                        f"{self.builtins[name]} built in and cannot change it", name, [], [self.builtins[name]])
            elif not self.store.has(name, version):
                have = self.available(name)
                raise ResolutionError(
                    f"root component {name} {version} has no recipe in the component store {self.store.folder}; "
                    f"available versions: {', '.join(have) or 'none'}", name, [], have)

    def choose(self, name: str, requirements: list[Requirement], hint: str | None) -> str:
        """The version of `name` to use under `requirements`, or a ResolutionError saying why there is none."""
        if name in self.roots:
            fixed, what = self.roots[name], f"the deployment pins {name} at {self.roots[name]}"
        elif name in self.builtins:
            fixed, what = self.builtins[name], f"{name} is built into the local core at {self.builtins[name]}"
        else:
            fixed = None
        if fixed is not None:
            broken = [(who, rng) for who, rng in requirements if not _satisfies(fixed, rng)]
            if broken:
                raise ResolutionError(f"cannot resolve {name}: {what}, which does not satisfy: {_listing(broken)}",
                                      name, requirements, [fixed])
            return fixed
        available = self.available(name)
        if not available:
            raise ResolutionError(
                f"cannot resolve {name}: {_listing(requirements)}, but the component store "
                f"{self.store.folder} has no recipe for {name}", name, requirements, [])
        fitting = [v for v in available if all(_satisfies(v, rng) for _, rng in requirements)]
        if not fitting:
            raise ResolutionError(
                f"cannot resolve {name}: no available version satisfies every requirement ({_listing(requirements)}); "
                f"available versions: {', '.join(available)}", name, requirements, available)
        return hint if hint in fitting else fitting[-1]

    def walk(self, hints: Mapping[str, str]) -> tuple[dict[str, str], dict[str, list[Requirement]]]:
        """Visit the graph from the roots; return the versions used and every requirement met on the way."""
        chosen = dict(self.roots)
        requirements: dict[str, list[Requirement]] = {}
        queue = deque(sorted(self.roots))
        while queue:
            name = queue.popleft()
            version = chosen[name]
            for dep, rng in sorted(self.dependencies(name, version).items()):
                requirements.setdefault(dep, []).append((f"{name} {version}", rng))
                if dep not in chosen:
                    chosen[dep] = self.choose(dep, requirements[dep], hints.get(dep))
                    queue.append(dep)
        return chosen, requirements


def resolve(roots: Mapping[str, str], store: ComponentStore,
            builtins: Mapping[str, str] | None = None) -> dict[str, str]:
    """{component: version} for the roots and everything they need, built-ins included when required."""
    resolver = _Resolver(roots, store, builtins or {})
    resolver.check_roots()
    hints: dict[str, str] = {}
    for _ in range(MAX_ROUNDS):
        chosen, requirements = resolver.walk(hints)
        settled = {name: resolver.choose(name, reqs, chosen.get(name)) for name, reqs in requirements.items()}
        if all(chosen[name] == version for name, version in settled.items()):
            return dict(sorted(chosen.items()))
        hints = settled
    raise ResolutionError(f"dependency resolution for {', '.join(sorted(roots))} did not settle after "
                          f"{MAX_ROUNDS} rounds: the requirements keep changing with the versions chosen")


def dependency_order(resolved: Mapping[str, str], store: ComponentStore,
                     builtins: Mapping[str, str] | None = None) -> list[str]:
    """Component names with every dependency before its dependents (ties by name); a cycle is an error."""
    builtins = builtins or {}

    def deps(name: str) -> list[str]:
        if name in builtins and not store.has(name, resolved[name]):
            return []
        recipe = _stored(store, name, resolved[name])
        return sorted(d for d in recipe.dependencies if d in resolved)

    order: list[str] = []
    state: dict[str, str] = {}  # "visiting" or "done"
    stack: list[str] = []

    def visit(name: str) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            cycle = stack[stack.index(name):] + [name]
            raise ResolutionError(f"dependency cycle: {' -> '.join(cycle)}", name)
        state[name] = "visiting"
        stack.append(name)
        for dep in deps(name):
            visit(dep)
        stack.pop()
        state[name] = "done"
        order.append(name)

    for name in sorted(resolved):
        visit(name)
    return order
