"""One component's lifecycle: the Greengrass state machine around its step scripts.

NEW -> INSTALLED (Install) -> STARTING -> RUNNING (Startup exited 0, or Run launched)
-> FINISHED (Run exited 0, or no Startup/Run step) | ERRORED (non-zero exit, timeout, or the
component reported ERRORED) -> Recover -> STARTING again ... the third error within an hour -> BROKEN.
Stopping runs Shutdown, then ends every process of the component, and leaves it FINISHED.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..recipes.model import DEFAULT_TIMEOUTS, LifecycleStep, Manifest, Recipe
from .process import (
    ComponentLog,
    ScriptProcess,
    StepResult,
    run_step,
    should_skip,
    spawn,
)
from .states import ERROR_WINDOW_S, ERRORS_BEFORE_BROKEN, State

log = logging.getLogger(__name__)


@dataclass
class ComponentSpec:
    """What the lifecycle needs to run one component version (built from its recipe by the manager)."""

    name: str
    version: str
    steps: dict[str, LifecycleStep]  # timeouts already defaulted
    setenv: dict[str, str] = field(default_factory=dict)
    hard_dependencies: list[str] = field(default_factory=list)
    soft_dependencies: list[str] = field(default_factory=list)

    @classmethod
    def from_recipe(cls, recipe: Recipe, manifest: Manifest) -> ComponentSpec:
        lifecycle = manifest.lifecycle_steps()
        steps = {name: step if step.timeout is not None else replace(step, timeout=DEFAULT_TIMEOUTS[name])
                 for name, step in lifecycle.steps.items()}
        deps = recipe.dependencies
        return cls(name=recipe.name, version=recipe.version, steps=steps, setenv=lifecycle.setenv,
                   hard_dependencies=[n for n, d in deps.items() if d.dependency_type == "HARD"],
                   soft_dependencies=[n for n, d in deps.items() if d.dependency_type == "SOFT"])


StateListener = Callable[["ComponentRunner", State, State], None]
Interpolate = Callable[[str, str], str]  # (component, text) -> text with recipe variables resolved


class ComponentRunner:
    def __init__(self, spec: ComponentSpec, *, env: dict[str, str], cwd: Path, log_file: Path,
                 interpolate: Interpolate, on_state: StateListener,
                 wait_for_dependencies: Callable[[str], Awaitable[None]]) -> None:
        self.spec = spec
        self._env = env
        self._cwd = cwd
        self._log = ComponentLog(log_file, spec.name)
        self._interpolate = interpolate
        self._on_state = on_state
        self._wait_for_dependencies = wait_for_dependencies
        self.state = State.NEW
        self.errors: list[float] = []
        self.last_error: str | None = None
        self._process: ScriptProcess | None = None  # the Run process, or what Startup left behind
        self._generation = 0  # bumps on every start/stop; stale process exits are ignored
        self._lock = asyncio.Lock()
        self._watch: asyncio.Task | None = None
        self._pending: asyncio.Task | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def token(self) -> str:
        """The SVCUID this component's processes authenticate to IPC with."""
        return self._env["SVCUID"]

    def rendered(self) -> str:
        """Every step script and Setenv value with recipe variables resolved: when a configuration
        change alters this, the component must restart to pick it up (as Greengrass does)."""
        parts = [f"{k}={self._interpolate(self.name, v)}" for k, v in sorted(self.spec.setenv.items())]
        for name, step in sorted(self.spec.steps.items()):
            parts.append(f"{name}:{self._interpolate(self.name, step.script)}")
            parts += [f"{name}.{k}={self._interpolate(self.name, v)}" for k, v in sorted(step.setenv.items())]
        return "\n".join(parts)

    # -- transitions -----------------------------------------------------------------------
    def _set(self, state: State) -> None:
        old, self.state = self.state, state
        if old != state:
            self._log.note(f"state {old} -> {state}")
            self._on_state(self, old, state)

    def _step_env(self, step: LifecycleStep) -> dict[str, str]:
        env = dict(self._env)
        for key, value in {**self.spec.setenv, **step.setenv}.items():
            env[key] = self._interpolate(self.name, str(value))
        return env

    async def _run(self, name: str) -> StepResult | None:
        step = self.spec.steps.get(name)
        if step is None:
            return None
        env = self._step_env(step)
        return await run_step(self._interpolate(self.name, step.script), step=name, env=env, cwd=self._cwd,
                              log=self._log, timeout=step.timeout, skipif=step.skipif)

    async def bootstrap(self) -> StepResult | None:
        """The Bootstrap step, run by a deployment before it installs this version."""
        return await self._run("Bootstrap")

    async def install(self) -> bool:
        async with self._lock:
            return await self._install()

    async def _install(self) -> bool:
        self._cwd.mkdir(parents=True, exist_ok=True)
        result = await self._run("Install")
        if result is not None and not result.ok:
            self._error(f"Install {'timed out' if result.timed_out else f'exited {result.exit_code}'}",
                        reinstall=True)
            return False
        self._set(State.INSTALLED)
        return True

    async def start(self) -> None:
        """Install if needed, wait for HARD dependencies, then Startup or Run."""
        async with self._lock:
            self._generation += 1
            generation = self._generation
            if self.state in (State.NEW, State.BROKEN, State.ERRORED) and not await self._install():
                return
        await self._wait_for_dependencies(self.name)
        async with self._lock:
            if generation != self._generation:
                return  # stopped or restarted while waiting
            await self._start_now(generation)

    async def _start_now(self, generation: int) -> None:
        if "Startup" in self.spec.steps:
            self._set(State.STARTING)
            step = self.spec.steps["Startup"]
            env = self._step_env(step)
            if should_skip(step.skipif, env):
                self._set(State.RUNNING)
                return
            proc = await spawn(self._interpolate(self.name, step.script), step="Startup", env=env,
                               cwd=self._cwd, log=self._log)
            self._process = proc
            try:
                code = await asyncio.wait_for(proc.wait(), step.timeout)
            except TimeoutError:
                await proc.terminate(grace_s=2.0)
                self._error(f"Startup timed out after {step.timeout:g}s")
                return
            if code != 0:
                self._error(f"Startup exited {code}")
            elif generation == self._generation:
                self._set(State.RUNNING)
        elif "Run" in self.spec.steps:
            self._set(State.STARTING)
            step = self.spec.steps["Run"]
            env = self._step_env(step)
            if should_skip(step.skipif, env):
                self._set(State.FINISHED)
                return
            proc = await spawn(self._interpolate(self.name, step.script), step="Run", env=env,
                               cwd=self._cwd, log=self._log)
            self._process = proc
            self._set(State.RUNNING)
            self._watch = asyncio.create_task(self._watch_run(proc, generation, step.timeout))
        else:
            self._set(State.FINISHED)

    async def _watch_run(self, proc: ScriptProcess, generation: int, timeout: float | None) -> None:
        try:
            code = await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            if generation == self._generation:
                await proc.terminate(grace_s=2.0)
                self._error(f"Run timed out after {timeout:g}s")
            return
        if generation != self._generation:
            return  # we stopped it ourselves
        if code == 0:
            self._process = None
            self._set(State.FINISHED)
        else:
            self._error(f"Run exited {code}")

    async def stop(self, final: State = State.FINISHED) -> None:
        """STOPPING: Shutdown step, then end every process of the component."""
        async with self._lock:
            self._generation += 1
            if self._pending is not None:
                self._pending.cancel()
                self._pending = None
            idle = (State.NEW, State.INSTALLED, State.FINISHED, State.BROKEN)
            if self.state in idle and self._process is None:
                # Nothing runs: no Shutdown to run. A FINISHED or BROKEN component keeps its state
                # unless it is being stopped to start again (final INSTALLED).
                if final == State.INSTALLED and self.state != State.NEW:
                    self._set(State.INSTALLED)
                return
            was_broken = self.state == State.BROKEN
            self._set(State.STOPPING)
            await self._run("Shutdown")
            await self._kill()
            self._set(State.BROKEN if was_broken and final == State.FINISHED else final)

    async def _kill(self) -> None:
        if self._process is not None:
            await self._process.terminate(grace_s=5.0)
            self._process = None
        if self._watch is not None and self._watch is not asyncio.current_task():
            self._watch.cancel()
            self._watch = None

    def report(self, state: State) -> None:
        """UpdateState from the component itself (RUNNING or ERRORED)."""
        if state == State.ERRORED:
            self._error("the component reported ERRORED")
        elif state == State.RUNNING and self.state in (State.STARTING, State.RUNNING):
            self._set(State.RUNNING)

    # -- errors ----------------------------------------------------------------------------
    def _error(self, reason: str, reinstall: bool = False) -> None:
        now = time.monotonic()
        self.errors = [t for t in self.errors if now - t < ERROR_WINDOW_S] + [now]
        self.last_error = reason
        self._log.note(f"error: {reason}")
        self._generation += 1
        self._set(State.ERRORED)
        if len(self.errors) >= ERRORS_BEFORE_BROKEN:
            self._pending = asyncio.create_task(self._break())
        else:
            self._pending = asyncio.create_task(self._recover(reinstall))

    async def _break(self) -> None:
        await self._kill()
        self._set(State.BROKEN)
        self._log.note(f"BROKEN after {len(self.errors)} errors; last: {self.last_error}")

    async def _recover(self, reinstall: bool) -> None:
        async with self._lock:
            await self._kill()
            await self._run("Recover")
            if not reinstall:
                self._set(State.INSTALLED)
        self._pending = None
        await self.start()

    def reset_errors(self) -> None:
        """A new deployment or an explicit restart gives a BROKEN component a fresh start."""
        self.errors.clear()

    def close(self) -> None:
        self._log.close()
