"""The pre-filter's screening logic, without IPC: chunks in, messages to publish out.

`PrefilterService` is what com.edgeloop.EcgPrefilter runs on its worker thread (component.py wires
it to IPC), and what tests drive directly:

* `parse(topic, payload)` -> a contracts.ecg.Chunk or a RejectedChunk (`handle_payload` parses, then handles);
* `handle(item, now)` -> [Outgoing]: reassembles the device's stream (reassembly.DeviceStream) and
  hands each completed window to the screener (screening.py: analysis and classification, in this
  thread or in analysis processes). Every window whose result is ready, in the order the windows
  were cut, then becomes messages: non-normal, the alert (IoT Core and local pub/sub) and then the
  window (IoT Core); normal, only accumulated into the device's summary, sent every
  `summaryIntervalS` of its signal time. Without a verified model, windows are counted as
  unscreened (never passed off as normal), and the status says why. `collect(now)` returns the
  messages of windows that finished since (the component calls it when a screener reports one);
* a rejected chunk or a window whose analysis fails is counted per device and field and reported on
  `dt/ecg/<id>/error`, at most once per `errorReportIntervalS` per device with the counts in
  between aggregated (`tick(now)` sends a report that is due without a new error, and places the
  chunks a quiet device left held behind a missing one);
* `status(...)` -> the status messages (counters, model, devices, queue high-water mark).

Bytes: `bytes_in` counts chunk payloads as received; `bytes_up` every IoT Core payload, measured as
the JSON text edgeloop.ipc sends (`json.dumps(body)`).

One worker thread calls parse results into handle/tick/status; `install` / `configure` may come from
the model loader's thread: both swap one reference the worker picks up at its next item.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections import Counter, deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from edgeloop.components.errors import ScreenerError, SignalError
from edgeloop.contracts.ecg import (
    ALERT_TOPIC,
    ERROR_TOPIC,
    IOT_STATUS_TOPIC,
    LABELS,
    STATUS_TOPIC,
    SUMMARY_TOPIC,
    WINDOW_TOPIC,
    Chunk,
    alert_message,
    device_of,
    error_message,
    parse_chunk,
    summary_message,
    window_message,
)
from edgeloop.contracts.errors import ChunkError
from edgeloop.errors import ArtifactError, ModelRefused
from edgeloop.model_component import ModelIdentity

from .classifier import EcgClassifier
from .filters import MAX_FS, MIN_FS, MIN_SECONDS
from .packaging import ECG_MODEL_KIND
from .reassembly import COUNTERS as STREAM_COUNTERS
from .reassembly import DeviceStream, StreamConfig, StreamWindow
from .screening import InlineScreener, ModelRef, Screened, Screener

log = logging.getLogger("edgeloop.ecg")

ECG_MODEL_ON_GATEWAY = ECG_MODEL_KIND.on_gateway  # com.edgeloop.EcgModel, unarchived ecg-model.zip
WINDOW_FIELD = "window"          # the error field of a window whose analysis failed
HOLD_TIMEOUT_S = 5.0             # a quiet device's held chunks wait this long for a missing one

SERVICE_COUNTERS = ("chunks_malformed", "bytes_in", "bytes_up", "windows_screened", "windows_normal",
                    "windows_forwarded", "windows_unscreened", "windows_failed", "alerts", "summaries",
                    "error_reports", "models_loaded", "models_refused", "streams_reset")


# -- settings -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PrefilterSettings:
    """The component's configuration (recipe DefaultConfiguration; deployments may change it)."""

    fs: float = 250.0
    window_s: float = 60.0
    hop_s: float = 60.0
    reorder_chunks: int = 3
    max_gap_s: float = 2.0
    summary_interval_s: float = 300.0
    status_interval_s: float = 60.0
    error_report_interval_s: float = 10.0

    # key, attribute, lowest, highest, whole number, lowest allowed (else above it)
    _RULES = (("fs", "fs", MIN_FS, MAX_FS, False, True),
              ("windowS", "window_s", MIN_SECONDS, 600.0, False, True),
              ("hopS", "hop_s", 0.0, 600.0, False, False),
              ("reorderChunks", "reorder_chunks", 0, 100, True, True),
              ("maxGapS", "max_gap_s", 0.0, 60.0, False, True),
              ("summaryIntervalS", "summary_interval_s", 0.0, 86_400.0, False, False),
              ("statusIntervalS", "status_interval_s", 0.0, 86_400.0, False, False),
              ("errorReportIntervalS", "error_report_interval_s", 0.0, 86_400.0, False, True))

    @classmethod
    def from_config(cls, config: Any) -> tuple[PrefilterSettings, list[str]]:
        """PrefilterSettings from the configuration tree; a bad value keeps its default and is named in the problems."""
        problems: list[str] = []
        config = config if isinstance(config, dict) else {}
        values: dict[str, Any] = {}
        for key, attr, low, high, whole, inclusive in cls._RULES:
            if key not in config:
                continue
            value = config[key]
            number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
            ok = (number is not None and math.isfinite(number) and (number >= low if inclusive else number > low)
                  and number <= high and (not whole or number == int(number)))
            if not ok:
                bound = f"{'>=' if inclusive else '>'} {low:g} and <= {high:g}"
                problems.append(f"/{key}: expected a {'whole ' if whole else ''}number {bound}, got "
                                f"{value!r:.60}; keeping {getattr(cls, attr)}")
                continue
            values[attr] = int(number) if whole else float(number)   # type: ignore[arg-type]
        window = values.get("window_s", cls.window_s)
        if values.get("hop_s", cls.hop_s) > window:
            kept = min(cls.hop_s, window)
            problems.append(f"/hopS: {values.get('hop_s', cls.hop_s):g} s is longer than windowS {window:g} s "
                            f"(a hop longer than the window would skip signal); keeping {kept:g}")
            values["hop_s"] = kept
        return cls(**values), problems

    def stream_config(self) -> StreamConfig:
        return StreamConfig(self.fs, self.window_s, self.hop_s, self.reorder_chunks, self.max_gap_s)


