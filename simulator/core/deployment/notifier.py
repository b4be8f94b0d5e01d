"""Component-update notifications: SubscribeToComponentUpdates, DeferComponentUpdate.

As Greengrass does with NOTIFY_COMPONENTS: before a deployment stops or replaces components, every
subscribed component hears a PreComponentUpdateEvent. Each may defer (DeferComponentUpdate with
recheckAfterMs > 0: asked again after that long) or let it proceed (recheckAfterMs == 0). A component
that stays silent for `timeout_s` lets it proceed. After the deployment, subscribers hear a
PostComponentUpdateEvent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from edgeloop.simulator.core.errors import InvalidArguments

from ..ipc.core_api import UpdateEvent

log = logging.getLogger(__name__)

Callback = Callable[[UpdateEvent], None]


class UpdateNotifier:
    def __init__(self, timeout_s: float = 60.0) -> None:
        self.timeout_s = timeout_s
        self._subscribers: list[tuple[str, Callback]] = []
        self._answers: dict[tuple[str, str], asyncio.Future] = {}

    def subscribe(self, component: str, callback: Callback) -> Callable[[], None]:
        entry = (component, callback)
        self._subscribers.append(entry)

        def unsubscribe() -> None:
            if entry in self._subscribers:
                self._subscribers.remove(entry)
        return unsubscribe

    def defer(self, component: str, deployment_id: str, recheck_after_ms: int, message: str) -> None:
        answer = self._answers.get((component, deployment_id))
        if answer is None:
            raise InvalidArguments(f"no update of deployment {deployment_id} is waiting for {component}")
        if recheck_after_ms < 0:
            raise InvalidArguments("recheckAfterMs must be 0 or more")
        if recheck_after_ms > 0:
            log.info("%s defers deployment %s by %d ms: %s", component, deployment_id, recheck_after_ms, message)
        if not answer.done():
            answer.set_result(recheck_after_ms)

    def _send(self, component: str, event: UpdateEvent) -> None:
        for name, callback in list(self._subscribers):
            if name == component:
                try:
                    callback(event)
                except Exception:
                    log.exception("update notification to %s failed", component)

    async def before_update(self, deployment_id: str) -> dict[str, int]:
        """Ask every subscriber; returns how long each one deferred in total (ms)."""
        loop = asyncio.get_running_loop()
        deferred: dict[str, int] = {}
        waiting = sorted({name for name, _ in self._subscribers})
        while waiting:
            futures = {}
            for name in waiting:
                futures[name] = self._answers[(name, deployment_id)] = loop.create_future()
                self._send(name, UpdateEvent("pre", deployment_id))
            done, _ = await asyncio.wait(futures.values(), timeout=self.timeout_s)
            rechecks = {name: f.result() for name, f in futures.items() if f in done and f.result() > 0}
            for name in futures:
                self._answers.pop((name, deployment_id), None)
            if not rechecks:
                break
            pause_ms = max(rechecks.values())
            for name, ms in rechecks.items():
                deferred[name] = deferred.get(name, 0) + ms
            await asyncio.sleep(pause_ms / 1000)
            waiting = sorted(rechecks)
        return deferred

    def after_update(self, deployment_id: str) -> None:
        for name in sorted({name for name, _ in self._subscribers}):
            self._send(name, UpdateEvent("post", deployment_id))
