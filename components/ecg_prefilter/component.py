"""com.edgeloop.EcgPrefilter: the IPC wiring around a PrefilterService (service.py).

Threads:
* the IPC client's event-loop thread only enqueues each chunk's payload, in arrival order (an
  inline subscription: edgeloop.ipc), without a thread-pool hand-off and without parsing it: that
  thread must drain the IPC socket faster than 1,000 wearables fill it, or the core drops events
  for a slow reader (measured: with parsing there, 5,913 chunks were dropped in one run at 1,000
  wearables). It never calls IPC itself. Python threads take turns at the interpreter, so the
  component also switches threads every SWITCH_INTERVAL_S instead of Python's 5 ms, so the reader
  gets its turn while the worker is busy;
* one worker takes items in arrival order: reassembly, handing completed windows to the screener,
  publishing (an alert before its window), due error reports, and the status every
  statusIntervalS. It owns every device's state, so nothing on the chunk path takes a lock. It
  publishes without waiting for the core's answers (edgeloop.ipc, `wait=False`: in call order,
  failures counted in the status as `publish_failures`): an answer arrives behind every chunk the
  core sent before it, and waiting for answers was where the worker spent its time at 1,000
  wearables, while chunks queued behind it;
* the screener (screening.py) analyses and classifies windows in `--analysis-processes` separate
  processes (the recipe passes `analysisProcesses`, default 1; 0 analyses on the worker). A result
  that is ready jumps the queue of chunks (a priority lane), so an alert never waits behind the
  chunks that arrived while its window was analysed;
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

import argparse
import itertools
import logging
import queue
import sys
import threading
import time
from pathlib import Path
from typing import Any

from edgeloop.contracts.ecg import SENSOR_FILTER
from edgeloop.ipc import Ipc
from edgeloop.model_component import ModelReloader
from edgeloop.runtime import run_component

from .screening import InlineScreener, ProcessScreener, Screener
from .service import (
    ECG_MODEL_ON_GATEWAY,
    LoadedEcgModel,
    Outgoing,
    PrefilterService,
    PrefilterSettings,
    load_verified,
)

log = logging.getLogger("edgeloop.ecg")
URGENT, CHUNK = 0, 1      # queue lanes: results and status events before chunks
SWITCH_INTERVAL_S = 0.0005


class PrefilterComponent:
    """Subscription, worker, model loader and status reports around a PrefilterService."""

    QUEUE_LIMIT = 200_000
    TICK_S = 0.25            # how often the worker looks for due error reports and the status

    def __init__(self, ipc: Ipc, root: Path, thing: str, service: PrefilterService | None = None,
                 analysis_processes: int = 0) -> None:
        self.ipc = ipc
        self.thing = thing
        screener: Screener = (ProcessScreener(analysis_processes, on_done=self._screened) if analysis_processes
                              else InlineScreener())
        self.service = service or PrefilterService(thing=thing, screener=screener)
        # (lane, arrival number, job): FIFO within a lane; the unbounded count keeps jobs uncompared
        self._jobs: queue.PriorityQueue = queue.PriorityQueue(self.QUEUE_LIMIT)
        self._arrival = itertools.count()
        self._stop = threading.Event()
        self.high_water = 0
        self.dropped = 0
        self.models: ModelReloader[LoadedEcgModel] = ModelReloader(
            ipc, ECG_MODEL_ON_GATEWAY, Path(root), load_verified, install=self.service.install,
            refused=self.service.refused, announce=self._announce, on_own_config=self._apply_own_config,
            name="ecg-model-loader")

    # -- start-up --------------------------------------------------------------------------------
    def start(self) -> None:
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        problems = self._read_own_config(immediately=True)
        self.models.reload(announce=False)      # before subscribing: the first window finds the model
        self.service.model_problem = self.models.problem if self.service.model is None else None
        self.models.start()
        self.ipc.subscribe(SENSOR_FILTER, self._on_chunk, inline=True)
        if isinstance(self.service.screener, ProcessScreener):
            # after subscribing, so no chunk is missed while the processes import (1-2 s each; the
            # chunks wait in the queue), and before "started", so the first windows find them ready
            self.service.screener.start()
        self._publish_all(self.service.status("started", "; ".join(problems) or None, **self._queue_stats()))
        log.info("ready: screening with %s", self.models.describe() if self.service.model
                 else f"no model ({self.models.problem}); windows are counted as unscreened")

    def _read_own_config(self, immediately: bool = False) -> list[str]:
        """Apply this component's configuration (at the worker's next item unless `immediately`);
        the problems it had, each naming its key."""
        try:
            settings, problems = PrefilterSettings.from_config(self.ipc.get_configuration())
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
        self._jobs.put((URGENT, next(self._arrival), ("status", event, problem)))

    def _screened(self) -> None:
        """A window's result is ready (a screener thread): the worker collects it next."""
        self._jobs.put((URGENT, next(self._arrival), ("collect",)))

    # -- callbacks (the IPC event-loop thread) ---------------------------------------------------
    def _on_chunk(self, topic: str, payload: Any) -> None:
        try:
            self._jobs.put_nowait((CHUNK, next(self._arrival), ("chunk", topic, payload)))
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
                job = self._jobs.get(timeout=self.TICK_S)[2]
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
                self._publish_all(service.status("periodic", None, **self._queue_stats()))

    def _handle(self, job: tuple) -> None:
        if job[0] == "collect":
            self._publish_all(self.service.collect())
            return
        if job[0] == "status":
            _, event, problem = job
            if event.startswith("model_"):
                self.service.model_problem = self.models.problem if event != "model_loaded" else None
            self._publish_all(self.service.status(event, problem, **self._queue_stats()))
            return
        try:
            out = self.service.handle_payload(job[1], job[2])
        except Exception:   # a bug must cost one chunk, not the gateway
            log.exception("chunk on %s failed", job[1])
            return
        self._publish_all(out)

    def _queue_stats(self) -> dict[str, int]:
        return {"queue_size": self._jobs.qsize(), "queue_high_water": self.high_water,
                "queue_limit": self.QUEUE_LIMIT, "chunks_dropped_busy": self.dropped,
                "publish_failures": self.ipc.publish_failures}

    def _publish_all(self, out: list[Outgoing]) -> None:
        for message in out:
            if message.iot:
                try:
                    self.ipc.publish_iot_bytes(message.iot, message.payload, wait=False)
                except Exception as exc:  # noqa: BLE001 - any failure here is reported, never fatal
                    log.error("publish to IoT Core on %s failed: %s", message.iot, exc)
            if message.local:
                try:
                    self.ipc.publish_json(message.local, message.body, wait=False)
                except Exception as exc:  # noqa: BLE001 - any failure here is reported, never fatal
                    log.error("publish on %s failed: %s", message.local, exc)

    def stop(self) -> None:
        self._stop.set()
        self.models.stop()
        self.service.close()


def main(argv: list[str] | None = None) -> int:
    """`python -m edgeloop.components.ecg_prefilter [--analysis-processes N]`: run the component under
    a Greengrass nucleus."""
    parser = argparse.ArgumentParser(prog="python -m edgeloop.components.ecg_prefilter",
                                     description="com.edgeloop.EcgPrefilter (run by its recipe's Run step)")
    parser.add_argument("--analysis-processes", type=int, default=1, choices=range(0, 9), metavar="N",
                        help="processes that analyse windows (0-8; 0: on the worker thread)")
    args = parser.parse_args(argv)
    return run_component(lambda ipc, root, thing: PrefilterComponent(
        ipc, root, thing, analysis_processes=args.analysis_processes), log)