# -- the model ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LoadedEcgModel:
    """A verified classifier, the EcgModel identity it came from and its verified directory."""

    classifier: EcgClassifier
    identity: ModelIdentity
    directory: Path

    @property
    def model_version(self) -> str:
        return self.identity.model_version

    @cached_property
    def ref(self) -> ModelRef:
        """What a screener needs to use this model, in this thread or in an analysis process."""
        return ModelRef(self.classifier, self.directory, self.identity.sha256)


def load_verified(root: str | Path, config: Any) -> LoadedEcgModel:
    """The EcgModel version `config` names, checked against modelSha256 and loaded (every file verified)."""
    identity, directory = ECG_MODEL_ON_GATEWAY.verified_directory(root, config)
    try:
        return LoadedEcgModel(EcgClassifier.load(directory), identity, directory)
    except ArtifactError as exc:
        raise ModelRefused(f"{ECG_MODEL_ON_GATEWAY.name} {identity.component_version}: {exc}") from None


# -- messages -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outgoing:
    """One message to publish: on local pub/sub (`local` topic), IoT Core (`iot` topic), or both
    (IoT Core first). Lists of Outgoing are published in order: an alert before its window."""

    body: dict[str, Any]
    local: str | None = None
    iot: str | None = None

    @cached_property
    def payload(self) -> bytes:
        """The IoT Core payload, serialised once: counted in bytes_up and published as these bytes."""
        return json.dumps(self.body).encode()


@dataclass(frozen=True)
class RejectedChunk:
    """A chunk that failed validation: the device (from the topic; None if not a device topic)."""

    topic: str
    device_id: str | None
    field: str
    problem: str
    size: int


@dataclass(frozen=True)
class Pending:
    """A window handed to the screener (`result` None: cut without a model, counted unscreened)."""

    device_id: str
    window: StreamWindow
    model: LoadedEcgModel | None
    result: Future[Screened] | None


@dataclass
class DeviceState:
    """One wearable: its stream, error accounting and the summary being accumulated."""

    stream: DeviceStream
    errors: Counter = field(default_factory=Counter)          # field -> total
    unreported: Counter = field(default_factory=Counter)      # field -> since the last report
    last_error: tuple[str, str] = ("", "")
    first_unreported: float = 0.0
    next_report: float = 0.0
    bytes_in: int = 0
    last_seen: float = 0.0                                    # `now` of its last chunk
    summary_start: float | None = None
    windows: int = 0
    forwarded: int = 0
    unscreened: int = 0
    failed: int = 0
    labels: Counter = field(default_factory=Counter)
    bpm: list[float] = field(default_factory=list)
    quality: list[float] = field(default_factory=list)
    gaps_s: float = 0.0



