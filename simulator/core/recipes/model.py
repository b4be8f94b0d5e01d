"""Typed views of a validated recipe, so the rest of the core never digs through raw dictionaries.

The loader builds these only from recipes that passed the schema, so the accessors here can trust
shapes and only convert types (e.g. "true" -> True, "30" -> 30.0) the way Greengrass coerces them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STEP_NAMES = ("Bootstrap", "Install", "Startup", "Run", "Shutdown", "Recover")

# Documented defaults of the recipe reference; None means the step may run for ever (Run).
DEFAULT_TIMEOUTS: dict[str, float | None] = {
    "Bootstrap": 120.0, "Install": 120.0, "Startup": 120.0, "Run": None, "Shutdown": 15.0, "Recover": 60.0,
}


@dataclass(frozen=True)
class Dependency:
    version_requirement: str
    dependency_type: str = "HARD"


@dataclass(frozen=True)
class Artifact:
    uri: str
    unarchive: str = "NONE"
    permission_read: str = "OWNER"
    permission_execute: str = "NONE"
    digest: str | None = None
    algorithm: str | None = None

    @property
    def file_name(self) -> str:
        """The artifact's file name: the last segment of its URI (s3://b/a/x.zip and x.zip both give x.zip)."""
        tail = self.uri.split("://", 1)[-1] if "://" in self.uri else self.uri.split(":", 1)[-1]
        return tail.rstrip("/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class LifecycleStep:
    script: str
    requires_privilege: bool = False
    timeout: float | None = None
    setenv: dict[str, str] = field(default_factory=dict)
    skipif: str | None = None


@dataclass(frozen=True)
class Lifecycle:
    """A manifest's lifecycle with every step in one shape; `setenv` is the lifecycle-level Setenv."""

    setenv: dict[str, str]
    steps: dict[str, LifecycleStep]

    def step(self, name: str) -> LifecycleStep | None:
        return self.steps.get(name)


@dataclass(frozen=True)
class Manifest:
    platform: dict[str, str]
    lifecycle: dict[str, Any]  # effective lifecycle: the manifest's own, else the selected global one
    artifacts: list[Artifact]
    name: str | None = None
    selections: list[str] = field(default_factory=list)

    def lifecycle_steps(self) -> Lifecycle:
        return parse_lifecycle(self.lifecycle)


@dataclass(frozen=True)
class Recipe:
    name: str
    version: str
    description: str | None
    publisher: str | None
    default_configuration: dict[str, Any]
    dependencies: dict[str, Dependency]
    manifests: list[Manifest]
    lifecycle: dict[str, Any]  # the top-level (global) lifecycle as written, selection keys included
    source: Path | None
    raw: dict[str, Any]  # the whole recipe with canonical key casing (what the component store writes)
    component_type: str = "aws.greengrass.generic"


def env_value(value: Any) -> str:
    """Setenv values as Greengrass hands them to processes: strings as-is, booleans lower-case."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def parse_step(value: Any) -> LifecycleStep:
    if isinstance(value, str):
        return LifecycleStep(script=value)
    privilege = value.get("RequiresPrivilege", False)
    timeout = value.get("Timeout")
    return LifecycleStep(
        script=value["Script"],
        requires_privilege=privilege if isinstance(privilege, bool) else privilege == "true",
        timeout=None if timeout is None else float(timeout),
        setenv={k: env_value(v) for k, v in (value.get("Setenv") or {}).items()},
        skipif=value.get("Skipif"),
    )


def parse_lifecycle(lifecycle: dict[str, Any]) -> Lifecycle:
    return Lifecycle(
        setenv={k: env_value(v) for k, v in (lifecycle.get("Setenv") or {}).items()},
        steps={name: parse_step(lifecycle[name]) for name in STEP_NAMES if name in lifecycle},
    )
