"""The local component store: the recipes this core has, one normalised JSON file per component version.

Files live at `ROOT/packages/recipes/<name>-<version>.json` and hold the recipe with canonical key
casing, as the core wrote it when the recipe entered (deployment or `core deploy --recipeDir`).
"""

from __future__ import annotations

import glob
import json
import os
import tempfile
from pathlib import Path

import nodesemver

from edgeloop.simulator.core.errors import MissingRecipeError

from ..paths import CorePaths
from .loader import is_semver, parse_recipe
from .model import Recipe


class ComponentStore:
    def __init__(self, paths: CorePaths) -> None:
        self.paths = paths
        self.folder = paths.recipes

    def recipe_file(self, name: str, version: str) -> Path:
        return self.folder / f"{name}-{version}.json"

    def add(self, recipe: Recipe) -> Path:
        """Store (or replace) a recipe; written atomically so a crash never leaves half a file."""
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.recipe_file(recipe.name, recipe.version)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".recipe-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump(recipe.raw, out, indent=2)
                out.write("\n")
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return target

    def get(self, name: str, version: str) -> Recipe:
        path = self.recipe_file(name, version)
        if not path.is_file():
            have = self.versions(name)
            raise MissingRecipeError(
                f"the component store {self.folder} has no recipe for {name} {version}; "
                + (f"it has versions {', '.join(have)}" if have else f"it has no version of {name}"))
        # The size limit was enforced when the recipe entered; our JSON re-serialisation may be larger.
        recipe = parse_recipe(path.read_text(encoding="utf-8"), str(path), "json", max_bytes=None, path=path)
        if (recipe.name, recipe.version) != (name, version):
            raise MissingRecipeError(f"{path} holds {recipe.name} {recipe.version}, not {name} {version}")
        return recipe

    def has(self, name: str, version: str) -> bool:
        return self.recipe_file(name, version).is_file()

    def versions(self, name: str) -> list[str]:
        """Every stored version of `name`, lowest first (semver order)."""
        prefix = f"{name}-"
        found = []
        for path in self.folder.glob(f"{glob.escape(name)}-*.json") if self.folder.is_dir() else []:
            version = path.name[len(prefix):-len(".json")]
            if not is_semver(version):
                continue
            # Names may contain '-', so "a-1.0.0-2.0.0.json" could be a prerelease of "a"; ask the file.
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(data, dict) and data.get("ComponentName") == name and data.get("ComponentVersion") == version:
                found.append(version)
        return nodesemver.sort(found, loose=False)

    def components(self) -> dict[str, list[str]]:
        """{name: versions} for every recipe in the store."""
        out: dict[str, list[str]] = {}
        for path in sorted(self.folder.glob("*.json")) if self.folder.is_dir() else []:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if (isinstance(data, dict) and isinstance(data.get("ComponentName"), str)
                    and isinstance(data.get("ComponentVersion"), str)):
                out.setdefault(data["ComponentName"], []).append(data["ComponentVersion"])
        return {name: nodesemver.sort(v, loose=False) for name, v in out.items()}

    def remove(self, name: str, version: str) -> None:
        self.recipe_file(name, version).unlink(missing_ok=True)