def _failure(window_id: str, exc: Exception) -> tuple[str, str]:
    """(what the log says, what the device's error report says) of a window that was not screened."""
    if isinstance(exc, SignalError):
        return str(exc), str(exc)
    if isinstance(exc, (ScreenerError, ModelRefused)):   # an analysis process died or refused the model
        return str(exc), f"not screened ({exc})"
    log.error("screening window %s failed", window_id, exc_info=exc)     # a bug: with its traceback
    return f"{type(exc).__name__}: {exc}", f"analysis failed ({type(exc).__name__})"


# -- the service ----------------------------------------------------------------------------------
class PrefilterService:
    """Per-device reassembly, screening, summaries, error reports and counters (module docstring)."""

    def __init__(self, settings: PrefilterSettings | None = None, thing: str = "",
                 screener: Screener | None = None) -> None:
        self.settings = settings or PrefilterSettings()
        self.screener: Screener = screener or InlineScreener()
        self._pending: deque[Pending] = deque()      # windows cut, in order, whose messages are not out
        self._next_settings: PrefilterSettings | None = None
        self.thing = thing
        self._model: LoadedEcgModel | None = None
        self.model_problem: str | None = f"no {ECG_MODEL_ON_GATEWAY.name} loaded yet"
        self.devices: dict[str, DeviceState] = {}
        self.counters: dict[str, int] = dict.fromkeys(SERVICE_COUNTERS, 0)
        self.malformed: Counter = Counter()           # field -> chunks rejected
        self.forwarded_labels: Counter = Counter()
        self._retired: Counter = Counter()            # stream counters of streams reset by a reconfiguration
        self._due_errors: set[str] = set()
        self._holding: set[str] = set()               # devices with chunks held back behind a missing one
        self._lock = threading.Lock()                 # counters written by the loader thread

    # -- model and settings (any thread) ---------------------------------------------------------
    @property
    def model(self) -> LoadedEcgModel | None:
        return self._model

    def install(self, model: LoadedEcgModel) -> None:
        """Screen with `model` from the next window on (one reference assignment)."""
        self._model = model
        self.model_problem = None
        with self._lock:
            self.counters["models_loaded"] += 1

    def refused(self) -> None:
        with self._lock:
            self.counters["models_refused"] += 1

    def configure(self, settings: PrefilterSettings, immediately: bool = False) -> None:
        """Use `settings` from the worker's next item (streams restart if the geometry changed);
        `immediately` only while no worker runs (at start-up)."""
        with self._lock:
            self._next_settings = settings
        if immediately:
            self._apply_settings()

    def _apply_settings(self) -> None:
        """Switch to settings `configure` left (on the worker, between items)."""
        if self._next_settings is None:
            return
        with self._lock:
            settings, self._next_settings = self._next_settings, None
        if settings.stream_config() != self.settings.stream_config():
            for state in self.devices.values():
                self._retired.update(state.stream.counts)
                state.stream = DeviceStream(state.stream.device_id, settings.stream_config())
                self.counters["streams_reset"] += 1
        self.settings = settings

    # -- chunks ----------------------------------------------------------------------------------
    def parse(self, topic: str, payload: Any) -> Chunk | RejectedChunk:
        """Validate one `dt/sensor/<id>` message."""
        try:
            return parse_chunk(topic, payload, expected_fs=(self._next_settings or self.settings).fs)
        except ChunkError as exc:
            size = len(payload) if isinstance(payload, (bytes, bytearray, str)) else 0
            return RejectedChunk(topic, device_of(topic), exc.field, exc.problem, size)

    def handle_payload(self, topic: str, payload: Any, now: float | None = None) -> list[Outgoing]:
        return self.handle(self.parse(topic, payload), now)

    def handle(self, item: Chunk | RejectedChunk, now: float | None = None) -> list[Outgoing]:
        """Messages to publish for one parsed chunk (or rejection), in order."""
        now = time.time() if now is None else now
        self._apply_settings()
        if isinstance(item, RejectedChunk):
            return self._rejected(item, now)
        self.counters["bytes_in"] += item.size
        state = self._device(item.device_id)
        state.bytes_in += item.size
        state.last_seen = now
        for window in state.stream.offer(item):
            self._submit(item.device_id, window)
        if state.stream.held:
            self._holding.add(item.device_id)
        else:
            self._holding.discard(item.device_id)
        return self.collect(now)

    def _device(self, device_id: str) -> DeviceState:
        state = self.devices.get(device_id)
        if state is None:
            state = self.devices[device_id] = DeviceState(DeviceStream(device_id, self.settings.stream_config()))
        return state

    # -- errors ----------------------------------------------------------------------------------
    def _rejected(self, item: RejectedChunk, now: float) -> list[Outgoing]:
        self.counters["chunks_malformed"] += 1
        self.counters["bytes_in"] += item.size
        self.malformed[item.field] += 1
        if item.device_id is None:   # not one topic level we can answer on; counted and logged only
            log.warning("chunk on %r dropped: %s: %s", item.topic[:100], item.field, item.problem)
            return []
        state = self._device(item.device_id)
        state.bytes_in += item.size
        return self._up(self._error(item.device_id, state, item.field, item.problem, now))

    def _error(self, device_id: str, state: DeviceState, field: str, problem: str, now: float) -> list[Outgoing]:
        state.errors[field] += 1
        if not state.unreported:
            state.first_unreported = now
        state.unreported[field] += 1
        state.last_error = (field, problem)
        if now >= state.next_report:
            return [self._report(device_id, state, now)]
        self._due_errors.add(device_id)
        return []

    def _report(self, device_id: str, state: DeviceState, now: float) -> Outgoing:
        field, problem = state.last_error
        body = error_message(device_id=device_id, field=field, problem=problem, errors=state.unreported,
                             total=sum(state.errors.values()), since=state.first_unreported, timestamp=now)
        state.unreported = Counter()
        state.next_report = now + self.settings.error_report_interval_s
        self._due_errors.discard(device_id)
        self.counters["error_reports"] += 1
        topic = ERROR_TOPIC.format(device_id=device_id)
        return Outgoing(body, local=topic, iot=topic)

    def tick(self, now: float | None = None) -> list[Outgoing]:
        """Error reports whose rate-limit interval has passed since errors were last held back, and
        the windows of devices that went quiet with chunks held behind a missing one (after
        HOLD_TIMEOUT_S the missing chunk is given up, as a later chunk would have done)."""
        now = time.time() if now is None else now
        self._apply_settings()
        out = [self._report(device_id, self.devices[device_id], now) for device_id in list(self._due_errors)
               if now >= self.devices[device_id].next_report]
        for device_id in list(self._holding):
            state = self.devices[device_id]
            if now - state.last_seen >= HOLD_TIMEOUT_S:
                self._holding.discard(device_id)
                for window in state.stream.flush():
                    self._submit(device_id, window)
        return self._up(out) + self.collect(now)

    # -- windows ---------------------------------------------------------------------------------
    def _submit(self, device_id: str, window: StreamWindow) -> None:
        """Hand a window to the screener (without a model it is not analysed: nothing could act on
        the features); its messages come out of collect(), in the order windows were cut."""
        model = self._model
        result = self.screener.submit(window.ecg, window.fs, model.ref) if model is not None else None
        self._pending.append(Pending(device_id, window, model, result))

    @property
    def in_analysis(self) -> int:
        """Windows cut whose verdict is not out yet."""
        return len(self._pending)

    def collect(self, now: float | None = None) -> list[Outgoing]:
        """The messages of every window whose result is ready, oldest first, up to the first one
        still in analysis (so alerts and summaries keep each device's window order)."""
        now = time.time() if now is None else now
        out: list[Outgoing] = []
        while self._pending and (self._pending[0].result is None or self._pending[0].result.done()):
            item = self._pending.popleft()
            state = self.devices.get(item.device_id)
            if state is not None:          # (a device's state lives as long as the service)
                out += self._screened(item, state, now)
        return self._up(out)

    def _screened(self, item: Pending, state: DeviceState, now: float) -> list[Outgoing]:
        device_id, window, model = item.device_id, item.window, item.model
        if state.summary_start is None:
            state.summary_start = window.start
        state.windows += 1
        state.gaps_s += window.gaps_s
        if item.result is None or model is None:
            self.counters["windows_unscreened"] += 1
            state.unscreened += 1
            return self._summary_if_due(device_id, state, window.end)
        out: list[Outgoing] = []
        try:
            screened = item.result.result()
        except Exception as exc:   # a failure costs one window, not the device or the gateway
            logged, reported = _failure(window.window_id, exc)
            self._window_failed(state, f"{window.window_id}: {logged}")
            out += self._error(device_id, state, WINDOW_FIELD, f"window {window.window_id}: {reported}", now)
            return out + self._summary_if_due(device_id, state, window.end)
        analysis, verdict = screened.analysis, screened.verdict
        self.counters["windows_screened"] += 1
        if verdict.forward:
            self.counters["windows_forwarded"] += 1
            self.counters["alerts"] += 1
            self.forwarded_labels[verdict.label] += 1
            state.forwarded += 1
            state.labels[verdict.label] += 1
            features = analysis.features
            alert = alert_message(device_id=device_id, window_id=window.window_id, start=window.start,
                                  end=window.end, label=verdict.label, score=verdict.score,
                                  model_version=model.model_version, hr_bpm=features.get("hr_mean_bpm"),
                                  quality=features.get("quality", math.nan), detected_at=now)
            body = window_message(device_id=device_id, window_id=window.window_id, start=window.start,
                                  fs=window.fs, ecg_mv=window.ecg, label=verdict.label, score=verdict.score,
                                  probabilities=verdict.probabilities, model_version=model.model_version,
                                  features=features, summary=analysis.summary, gaps_s=window.gaps_s)
            alert_topic = ALERT_TOPIC.format(device_id=device_id)
            out += [Outgoing(alert, local=alert_topic, iot=alert_topic),
                    Outgoing(body, iot=WINDOW_TOPIC.format(device_id=device_id))]
        else:
            self.counters["windows_normal"] += 1
            state.labels["normal"] += 1
            state.bpm.append(analysis.features["hr_mean_bpm"])
            state.quality.append(analysis.features["quality"])
        return out + self._summary_if_due(device_id, state, window.end)

    def _window_failed(self, state: DeviceState, what: str) -> None:
        self.counters["windows_failed"] += 1
        state.failed += 1
        log.warning("window %s not screened", what)

    def _summary_if_due(self, device_id: str, state: DeviceState, end: float) -> list[Outgoing]:
        start = state.summary_start if state.summary_start is not None else end
        if end - start < self.settings.summary_interval_s - 1e-6:
            return []
        model = self._model
        chunk_counts = {k: state.stream.counts[k] for k in STREAM_COUNTERS if k not in ("windows", "samples_discarded")}
        chunk_counts["malformed"] = sum(v for k, v in state.errors.items() if k != WINDOW_FIELD)
        body = summary_message(device_id=device_id, start=start, end=end,
                               model_version=model.model_version if model else None, windows=state.windows,
                               forwarded=state.forwarded, unscreened=state.unscreened, failed=state.failed,
                               labels={k: state.labels[k] for k in LABELS}, bpm=state.bpm,
                               quality=state.quality, gaps_s=state.gaps_s, chunks=chunk_counts)
        state.summary_start = end
        state.windows = state.forwarded = state.unscreened = state.failed = 0
        state.labels, state.bpm, state.quality, state.gaps_s = Counter(), [], [], 0.0
        self.counters["summaries"] += 1
        return [Outgoing(body, iot=SUMMARY_TOPIC.format(device_id=device_id))]

    def close(self) -> None:
        """Stop the screener (its processes, if any) once the windows in hand are analysed."""
        self.screener.close()

    def _up(self, out: list[Outgoing]) -> list[Outgoing]:
        """Count the bytes of what goes to IoT Core."""
        for message in out:
            if message.iot:
                self.counters["bytes_up"] += len(message.payload)
        return out

    # -- status ----------------------------------------------------------------------------------
    def totals(self) -> dict[str, int]:
        """Every counter: the service's, and the chunk counters summed over every device stream."""
        streams = Counter(self._retired)
        for state in self.devices.values():
            streams.update(state.stream.counts)
        with self._lock:
            counters = dict(self.counters)
        return {**{k: int(streams[k]) for k in STREAM_COUNTERS}, **counters}

    def status(self, event: str, problem: str | None = None, **extra: Any) -> list[Outgoing]:
        """The status messages (local, and IoT Core when the thing name is known); call on the worker."""
        self._apply_settings()
        model = self._model
        body: dict[str, Any] = {
            "event": event, "serving": model is not None,
            "model_version": model.model_version if model else None,
            "component_version": model.identity.component_version if model else None,
            "model_sha256": model.identity.sha256 if model else None,
            "model_problem": self.model_problem,
            "counters": self.totals(),
            "malformed_by_field": dict(self.malformed),
            "forwarded_by_label": dict(self.forwarded_labels),
            "devices": len(self.devices), "windows_in_analysis": self.in_analysis,
            "settings": {"fs": self.settings.fs, "windowS": self.settings.window_s, "hopS": self.settings.hop_s},
            **extra, "timestamp": time.time()}
        if problem:
            body["problem"] = problem
        out = Outgoing(body, local=STATUS_TOPIC, iot=IOT_STATUS_TOPIC.format(thing=self.thing) if self.thing else None)
        return self._up([out])
