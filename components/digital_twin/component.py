"""com.edgeloop.DigitalTwin: the plant twin as a Greengrass component.

Two layers:

* `TwinService` - pure Python, no IPC: holds the serving model (swapped atomically: one reference,
  read once per message), answers ranking requests, tracks telemetry per plant (rolling live error,
  recommendations per batch of samples) and counts what it did. Every handler returns the messages
  to publish instead of publishing, so it is tested without a core.
* `TwinComponent` - the IPC wiring (edgeloop.ipc): subscriptions, one worker thread that handles
  requests and telemetry in arrival order (the optimizer's lookup tables are filled lazily and are
  not shared between threads), and a loader thread that verifies and prepares a new model while the
  old one keeps serving. A reply is never lost to a swap: the worker always holds a usable model.

Topics (the access the recipe grants, and no more); their bodies are the wire contracts of
edgeloop.contracts.twin (requests and replies) and edgeloop.contracts.plant (telemetry in;
recommendation and live error out):
  local request  edgeloop/twin/request          -> edgeloop/twin/response/<request_id>
  cloud request  edgeloop/<thing>/twin/request  -> edgeloop/<thing>/twin/response/<request_id>
  telemetry      dt/compressor/<plant>/telemetry -> dt/compressor/<plant>/recommendation
                                                    dt/compressor/<plant>/twin/error
  status         edgeloop/twin/status and edgeloop/<thing>/twin/status: the serving model, counters,
                 and every model load or refusal (so the cloud sees whether a promotion landed)

The model comes from com.edgeloop.TwinModel: its configuration names the version, the registry
model version and `modelSha256`; its unarchived artifact is under the Greengrass root (env
EDGELOOP_GG_ROOT, set by the recipe to {kernel:rootPath}). Finding, verifying and hot-swapping it is
edgeloop.model_component's job, shared with the ECG pre-filter.
"""

from __future__ import annotations

import collections
import logging
import math
import queue
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeloop.contracts.errors import RequestError, TelemetryError
from edgeloop.contracts.plant import TELEMETRY_FILTER, LiveError, Recommendation, Telemetry, parse_telemetry
from edgeloop.contracts.twin import (
    IOT_REQUEST_TOPIC,
    IOT_RESPONSE_TOPIC,
    IOT_STATUS_TOPIC,
    REQUEST_TOPIC,
    RESPONSE_TOPIC,
    STATUS_TOPIC,
    UNKNOWN_ID,
    PowerEstimate,
    TwinResponse,
    parse_twin_request,
    request_id_of,
)
from edgeloop.errors import ArtifactError, ModelRefused
from edgeloop.ipc import Ipc
from edgeloop.model_component import ModelIdentity, ModelReloader
from edgeloop.runtime import run_component

from . import configurations as cfgs
from .model import PowerModel
from .optimizer import Optimizer
from .packaging import MODEL_COMPONENT, TWIN_MODEL_KIND
from .request import parse_request

log = logging.getLogger("edgeloop.twin")

PREWARM_MAX_CELLS = 2_000_000   # fill whole lookup grids up to this size before a model serves
Outgoing = tuple[str, dict[str, Any]]   # (topic, JSON body)


# -- settings -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TwinSettings:
    """The component's own configuration (recipe DefaultConfiguration, deployments may change it)."""

    error_window: int = 60
    error_every: int = 10
    recommend_every: int = 5
    status_interval_s: float = 60.0

    @classmethod
    def from_config(cls, config: Any) -> tuple[TwinSettings, list[str]]:
        """TwinSettings from the configuration tree; a bad value keeps its default and is named in the problems."""
        problems: list[str] = []
        config = config if isinstance(config, Mapping) else {}
        telemetry = config.get("telemetry", {})
        if not isinstance(telemetry, Mapping):
            problems.append(f"/telemetry: expected an object, got {telemetry!r}")
            telemetry = {}
        values: dict[str, Any] = {}
        for key, attr, where in (("errorWindow", "error_window", telemetry),
                                 ("errorEvery", "error_every", telemetry),
                                 ("recommendEvery", "recommend_every", telemetry),
                                 ("statusIntervalS", "status_interval_s", config)):
            if key not in where:
                continue
            value = where[key]
            number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
            whole = attr != "status_interval_s"
            if number is None or not math.isfinite(number) or number <= 0 or (whole and number != int(number)):
                prefix = "/telemetry" if where is telemetry else ""
                problems.append(f"{prefix}/{key}: expected a positive {'whole ' if whole else ''}number, "
                                f"got {value!r}; keeping {getattr(cls, attr)}")
                continue
            values[attr] = int(number) if whole else float(number)
        return cls(**values), problems


