"""The cloud end of the ECG pre-filter: what gateways send up, into the archive, the alert fan-out
and two JSON-lines files.

    dt/ecg/+/window   -> PathologyArchive.store (PNG, raw, metadata, index)
    dt/ecg/+/alert    -> AlertFanout (log + webhook); receive time - window end = alert latency
    dt/ecg/+/summary  -> ARCHIVE/summaries.jsonl
    dt/ecg/+/error    -> ARCHIVE/errors.jsonl
    anything malformed -> counted by reason, ARCHIVE/rejects.jsonl (topic, reason, payload head)

Two MQTT sessions, not one: storing a window waits for its PNG, drawn by the archive's
low-priority worker process (render_pool.py; about 40 ms of CPU, and longer on a busy machine,
since the worker yields to everything else), and a broker sends a client only a few
unacknowledged QoS 1 messages at a time, so on a single session a burst of windows would hold
alerts back at the broker. Alerts, summaries and errors therefore have their own session and
thread, and never wait for a picture. Both sessions are persistent (clean_session False, fixed
client ids), so what the broker holds while the receiver restarts arrives afterwards; a window is
acknowledged only after its index row is committed (paho acknowledges when on_message returns),
and a redelivered window is recognised by (device_id, window_id) and counted as a duplicate.

The device id in the topic must equal the message's, so one device cannot file data under another.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Self

import numpy as np
import paho.mqtt.client as mqtt

from edgeloop.brokers import BrokerAddress, parse_broker
from edgeloop.cloud.errors import ArchiveError, ReceiverError, Reject, RenderError, UnsafeIdError
from edgeloop.contracts import ecg as wire

from ..subscription import MqttSubscription
from .alerts import AlertFanout, JsonLines
from .archive import PathologyArchive
from .render import check_available

MAX_WINDOW_BYTES = 1_000_000      # a 60 s window at 250 Hz is about 20 KB (AWS IoT Core allows 128 KB)
MAX_EVENT_BYTES = 64_000
REJECT_PAYLOAD_HEAD = 512
RECENT_ALERTS = 10_000            # alert keys remembered to drop QoS 1 redeliveries
LATENCIES_KEPT = 100_000

Log = Callable[[str], None]


TOPICS = {"window": wire.WINDOW_TOPIC, "alert": wire.ALERT_TOPIC, "summary": wire.SUMMARY_TOPIC,
          "error": wire.ERROR_TOPIC}


def _topic_device(topic: str, kind: str) -> str:
    device = wire.device_of(topic, TOPICS[kind])
    if device is None:
        raise Reject("bad topic", f"topic {topic!r:.120} is not {TOPICS[kind].format(device_id='<device_id>')}")
    return device


def _json_object(payload: bytes | bytearray, limit: int) -> dict[str, Any]:
    if len(payload) > limit:
        raise Reject("too large", f"{len(payload)} bytes, at most {limit}")
    try:
        body = json.loads(payload)
    except (ValueError, UnicodeDecodeError) as exc:
        raise Reject("not JSON", f"not JSON ({str(exc)[:80]})") from None
    if not isinstance(body, dict):
        raise Reject("not JSON", f"expected a JSON object, got {type(body).__name__}")
    return body


def _same_device(body: dict[str, Any], topic_device: str) -> None:
    device_id = body.get("device_id")
    if device_id != topic_device:
        raise Reject("device mismatch", f"device_id {device_id!r:.60} is not the topic's {topic_device!r}")


def _checked(parse: Callable[[dict[str, Any]], Any], body: dict[str, Any]) -> Any:
    """`parse(body)` under the ECG contract; its EventError becomes a "schema" or "bad field" reject."""
    try:
        return parse(body)
    except wire.EventError as exc:
        raise Reject("schema" if exc.reason == "schema" else "bad field", str(exc)) from None


def percentiles(values: Sequence[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50": None, "p90": None, "p99": None, "max": None}
    arr = np.asarray(values, dtype=np.float64)
    p50, p90, p99 = np.percentile(arr, [50, 90, 99])
    return {"n": int(arr.size), "p50": round(float(p50), 4), "p90": round(float(p90), 4),
            "p99": round(float(p99), 4), "max": round(float(arr.max()), 4)}


class EcgCloudReceiver:
    """Subscribes at the cloud broker (standing in for AWS IoT Core) and files what gateways send."""

    def __init__(self, broker_url: str | BrokerAddress, archive: PathologyArchive, fanout: AlertFanout, *,
                 client_id: str = "edgeloop-cloud-ecg", summaries_path: str | Path | None = None,
                 errors_path: str | Path | None = None, connect_timeout_s: float = 10.0,
                 log: Log = lambda line: None) -> None:
        self.broker = broker_url if isinstance(broker_url, BrokerAddress) else parse_broker(broker_url)
        check_available()        # RenderError naming the install, before any window is refused for it
        self.archive, self.fanout, self.log = archive, fanout, log
        self.summaries = JsonLines(Path(summaries_path) if summaries_path else archive.root / "summaries.jsonl")
        self.errors = JsonLines(Path(errors_path) if errors_path else archive.root / "errors.jsonl")
        self.rejects_log = JsonLines(archive.root / "rejects.jsonl")
        self._lock = threading.Lock()
        self.counts: Counter[str] = Counter()
        self.rejects: Counter[str] = Counter()
        self.alert_times: deque[tuple[str, str, float, float]] = deque(maxlen=LATENCIES_KEPT)
        self._recent_alerts: OrderedDict[tuple[str, str], None] = OrderedDict()
        self._windows = MqttSubscription(self.broker, f"{client_id}-windows", [wire.WINDOW_FILTER],
                                         self._on_window, connect_timeout_s=connect_timeout_s, log=log, error=ReceiverError)
        self._events = MqttSubscription(self.broker, f"{client_id}-events",
                                        [wire.ALERT_FILTER, wire.SUMMARY_FILTER, wire.ERROR_FILTER],
                                        self._on_event, connect_timeout_s=connect_timeout_s, log=log, error=ReceiverError)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> Self:
        """Connect both sessions and return once both subscriptions are acknowledged."""
        self._events.start()
        try:
            self._windows.start()
        except ReceiverError:
            self._events.stop()
            raise
        return self

    def stop(self) -> None:
        """Disconnect, then stop the archive's renderer process (the archive stays usable; the
        fan-out belongs to the caller: close it after this)."""
        self._events.stop()
        self._windows.stop()
        self.archive.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def connected(self) -> bool:
        return self._windows.connected and self._events.connected

    # -- messages --------------------------------------------------------------------------------

    def _on_window(self, message: mqtt.MQTTMessage) -> None:
        received_at = time.time()
        self._guard("window", message, lambda: self._window(message, received_at))

    def _on_event(self, message: mqtt.MQTTMessage) -> None:
        received_at = time.time()
        kind = message.topic.rsplit("/", 1)[-1]
        handler = {"alert": self._alert, "summary": self._summary, "error": self._error}.get(kind)
        if handler is None:
            self._reject("message", message, Reject("bad topic", f"unexpected topic {message.topic!r:.120}"))
            return
        self._guard(kind, message, lambda: handler(message, received_at))

    def _guard(self, kind: str, message: mqtt.MQTTMessage, work: Callable[[], None]) -> None:
        """Run one message's handling; whatever goes wrong is counted, never raised into paho
        (an exception there would end the client's network thread)."""
        try:
            work()
        except Reject as exc:
            self._reject(kind, message, exc)
        except Exception as exc:  # noqa: BLE001 - a bug must cost one message, not the receiver
            self._reject(kind, message, Reject("internal error", f"{type(exc).__name__}: {exc}"))

    def _window(self, message: mqtt.MQTTMessage, received_at: float) -> None:
        device = _topic_device(message.topic, "window")
        body = _json_object(message.payload, MAX_WINDOW_BYTES)
        _same_device(body, device)
        try:
            window = wire.parse_window(body)
        except wire.WindowFormatError as exc:
            raise Reject("bad field", str(exc)) from None
        try:
            stored = self.archive.store(window, received_at)
        except UnsafeIdError as exc:
            raise Reject("unsafe id", str(exc)) from None
        except ArchiveError as exc:
            raise Reject("bad field", str(exc)) from None
        except RenderError as exc:
            raise Reject("render failed", str(exc)) from None
        except OSError as exc:
            raise Reject("store failed", f"cannot write to {self.archive.root}: {exc}") from None
        with self._lock:
            self.counts["duplicates" if stored.duplicate else "windows"] += 1

    def _alert(self, message: mqtt.MQTTMessage, received_at: float) -> None:
        device = _topic_device(message.topic, "alert")
        alert = _checked(wire.parse_alert, _json_object(message.payload, MAX_EVENT_BYTES))
        _same_device(alert.body, device)
        key = (device, alert.window_id)
        with self._lock:
            if key in self._recent_alerts:
                self.counts["alert_duplicates"] += 1
                return
            self._recent_alerts[key] = None
            if len(self._recent_alerts) > RECENT_ALERTS:
                self._recent_alerts.popitem(last=False)
            self.counts["alerts"] += 1
            self.alert_times.append((device, alert.window_id, alert.end, received_at))
        self.fanout.publish(alert.body, received_at)

    def _summary(self, message: mqtt.MQTTMessage, received_at: float) -> None:
        self._event_line("summary", wire.parse_summary, message, received_at, self.summaries, "summaries")

    def _error(self, message: mqtt.MQTTMessage, received_at: float) -> None:
        self._event_line("error", wire.parse_error_report, message, received_at, self.errors, "errors")

    def _event_line(self, kind: str, parse: Callable[[dict[str, Any]], Any], message: mqtt.MQTTMessage,
                    received_at: float, out: JsonLines, counter: str) -> None:
        device = _topic_device(message.topic, kind)
        body = _json_object(message.payload, MAX_EVENT_BYTES)
        _same_device(body, device)
        _checked(parse, body)
        out.append(dict(body, received_at=received_at))
        with self._lock:
            self.counts[counter] += 1

    def _reject(self, kind: str, message: mqtt.MQTTMessage, exc: Reject) -> None:
        reason = f"{kind}: {exc.reason}"
        with self._lock:
            self.rejects[reason] += 1
        head = bytes(message.payload[:REJECT_PAYLOAD_HEAD]).decode("utf-8", "replace")
        self.log(f"rejected {message.topic}: {reason}: {exc}")
        try:
            self.rejects_log.append({"received_at": time.time(), "topic": message.topic, "reason": reason,
                                     "detail": str(exc), "payload_head": head, "bytes": len(message.payload)})
        except OSError as err:
            self.log(f"cannot write to {self.rejects_log.path}: {err}")

    # -- numbers ---------------------------------------------------------------------------------

    def alert_latencies(self) -> list[float]:
        """Seconds from each alert's window end to its arrival here (clocks of gateway and cloud)."""
        with self._lock:
            return [received - end for _, _, end, received in self.alert_times]

    def stats(self) -> dict[str, Any]:
        with self._lock:
            counts, rejects = dict(self.counts), dict(self.rejects)
        return {"broker": str(self.broker), "connected": self.connected,
                "windows_stored": counts.get("windows", 0), "duplicates": counts.get("duplicates", 0),
                "alerts": counts.get("alerts", 0), "alert_duplicates": counts.get("alert_duplicates", 0),
                "summaries": counts.get("summaries", 0), "errors": counts.get("errors", 0),
                "rejected": sum(rejects.values()), "rejects": rejects,
                "alert_latency_s": percentiles(self.alert_latencies()), "fanout": self.fanout.stats()}
