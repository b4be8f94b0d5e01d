"""Greengrass v2 component recipes: parsing and validation, platform selection, recipe variables,
dependency resolution over the local component store, and artifact preparation.

  model      typed Recipe / Manifest / Artifact / LifecycleStep and RecipeError
  keys       case-insensitive recipe keys -> canonical casing
  loader     load_recipe / parse_recipe (schema.json is our schema of the recipe reference)
  platform   current_platform / select_manifest
  variables  interpolate recipe variables ({artifacts:path}, {configuration:/x}, ...)
  store      ComponentStore: ROOT/packages/recipes/<name>-<version>.json
  resolver   resolve / dependency_order (npm-style VersionRequirement ranges)
  artifacts  prepare_artifacts / digest_of
"""

from edgeloop.simulator.core.errors import ArtifactInstallError, MissingRecipeError, RecipeError, ResolutionError

from .artifacts import digest_of, prepare_artifacts
from .loader import MAX_RECIPE_BYTES, load_recipe, parse_recipe
from .model import DEFAULT_TIMEOUTS, Artifact, Dependency, Lifecycle, LifecycleStep, Manifest, Recipe
from .platform import current_platform, select_manifest
from .resolver import dependency_order, resolve
from .store import ComponentStore
from .variables import VariableContext, config_lookup_from, interpolate, interpolate_all

__all__ = [
    "ArtifactInstallError", "digest_of", "prepare_artifacts",
    "MAX_RECIPE_BYTES", "load_recipe", "parse_recipe",
    "DEFAULT_TIMEOUTS", "Artifact", "Dependency", "Lifecycle", "LifecycleStep", "Manifest", "Recipe", "RecipeError",
    "current_platform", "select_manifest",
    "ResolutionError", "dependency_order", "resolve",
    "ComponentStore", "MissingRecipeError",
    "VariableContext", "config_lookup_from", "interpolate", "interpolate_all",
]