# -- the model ------------------------------------------------------------------------------------
TWIN_MODEL_ON_GATEWAY = TWIN_MODEL_KIND.on_gateway
model_identity = TWIN_MODEL_ON_GATEWAY.identity     # (componentVersion, modelVersion, modelSha256), checked
model_directory = TWIN_MODEL_ON_GATEWAY.directory   # where Greengrass unarchives a TwinModel version


@dataclass(frozen=True)
class LoadedTwinModel:
    """A verified model ready to serve, with the TwinModel identity it came from."""

    model: PowerModel
    optimizer: Optimizer
    model_version: str        # the registry model version, e.g. "edgeloop-twin/3"
    component_version: str    # the com.edgeloop.TwinModel version, e.g. "1.0.3"
    sha256: str

    @property
    def key(self) -> ModelIdentity:
        return ModelIdentity(self.component_version, self.model_version, self.sha256)


def load_verified(root: Path, config: Any, prewarm_max_cells: int = PREWARM_MAX_CELLS) -> LoadedTwinModel:
    """Check the model against `modelSha256`, load it (every model file verified), warm its tables.

    Warming fills each configuration's whole lookup grid when the grids total at most
    `prewarm_max_cells`, so the first request after a swap is as fast as any other.
    """
    (version, model_version, sha), directory = TWIN_MODEL_ON_GATEWAY.verified_directory(root, config)
    try:
        model = PowerModel.load(directory)
    except ArtifactError as exc:
        raise ModelRefused(f"{MODEL_COMPONENT} {version}: {exc}") from None
    optimizer = Optimizer(model)
    try:
        tables = [optimizer.table(name) for name in model.configurations_]
    except ValueError as exc:
        raise ModelRefused(f"{MODEL_COMPONENT} {version}: cannot build lookup tables: {exc}") from None
    if sum(t.values.size for t in tables) <= prewarm_max_cells:
        for table in tables:
            table.fill(np.arange(table.values.size))
    return LoadedTwinModel(model, optimizer, model_version, version, sha)


# -- telemetry ------------------------------------------------------------------------------------
@dataclass
class PlantTracker:
    """One plant's rolling residuals (measured - predicted kW) and its current sample batch."""

    model_key: tuple[str, str, str]
    window: int
    residuals: collections.deque = field(init=False)
    batch: list[Telemetry] = field(default_factory=list)
    since_error: int = 0

    def __post_init__(self) -> None:
        self.residuals = collections.deque(maxlen=self.window)


def _round(x: float | None, digits: int = 3) -> float | None:
    return None if x is None or not math.isfinite(x) else round(float(x), digits)


