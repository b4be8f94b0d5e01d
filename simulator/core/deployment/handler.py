"""The deployment handler: one deployment at a time, from a queue, with Greengrass's failure handling.

A deployment goes through three phases:
1. prepare, changing nothing that runs: import the recipes into the component store, resolve the
   dependency versions, select each component's manifest for this platform, copy and verify
   artifacts, check configuration updates; any failure here is FAILED_NO_STATE_CHANGE with a
   message that names the file and field;
2. notify: subscribed components hear of the update and may defer it;
3. apply: stop what is removed or replaced (dependents first), apply configuration, install and
   start what is new (dependencies first), and wait until each is RUNNING or FINISHED. When one is
   not, ROLLBACK puts the previous versions and configuration back; DO_NOTHING leaves it as it is.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edgeloop.simulator.core.errors import (
    ArtifactInstallError,
    ConfigError,
    DeploymentFailed,
    InvalidArguments,
    RecipeError,
    ResolutionError,
    ResourceNotFound,
)

from ..config_store import ConfigStore
from ..ipc.core_api import UpdateEvent
from ..lifecycle.component import ComponentSpec
from ..lifecycle.manager import LifecycleManager
from ..paths import CorePaths
from ..recipes.artifacts import prepare_artifacts
from ..recipes.loader import Recipe, load_recipe
from ..recipes.model import Manifest
from ..recipes.platform import select_manifest
from ..recipes.resolver import dependency_order, resolve
from ..recipes.store import ComponentStore
from .notifier import UpdateNotifier
from .records import (
    DeploymentRecord,
    DeploymentRecords,
    DeploymentRequest,
    DeploymentStatus,
    DetailedStatus,
    FailurePolicy,
)

log = logging.getLogger(__name__)

RECIPE_SUFFIXES = (".yaml", ".yml", ".json")
SpecBuilder = Callable[[Recipe, Manifest], ComponentSpec]


@dataclass
class DeployedSet:
    """What this device runs: the root components asked for, and every version resolved from them."""

    roots: dict[str, str] = field(default_factory=dict)
    resolved: dict[str, str] = field(default_factory=dict)
    recipe_digests: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> DeployedSet:
        if not path.exists():
            return cls()
        return cls(**json.loads(path.read_text()))

    def save(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.__dict__, indent=1))
        os.replace(tmp, path)


def recipe_digest(recipe: Recipe) -> str:
    return hashlib.sha256(json.dumps(recipe.raw, sort_keys=True).encode()).hexdigest()


class DeploymentHandler:
    def __init__(self, *, paths: CorePaths, store: ComponentStore, lifecycle: LifecycleManager,
                 config: ConfigStore, builtins: dict[str, str], platform: dict[str, str],
                 build_spec: SpecBuilder, notifier: UpdateNotifier, settle_timeout_s: float = 120.0,
                 stable_s: float = 3.0) -> None:
        self._paths = paths
        self._store = store
        self._lifecycle = lifecycle
        self._config = config
        self._builtins = builtins
        self._platform = platform
        self._build_spec = build_spec
        self.notifier = notifier
        self.settle_timeout_s = settle_timeout_s
        self.stable_s = stable_s
        self.records = DeploymentRecords(paths.deployments)
        self._deployed_file = paths.config / "deployed.json"
        self.deployed = DeployedSet.load(self._deployed_file)
        self._queue: asyncio.Queue[DeploymentRecord] = asyncio.Queue()
        self._worker: asyncio.Task | None = None

    # -- start-up --------------------------------------------------------------------------
    async def restore(self) -> None:
        """Bring back what was deployed before the core stopped (installed and started again, as Greengrass does)."""
        order = self._order(self.deployed.resolved)
        for name in order:
            if name in self._builtins:
                continue
            recipe = self._store.get(name, self.deployed.resolved[name])
            manifest = self._manifest(recipe)
            self._lifecycle.add(self._build_spec(recipe, manifest))
        self._lifecycle.start_all(order)
        # Deployments that were under way when the core stopped did not finish.
        for record in self.records.all():
            if record.status in (DeploymentStatus.QUEUED, DeploymentStatus.IN_PROGRESS):
                self._finish(record, DeploymentStatus.FAILED, DetailedStatus.FAILED_NO_STATE_CHANGE,
                             "the core stopped before this deployment finished", "CORE_RESTARTED")

    def start(self) -> None:
        self._worker = asyncio.create_task(self._work(), name="deployments")

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            await asyncio.gather(self._worker, return_exceptions=True)

    def order(self) -> list[str]:
        """Deployed components, dependencies first."""
        return self._order(self.deployed.resolved)

    # -- the DeploymentApi (IPC) -----------------------------------------------------------------
    def submit(self, request: DeploymentRequest) -> DeploymentRecord:
        if request.failure_policy not in set(FailurePolicy):
            raise InvalidArguments(f"failureHandlingPolicy must be ROLLBACK or DO_NOTHING, got {request.failure_policy!r}")
        record = DeploymentRecord.new(request)
        self.records.save(record)
        self._queue.put_nowait(record)
        return record

    def create_local_deployment(self, request: dict[str, Any]) -> str:
        return self.submit(DeploymentRequest.from_ipc(request)).deployment_id

    def deployment_status(self, deployment_id: str) -> dict[str, Any]:
        record = self.records.get(deployment_id)
        if record is None:
            raise ResourceNotFound(f"no deployment with id {deployment_id}")
        return record.to_ipc()

    def list_deployments(self) -> list[dict[str, Any]]:
        return [r.to_ipc() for r in self.records.all()]

    def subscribe_updates(self, component: str, callback: Callable[[UpdateEvent], None]) -> Callable[[], None]:
        return self.notifier.subscribe(component, callback)

    def defer_update(self, component: str, deployment_id: str, recheck_after_ms: int, message: str) -> None:
        self.notifier.defer(component, deployment_id, recheck_after_ms, message)

    # -- the work --------------------------------------------------------------------------
    async def _work(self) -> None:
        while True:
            record = await self._queue.get()
            try:
                await self._deploy(record)
            except Exception as exc:  # a bug must not stop later deployments
                log.exception("deployment %s crashed", record.deployment_id)
                self._finish(record, DeploymentStatus.FAILED, DetailedStatus.FAILED_UNABLE_TO_ROLLBACK,
                             f"internal error: {exc}", "INTERNAL_ERROR")

    def _finish(self, record: DeploymentRecord, status: DeploymentStatus, detailed: DetailedStatus,
                cause: str | None = None,
                error_type: str | None = None) -> None:
        record.status, record.detailed_status, record.finished_on = status, detailed, time.time()
        if cause:
            record.failure_cause = cause
            record.error_stack = [error_type or "DEPLOYMENT_FAILURE", cause]
            record.error_types = [error_type or "DEPLOYMENT_FAILURE"]
        self.records.save(record)
        level = logging.INFO if status == DeploymentStatus.SUCCEEDED else logging.ERROR
        log.log(level, "deployment %s %s (%s)%s", record.deployment_id, status, detailed,
                f": {cause}" if cause else "")

    async def _deploy(self, record: DeploymentRecord) -> None:
        record.status = DeploymentStatus.IN_PROGRESS
        self.records.save(record)
        log.info("deployment %s started: merge %s remove %s", record.deployment_id, record.request.merge,
                 record.request.remove)
        try:
            target = self._prepare(record.request)
        except DeploymentFailed as exc:
            self._finish(record, DeploymentStatus.FAILED, DetailedStatus.FAILED_NO_STATE_CHANGE, str(exc),
                         exc.error_type)
            return
        previous = DeployedSet(dict(self.deployed.roots), dict(self.deployed.resolved),
                               dict(self.deployed.recipe_digests))
        changed = [n for n in target.resolved if n not in self._builtins and
                   (previous.resolved.get(n) != target.resolved[n] or
                    previous.recipe_digests.get(n) != target.recipe_digests.get(n))]
        removed = [n for n in previous.resolved if n not in target.resolved and n not in self._builtins]
        if (changed or removed) and any(self._lifecycle.runner(n) for n in previous.resolved):
            await self.notifier.before_update(record.deployment_id)
        configs_before = {n: self._saved_config(n) for n in set(previous.resolved) | set(target.resolved)}
        failed = await self._apply(previous, target, changed, removed, record.request.configuration)
        if not failed:
            self.deployed = target
            self.deployed.save(self._deployed_file)
            self.notifier.after_update(record.deployment_id)
            self._finish(record, DeploymentStatus.SUCCEEDED, DetailedStatus.SUCCESSFUL)
            return
        cause = "; ".join(failed)
        if record.request.failure_policy == FailurePolicy.DO_NOTHING:
            self.deployed = target
            self.deployed.save(self._deployed_file)
            self._finish(record, DeploymentStatus.FAILED, DetailedStatus.FAILED_ROLLBACK_NOT_REQUESTED, cause,
                         "COMPONENT_UPDATE_ERROR")
            return
        log.warning("deployment %s failed (%s); rolling back", record.deployment_id, cause)
        rolled_back = await self._rollback(previous, target, changed, removed, configs_before)
        detailed = (DetailedStatus.FAILED_ROLLBACK_COMPLETE if rolled_back
                    else DetailedStatus.FAILED_UNABLE_TO_ROLLBACK)
        self._finish(record, DeploymentStatus.FAILED, detailed, cause, "COMPONENT_UPDATE_ERROR")

    # -- phase 1 -----------------------------------------------------------------------------
    def _prepare(self, request: DeploymentRequest) -> DeployedSet:
        imported: dict[str, Recipe] = {}
        if request.recipe_dir:
            folder = Path(request.recipe_dir)
            if not folder.is_dir():
                raise DeploymentFailed(f"recipe directory {folder} does not exist", "INVALID_RECIPE_DIRECTORY")
            for path in sorted(folder.iterdir()):
                if path.suffix.lower() not in RECIPE_SUFFIXES:
                    continue
                try:
                    recipe = load_recipe(path)
                except RecipeError as exc:
                    raise DeploymentFailed(str(exc), "RECIPE_PARSE_ERROR") from exc
                imported[f"{recipe.name}@{recipe.version}"] = recipe
        for name in request.merge:
            if not isinstance(request.merge[name], str):
                raise DeploymentFailed(f"the version for {name} must be a string", "INVALID_REQUEST")
        roots = dict(self.deployed.roots)
        for name in request.remove:
            if name not in roots:
                log.warning("%s is not a root component of this device; nothing to remove", name)
            roots.pop(name, None)
        roots.update(request.merge)
        for recipe in imported.values():
            self._store.add(recipe)
        try:
            resolved = resolve(roots, self._store, builtins=self._builtins)
        except ResolutionError as exc:
            raise DeploymentFailed(str(exc), "COMPONENT_VERSION_REQUIREMENTS_NOT_MET") from exc
        for name in request.configuration:
            if name not in resolved and name not in self._builtins:
                raise DeploymentFailed(
                    f"the configuration update names {name}, which is not deployed and not in this deployment",
                    "INVALID_REQUEST")
        for name, update in request.configuration.items():
            unknown = set(update) - {"MERGE", "RESET"}
            if unknown or not isinstance(update, dict):
                raise DeploymentFailed(
                    f"the configuration update for {name} may only have MERGE and RESET, got {sorted(unknown)}",
                    "INVALID_REQUEST")
        digests: dict[str, str] = {}
        artifact_source = Path(request.artifact_dir) if request.artifact_dir else None
        for name, version in resolved.items():
            if name in self._builtins:
                continue
            recipe = self._store.get(name, version)
            digests[name] = recipe_digest(recipe)
            manifest = self._manifest(recipe)
            fresh = (self.deployed.resolved.get(name) != version or
                     self.deployed.recipe_digests.get(name) != digests[name])
            if fresh:
                try:
                    prepare_artifacts(recipe, manifest, artifact_source, self._paths)
                except ArtifactInstallError as exc:
                    raise DeploymentFailed(str(exc), "ARTIFACT_ERROR") from exc
        return DeployedSet(roots, resolved, digests)

    def _manifest(self, recipe: Recipe) -> Any:
        manifest = select_manifest(recipe, self._platform)
        if manifest is None:
            raise DeploymentFailed(
                f"{recipe.name} {recipe.version} has no manifest for this platform {self._platform}",
                "NO_AVAILABLE_COMPONENT_VERSION")
        return manifest

    def _order(self, resolved: dict[str, str]) -> list[str]:
        return dependency_order(resolved, self._store, builtins=self._builtins)

    def _saved_config(self, name: str) -> tuple[dict | None, dict | None]:
        try:
            return self._config.get(name), self._config.defaults(name)
        except KeyError:
            return None, None

    # -- phase 3 -----------------------------------------------------------------------------
    async def _apply(self, previous: DeployedSet, target: DeployedSet, changed: list[str], removed: list[str],
                     configuration: dict[str, dict]) -> list[str]:
        """Returns what failed (empty when every new component came up)."""
        old_order = self._order(previous.resolved) if previous.resolved else []
        for name in reversed(old_order):
            if name in changed or name in removed:
                await self._lifecycle.remove(name)
        for name in removed:
            self._config.remove(name)
        new_order = self._order(target.resolved)
        rendered_before = {name: runner.rendered() for name in configuration
                           if name not in changed and (runner := self._lifecycle.runner(name))}
        try:
            for name in sorted(set(new_order) | (set(configuration) & set(self._builtins))):
                if name in self._builtins:
                    defaults: dict = {}
                    try:
                        defaults = self._config.get(name)
                    except KeyError:
                        pass
                    if name in configuration:
                        self._config.apply_deployment(name, defaults, configuration[name])
                    continue
                recipe = self._store.get(name, target.resolved[name])
                self._config.apply_deployment(name, recipe.default_configuration, configuration.get(name))
        except ConfigError as exc:
            return [str(exc)]
        restarted = [name for name, before in rendered_before.items()
                     if (runner := self._lifecycle.runner(name)) and runner.rendered() != before]
        for name in restarted:
            log.info("%s: its lifecycle uses configuration that changed; restarting it", name)
            self._lifecycle.restart(name)
        failures: list[str] = []
        for name in new_order:
            if name not in changed:
                continue
            recipe = self._store.get(name, target.resolved[name])
            runner = self._lifecycle.add(self._build_spec(recipe, self._manifest(recipe)))
            result = await runner.bootstrap()
            if result is not None and result.exit_code in (100, 101):
                log.warning("%s Bootstrap asked for a %s; edgeloop's local core does not restart the host, "
                            "and goes on", name, "core restart" if result.exit_code == 100 else "reboot")
            elif result is not None and not result.ok:
                failures.append(f"{name} {target.resolved[name]}: Bootstrap "
                                f"{'timed out' if result.timed_out else f'exited {result.exit_code}'}")
                break
            self._lifecycle.start(name)
        if failures:
            return failures
        states = await self._lifecycle.wait_settled(changed + restarted, self.settle_timeout_s, self.stable_s)
        for name, state in states.items():
            if not state.is_up:
                current = self._lifecycle.runner(name)
                why = current.last_error if current and current.last_error else f"not up after {self.settle_timeout_s:g}s"
                failures.append(f"{name} {target.resolved[name]} is {state}: {why}")
        return failures

    async def _rollback(self, previous: DeployedSet, target: DeployedSet, changed: list[str], removed: list[str],
                        configs_before: dict[str, tuple[dict | None, dict | None]]) -> bool:
        try:
            for name in reversed(self._order(target.resolved)):
                if name in changed:
                    await self._lifecycle.remove(name)
            for name, (tree, defaults) in configs_before.items():
                self._config.restore(name, tree, defaults)
            order = self._order(previous.resolved) if previous.resolved else []
            back = [n for n in order if n in changed or n in removed]
            for name in back:
                if name in previous.resolved and name not in self._builtins:
                    recipe = self._store.get(name, previous.resolved[name])
                    self._lifecycle.add(self._build_spec(recipe, self._manifest(recipe)))
                    self._lifecycle.start(name)
            self.deployed = previous
            self.deployed.save(self._deployed_file)
            if back:
                states = await self._lifecycle.wait_settled(back, self.settle_timeout_s, self.stable_s)
                down = [f"{name} is {state}" for name, state in states.items() if not state.is_up]
                if down:
                    log.error("rollback restored the previous versions, but %s", ", ".join(down))
                    return False
            return True
        except Exception:
            log.exception("rollback failed")
            return False
