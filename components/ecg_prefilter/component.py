"""com.edgeloop.EcgPrefilter: the IPC wiring around a PrefilterService (service.py).

Threads:
* the IPC client's event-loop thread only parses a chunk (`PrefilterService.parse`: one JSON
  decode, one numpy conversion, a few checks) and enqueues the result, in arrival order (an inline
  subscription: edgeloop.ipc), so a window's analysis never delays the delivery of other devices'
  chunks and no chunk waits for a thread-pool hand-off. It never calls IPC itself;
* one worker takes items in arrival order: reassembly, screening, publishing (an alert before its
  window), due error reports, and the status every statusIntervalS. It owns every device's state,
  so nothing on the chunk path takes a lock;
* the model loader (edgeloop.model_component.ModelReloader) verifies and loads a new
  com.edgeloop.EcgModel when its configuration changes while the worker keeps screening with the old
  one, and applies this component's own configuration changes. Its status events go through the
  worker's queue, so only the worker reads the service's state.

Topics (the access the recipe grants, and no more): subscribes `dt/sensor/+` (wearables, bridged from
client devices); publishes `dt/ecg/<id>/alert` and `dt/ecg/<id>/error` locally, `dt/ecg/<id>/window`,
`.../alert`, `.../summary`, `.../error` to IoT Core, and its status on `edgeloop/ecg/status` and
`edgeloop/<thing>/ecg/status`.

The work queue holds QUEUE_LIMIT items (about three minutes of 1,000 wearables' chunks); the status
reports its high-water mark, and a chunk that finds it full is counted as dropped, never silently lost.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from pathlib import Path
from typing import Any

from edgeloop.model_component import ModelReloader
from edgeloop.runtime import run_component

from .messages import SENSOR_FILTER
from .service import (
    MODEL,
    LoadedModel,
    Outgoing,
    PrefilterService,
    Settings,
    load_verified,
)

log = logging.getLogger("edgeloop.ecg")



class PrefilterComponent:
    """Subscription, worker, model loader and status reports around a PrefilterService."""

    QUEUE_LIMIT = 200_000
    TICK_S = 0.25            # how often the worker looks for due error reports and the status

    def __init__(self, ipc: Any, root: Path, thing: str, service: PrefilterService | None = None) -> None:
        self.ipc = ipc
        self.thing = thing
        self.service = service or PrefilterService(thing=thing)
        self._jobs: queue.Queue = queue.Queue(self.QUEUE_LIMIT)
        self._stop = threading.Event()
        self.high_water = 0
        self.dropped = 0
        self.models: ModelReloader[LoadedModel] = ModelReloader(
            ipc, MODEL, Path(root), load_verified, install=self.service.install, refused=self.service.refused,
            announce=self._announce, on_own_config=self._apply_own_config, name="ecg-model-loader")

    # -- start-up --------------------------------------------------------------------------------
    def start(self) -> None:
        problems = self._read_own_config(immediately=True)
        self.models.reload(announce=False)      # before subscribing: the first window finds the model
        self.service.model_problem = self.models.problem if self.service.model is None else None
        self.models.start()
        self.ipc.subscribe(SENSOR_FILTER, self._on_chunk, inline=True)
        self._publish_all(self.service.status("started", "; ".join(problems) or None, **self._queue_stats()))
        log.info("ready: screening with %s", self.models.describe() if self.service.model
                 else f"no model ({self.models.problem}); windows are counted as unscreened")

    def _read_own_config(self, immediately: bool = False) -> list[str]:
        """Apply this component's configuration (at the worker's next item unless `immediately`);
        the problems it had, each naming its key."""
        try:
            settings, problems = Settings.from_config(self.ipc.get_configuration())
        except Exception as exc:  # noqa: BLE001 - any failure here is reported, never fatal
            log.error("cannot read this component's configuration: %s", exc)
            return [f"cannot read this component's configuration: {exc}"]
        for problem in problems:
            log.error("configuration %s", problem)
        self.service.configure(settings, immediately)
        return [f"configuration {p}" for p in problems]

    def _apply_own_config(self) -> None:
        """A deployment changed this component's configuration (loader thread)."""
        problems = self._read_own_config()
        self._announce("configuration_applied" if not problems else "configuration_rejected",
                       "; ".join(problems) or None)

    def _announce(self, event: str, problem: str | None) -> None:
        """A status event from the loader thread: the worker builds and publishes it."""
        self._jobs.put(("status", event, problem))

    # -- callbacks (the IPC event-loop thread) -----------------------------------------------------------------
    def _on_chunk(self, topic: str, payload: Any) -> None:
        item = self.service.parse(topic, payload)
        try:
            self._jobs.put_nowait(("item", item))
        except queue.Full:
            self.dropped += 1
            if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                log.error("work queue full (%d items): %d chunks dropped", self.QUEUE_LIMIT, self.dropped)
            return
        size = self._jobs.qsize()
        self.high_water = max(self.high_water, size)

    # -- worker ----------------------------------------------------------------------------------
    def serve(self) -> None:
        """Handle items until stop(); due error reports every TICK_S, the status every statusIntervalS."""
        service = self.service
        next_status = time.monotonic() + service.settings.status_interval_s
        next_tick = time.monotonic() + self.TICK_S
        while not self._stop.is_set():
            try:
                job = self._jobs.get(timeout=self.TICK_S)
            except queue.Empty:
                job = None
            if job is not None:
                self._handle(job)
            now = time.monotonic()
            if now >= next_tick:
                next_tick = now + self.TICK_S
                self._publish_all(service.tick())
            if now >= next_status:
                next_status = now + service.settings.status_interval_s
                self._publish_all(service.status("periodic", **self._queue_stats()))

    def _handle(self, job: tuple) -> None:
        if job[0] == "status":
            _, event, problem = job
            if event.startswith("model_"):
                self.service.model_problem = self.models.problem if event != "model_loaded" else None
            self._publish_all(self.service.status(event, problem, **self._queue_stats()))
            return
        try:
            out = self.service.handle(job[1])
        except Exception:   # a bug must cost one chunk, not the gateway
            log.exception("chunk %r failed", job[1])
            return
        self._publish_all(out)

    def _queue_stats(self) -> dict[str, int]:
        return {"queue_size": self._jobs.qsize(), "queue_high_water": self.high_water,
                "queue_limit": self.QUEUE_LIMIT, "chunks_dropped_busy": self.dropped}

    def _publish_all(self, out: list[Outgoing]) -> None:
        for message in out:
            if message.iot:
                try:
                    self.ipc.publish_iot_bytes(message.iot, message.payload)
                except Exception as exc:  # noqa: BLE001 - any failure here is reported, never fatal
                    log.error("publish to IoT Core on %s failed: %s", message.iot, exc)
            if message.local:
                try:
                    self.ipc.publish_json(message.local, message.body)
                except Exception as exc:  # noqa: BLE001 - any failure here is reported, never fatal
                    log.error("publish on %s failed: %s", message.local, exc)

    def stop(self) -> None:
        self._stop.set()
        self.models.stop()


def main() -> int:
    """`python -m edgeloop.components.ecg_prefilter`: run the component under a Greengrass nucleus."""
    return run_component(PrefilterComponent, log)
