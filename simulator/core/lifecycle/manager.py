"""The lifecycle manager: every deployed component's runner, and the rules that bind them together.

It starts components when their HARD dependencies are up, restarts HARD dependents when a
dependency goes down and comes back, answers the lifecycle IPC operations, and tells the nucleus
whenever a state changes (so `core status` and deployments see it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable

from edgeloop.simulator.core.errors import ComponentNotFound, InvalidArguments

from ..ipc.core_api import ComponentInfo
from ..paths import CorePaths
from .component import ComponentRunner, ComponentSpec, Interpolate
from .states import State

log = logging.getLogger(__name__)


class LifecycleManager:
    def __init__(self, paths: CorePaths, *, base_env: dict[str, str], interpolate: Interpolate,
                 issue_token: Callable[[str], str], revoke_token: Callable[[str], None],
                 builtins: dict[str, str], on_change: Callable[[], None] = lambda: None) -> None:
        self._paths = paths
        self._base_env = base_env
        self._interpolate = interpolate
        self._issue_token = issue_token
        self._revoke_token = revoke_token
        self._builtins = builtins
        self._on_change = on_change
        self._runners: dict[str, ComponentRunner] = {}
        self._waiters: list[asyncio.Future] = []
        self._tasks: dict[str, asyncio.Task] = {}
        self._shutting_down = False

    # -- the set of components -------------------------------------------------------------
    def add(self, spec: ComponentSpec) -> ComponentRunner:
        if spec.name in self._runners:
            raise ValueError(f"{spec.name} is already deployed; remove it first")
        env = dict(self._base_env)
        env["SVCUID"] = self._issue_token(spec.name)
        runner = ComponentRunner(
            spec, env=env, cwd=self._paths.work_dir(spec.name), log_file=self._paths.component_log(spec.name),
            interpolate=self._interpolate, on_state=self._state_changed,
            wait_for_dependencies=self._wait_for_dependencies)
        self._runners[spec.name] = runner
        self._on_change()
        return runner

    async def remove(self, name: str) -> None:
        runner = self._runners.get(name)
        if runner is None:
            return
        self._cancel_task(name)
        await runner.stop()
        runner.close()
        self._revoke_token(runner.token)
        del self._runners[name]
        self._on_change()
        self._wake()

    def runner(self, name: str) -> ComponentRunner | None:
        return self._runners.get(name)

    def names(self) -> list[str]:
        return list(self._runners)

    def start(self, name: str) -> asyncio.Task:
        """Start (installing first if needed) in the background; dependencies are awaited inside."""
        self._cancel_task(name)
        runner = self._runners[name]
        runner.reset_errors()
        task = asyncio.create_task(runner.start(), name=f"start {name}")
        self._tasks[name] = task
        return task

    def start_all(self, order: Iterable[str]) -> None:
        for name in order:
            if name in self._runners:
                self.start(name)

    async def stop_and_wait(self, name: str, final: State = State.FINISHED) -> None:
        self._cancel_task(name)
        await self._runners[name].stop(final)

    async def shutdown(self, order: list[str]) -> None:
        """Stop everything, dependents first (`order` lists dependencies first)."""
        self._shutting_down = True
        for name in reversed(order):
            if name in self._runners:
                await self.stop_and_wait(name)
        for name in list(self._runners):
            await self.stop_and_wait(name)
            self._runners[name].close()

    def _cancel_task(self, name: str) -> None:
        task = self._tasks.pop(name, None)
        if task is not None and not task.done():
            task.cancel()

    # -- dependencies ----------------------------------------------------------------------
    def _is_up(self, name: str) -> bool:
        if name in self._builtins and name not in self._runners:
            return True
        runner = self._runners.get(name)
        return runner is not None and runner.state.is_up

    async def _wait_for_dependencies(self, name: str) -> None:
        runner = self._runners[name]
        while not all(self._is_up(dep) for dep in runner.spec.hard_dependencies):
            waiter = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            await waiter

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def hard_dependents(self, name: str) -> list[str]:
        return [n for n, r in self._runners.items() if name in r.spec.hard_dependencies]

    def _state_changed(self, runner: ComponentRunner, old: State, new: State) -> None:
        self._on_change()
        self._wake()
        going_down = old.is_up and new in (State.STOPPING, State.ERRORED, State.BROKEN)
        if going_down and not self._shutting_down:
            for dependent in self.hard_dependents(runner.name):
                dep_runner = self._runners[dependent]
                if dep_runner.state in (State.STARTING, State.RUNNING):
                    log.info("%s goes down: restarting its HARD dependent %s", runner.name, dependent)
                    self._tasks[dependent] = asyncio.create_task(self._restart_dependent(dependent))

    async def _restart_dependent(self, name: str) -> None:
        runner = self._runners[name]
        await runner.stop(final=State.INSTALLED)
        await runner.start()  # waits until the dependency is up again

    # -- waiting (deployments) ---------------------------------------------------------------
    async def wait_settled(self, names: list[str], timeout: float, stable_s: float = 1.0) -> dict[str, State]:
        """Wait until each of `names` is RUNNING, FINISHED or BROKEN and, unless BROKEN, has stayed up
        without a new error for `stable_s` (a Run script that dies at once must not pass for RUNNING);
        or until `timeout` passes. Returns their states."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        settled = (State.RUNNING, State.FINISHED, State.BROKEN)
        while True:
            runners = [self._runners[n] for n in names if n in self._runners]
            states = {r.name: r.state for r in runners}
            if all(s in settled for s in states.values()):
                if any(s == State.BROKEN for s in states.values()) or loop.time() >= deadline:
                    return states
                errors = {r.name: len(r.errors) for r in runners}
                await asyncio.sleep(min(stable_s, max(0.0, deadline - loop.time())))
                if all(r.state.is_up and len(r.errors) == errors[r.name] for r in runners):
                    return {r.name: r.state for r in runners}
                continue
            if loop.time() >= deadline:
                return states
            waiter = loop.create_future()
            self._waiters.append(waiter)
            try:
                await asyncio.wait_for(waiter, max(0.0, deadline - loop.time()))
            except TimeoutError:
                pass

    # -- the LifecycleApi (IPC) ----------------------------------------------------------------
    def components(self) -> list[ComponentInfo]:
        infos = [ComponentInfo(name, version, State.RUNNING.value) for name, version in self._builtins.items()
                 if name not in self._runners]
        infos += [ComponentInfo(r.name, r.spec.version, r.state.value) for r in self._runners.values()]
        return sorted(infos, key=lambda info: info.name)

    def component(self, name: str) -> ComponentInfo:
        for info in self.components():
            if info.name == name:
                return info
        raise ComponentNotFound(f"Component {name} not found")

    def _require(self, name: str) -> ComponentRunner:
        runner = self._runners.get(name)
        if runner is None:
            if name in self._builtins:
                raise InvalidArguments(f"{name} is built into edgeloop's local core and cannot be restarted or stopped")
            raise ComponentNotFound(f"Component {name} not found")
        return runner

    def report_state(self, name: str, state: str) -> None:
        runner = self._require(name)
        if state not in (State.RUNNING.value, State.ERRORED.value):
            raise InvalidArguments(f"UpdateState accepts RUNNING or ERRORED, got {state!r}")
        runner.report(State(state))

    def restart(self, name: str) -> None:
        runner = self._require(name)
        self._cancel_task(name)
        runner.reset_errors()

        async def restart() -> None:
            await runner.stop(final=State.INSTALLED)
            await runner.start()
        self._tasks[name] = asyncio.create_task(restart(), name=f"restart {name}")

    def stop(self, name: str) -> None:
        self._require(name)
        self._cancel_task(name)
        self._tasks[name] = asyncio.create_task(self._runners[name].stop(), name=f"stop {name}")