# -- the service ----------------------------------------------------------------------------------
class TwinService:
    """Requests, telemetry and the serving model; thread-safe for one worker plus one loader thread."""

    def __init__(self, settings: TwinSettings | None = None) -> None:
        self.settings = settings or TwinSettings()
        self._loaded: LoadedTwinModel | None = None
        self._plants: dict[str, PlantTracker] = {}
        self._lock = threading.Lock()
        self.counters = {"requests": 0, "request_errors": 0, "telemetry": 0, "telemetry_errors": 0,
                         "recommendations": 0, "models_loaded": 0, "models_refused": 0}

    # model
    @property
    def loaded(self) -> LoadedTwinModel | None:
        return self._loaded

    def install(self, loaded: LoadedTwinModel) -> None:
        """Serve `loaded` from the next message on (one reference assignment: atomic for readers)."""
        self._loaded = loaded
        self._count("models_loaded")

    def refused(self) -> None:
        self._count("models_refused")

    def configure(self, settings: TwinSettings) -> None:
        self.settings = settings

    def _count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counters[name] += n

    def status(self, event: str, problem: str | None = None) -> dict[str, Any]:
        loaded = self._loaded
        with self._lock:
            counters = dict(self.counters)
        body: dict[str, Any] = {
            "event": event, "serving": loaded is not None,
            "model_version": loaded.model_version if loaded else None,
            "component_version": loaded.component_version if loaded else None,
            "model_sha256": loaded.sha256 if loaded else None,
            "counters": counters, "timestamp": time.time()}
        if problem:
            body["problem"] = problem
        return body

    # requests
    def handle_request(self, message: Any, received_at: float | None = None) -> tuple[str, dict[str, Any]]:
        """(request_id, reply body) for one request message; never raises for bad input."""
        started = time.perf_counter() if received_at is None else received_at
        request_id = UNKNOWN_ID
        try:
            envelope = parse_twin_request(message)
            request_id = envelope.request_id
            request = parse_request(envelope.event)
            loaded = self._loaded
            if loaded is None:
                raise RequestError("model", f"no verified {MODEL_COMPONENT} is loaded yet")
            ranking = loaded.optimizer.rank(request, envelope.seed)
            reply = TwinResponse(
                request_id, loaded.model_version, loaded.component_version, ranking.answer(),
                {name: PowerEstimate(_round(e.expected), _round(e.low), _round(e.high))
                 for name, e in ranking.estimates.items()},
                list(ranking.excluded))
            self._count("requests")
        except RequestError as exc:
            request_id = exc.request_id or request_id
            reply = TwinResponse.failed(request_id, exc.field, exc.problem)
            self._count("request_errors")
        except Exception as exc:   # a bug must cost one request, not the component
            log.exception("request %s failed", request_id)
            reply = TwinResponse.failed(request_id, "internal", f"{type(exc).__name__}: {exc}")
            self._count("request_errors")
        body = reply.body()
        body["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 3)
        return request_id, body

    # telemetry
    def handle_telemetry(self, topic: str, payload: Any) -> list[Outgoing]:
        """Messages to publish for one telemetry sample (live error, recommendation), possibly none.

        Raises TelemetryError for a malformed sample (the caller logs it; nothing is published).
        """
        try:
            sample = parse_telemetry(topic, payload)
        except TelemetryError:
            self._count("telemetry_errors")
            raise
        self._count("telemetry")
        loaded = self._loaded
        if loaded is None:
            return []
        settings = self.settings
        tracker = self._plants.get(sample.plant_id)
        if tracker is None or tracker.model_key != loaded.key or tracker.window != settings.error_window:
            tracker = self._plants[sample.plant_id] = PlantTracker(loaded.key, settings.error_window)
        out: list[Outgoing] = []
        if sample.config in loaded.model.boosters_:
            predicted = float(loaded.optimizer.table(sample.config)(np.array([sample.flow]),
                                                                    np.array([sample.pressure]))[0])
            tracker.residuals.append((sample.power - predicted, sample.power))
        tracker.since_error += 1
        if tracker.since_error >= settings.error_every and tracker.residuals:
            tracker.since_error = 0
            live = self._live_error(sample.plant_id, tracker, loaded)
            out.append((live.topic, live.body()))
        tracker.batch.append(sample)
        if len(tracker.batch) >= settings.recommend_every:
            batch, tracker.batch = tracker.batch, []
            recommendation = self._recommend(batch, loaded)
            out.append((recommendation.topic, recommendation.body()))
            self._count("recommendations")
        return out

    @staticmethod
    def _live_error(plant_id: str, tracker: PlantTracker, loaded: LoadedTwinModel) -> LiveError:
        residuals = np.array([r for r, _ in tracker.residuals])
        measured = np.array([m for _, m in tracker.residuals])
        positive = measured > 0
        mape = float(np.mean(np.abs(residuals[positive]) / measured[positive]) * 100) if positive.any() else None
        return LiveError(plant_id, loaded.model_version, len(residuals), _round(float(np.mean(np.abs(residuals)))),
                         _round(mape), _round(float(residuals[-1])))

    @staticmethod
    def _recommend(batch: list[Telemetry], loaded: LoadedTwinModel) -> Recommendation:
        """The least expected-power configuration for the batch's (flow, pressure) points.

        Expected power of a configuration = mean model prediction over the batch (no risk margin:
        this is the saving to expect, not a ranking under uncertainty). Only configurations whose
        boundary covers every flow of the batch qualify; ties go to canonical order.
        """
        flow = np.array([s.flow for s in batch])
        pressure = np.array([s.pressure for s in batch])
        running = batch[-1].config
        model = loaded.model
        feasible = [n for n in cfgs.canonical_order(model.configurations_)
                    if model.boundaries_[n][0] <= flow.min() and flow.max() <= model.boundaries_[n][1]]
        expected = {name: float(np.mean(loaded.optimizer.table(name)(flow, pressure), dtype=np.float64))
                    for name in [*feasible, *([running] if running in model.boosters_ else [])]}
        recommended = min(feasible, key=lambda n: expected[n]) if feasible else None   # first minimum wins
        running_kw = expected.get(running)
        best_kw = expected.get(recommended) if recommended else None
        saving = running_kw - best_kw if running_kw is not None and best_kw is not None else None
        return Recommendation(
            batch[-1].plant_id, batch[-1].timestamp, running, recommended, _round(running_kw), _round(best_kw),
            _round(saving), _round(100 * saving / running_kw) if saving is not None and running_kw else None,
            loaded.model_version, len(batch))


# -- IPC wiring -----------------------------------------------------------------------------------
class TwinComponent:
    """Subscriptions, the worker, the model loader and status reports around a TwinService."""

    QUEUE_LIMIT = 10_000

    def __init__(self, ipc: Ipc, root: Path, thing: str, service: TwinService | None = None) -> None:
        self.ipc = ipc
        self.root = Path(root)
        self.thing = thing
        self.service = service or TwinService()
        self._jobs: queue.Queue = queue.Queue(self.QUEUE_LIMIT)
        self._stop = threading.Event()
        self._dropped = 0
        self.models: ModelReloader[LoadedTwinModel] = ModelReloader(
            ipc, TWIN_MODEL_ON_GATEWAY, self.root, load_verified, install=self.service.install,
            refused=self.service.refused, announce=self._publish_status, on_own_config=self._apply_own_config,
            name="twin-loader")

    # start-up
    def start(self) -> None:
        self._apply_own_config()
        self.models.reload(announce=False)   # before subscribing: the first request finds a model
        self.models.start()
        self.ipc.subscribe(REQUEST_TOPIC, lambda _t, payload: self._enqueue(("local", payload, time.perf_counter())))
        if self.thing:
            self.ipc.subscribe_iot(IOT_REQUEST_TOPIC.format(thing=self.thing),
                                   lambda _t, payload: self._enqueue(("iot", payload, time.perf_counter())))
        self.ipc.subscribe(TELEMETRY_FILTER, lambda topic, payload: self._enqueue(("telemetry", topic, payload)))
        self._publish_status("started", self.models.problem)
        log.info("ready: serving %s", self._describe())

    def _describe(self) -> str:
        loaded = self.service.loaded
        return (f"{MODEL_COMPONENT} {loaded.component_version} ({loaded.model_version})" if loaded
                else "no model (requests get an error until a verified model arrives)")

    def _apply_own_config(self) -> None:
        try:
            settings, problems = TwinSettings.from_config(self.ipc.get_configuration())
        except Exception as exc:
            log.error("cannot read this component's configuration: %s", exc)
            return
        for problem in problems:
            log.error("configuration %s", problem)
        self.service.configure(settings)

    # messages (callback threads -> worker)
    def _enqueue(self, job: tuple) -> None:
        try:
            self._jobs.put_nowait(job)
        except queue.Full:
            self._dropped += 1
            if job[0] in ("local", "iot"):
                request_id = request_id_of(job[1])
                self._reply(job[0], request_id, TwinResponse.failed(
                    request_id, "service", f"busy: {self.QUEUE_LIMIT} messages are waiting").body())
            if self._dropped in (1, 10, 100) or self._dropped % 1000 == 0:
                log.warning("work queue full: %d messages dropped", self._dropped)

    def serve(self) -> None:
        """Handle jobs until stop(); publish the status every statusIntervalS."""
        next_status = time.monotonic() + self.service.settings.status_interval_s
        while not self._stop.is_set():
            try:
                job = self._jobs.get(timeout=0.5)
            except queue.Empty:
                job = None
            if job is not None:
                self._handle(job)
            if time.monotonic() >= next_status:
                self._publish_status("periodic")
                next_status = time.monotonic() + self.service.settings.status_interval_s

    def _handle(self, job: tuple) -> None:
        kind = job[0]
        if kind in ("local", "iot"):
            request_id, body = self.service.handle_request(job[1], job[2])
            self._reply(kind, request_id, body)
            return
        try:
            outgoing = self.service.handle_telemetry(job[1], job[2])
        except TelemetryError as exc:
            errors = self.service.counters["telemetry_errors"]
            if errors <= 10 or errors % 1000 == 0:
                log.warning("telemetry on %s ignored (%d so far): %s", job[1], errors, exc)
            return
        for topic, body in outgoing:
            self._publish(topic, body)

    def _reply(self, via: str, request_id: str, body: dict[str, Any]) -> None:
        try:
            if via == "iot":
                self.ipc.publish_iot_json(IOT_RESPONSE_TOPIC.format(thing=self.thing, request_id=request_id), body)
            else:
                self.ipc.publish_json(RESPONSE_TOPIC.format(request_id=request_id), body)
        except Exception as exc:
            log.error("reply to request %s via %s failed: %s", request_id, via, exc)

    def _publish(self, topic: str, body: dict[str, Any]) -> None:
        try:
            self.ipc.publish_json(topic, body)
        except Exception as exc:
            log.error("publish on %s failed: %s", topic, exc)

    def _publish_status(self, event: str, problem: str | None = None) -> None:
        body = self.service.status(event, problem)
        self._publish(STATUS_TOPIC, body)
        if self.thing:
            try:
                self.ipc.publish_iot_json(IOT_STATUS_TOPIC.format(thing=self.thing), body)
            except Exception as exc:
                log.error("status to IoT Core failed: %s", exc)

    def stop(self) -> None:
        self._stop.set()
        self.models.stop()


def main() -> int:
    """`python -m edgeloop.components.digital_twin`: run the component under a Greengrass nucleus."""
    return run_component(TwinComponent, log)
