"""ECG messages: the wearables' chunks and what the pre-filter sends up, for devices, gateway and cloud.

Topics (device ids are one MQTT topic level):
  dt/sensor/<device_id>        wearable -> gateway   chunk {device_id, seq, timestamp, fs, ecg[], ppg[], bpm}
  dt/ecg/<device_id>/window    gateway -> IoT Core   a non-normal 60 s window (compressed raw + spectrogram)
  dt/ecg/<device_id>/alert     gateway -> IoT Core and local pub/sub: the verdict, at once
  dt/ecg/<device_id>/summary   gateway -> IoT Core   periodic summary of a device's normal windows
  dt/ecg/<device_id>/error     gateway -> local pub/sub and IoT Core: chunks dropped (or windows that
                               failed analysis), and why; at most one report per device per interval
  edgeloop/ecg/status, edgeloop/<thing>/ecg/status   the pre-filter's counters, model and devices

Every problem raises a ContractError subclass naming the field: ChunkError for a chunk,
WindowFormatError for a forwarded window, EventError for an alert, summary or error report.

Chunks are checked by hand rather than with jsonschema: a gateway validates about a thousand
500-sample chunks a second, and one numpy conversion plus a few type checks costs tens of
microseconds where a schema walk over every sample costs milliseconds. For the same reason chunks
are decoded with orjson (5-7x faster than json on a chunk's 500 numbers, ~20 vs ~120-200 us; the
gateway parses ~1,000 a second); the standard library's json names the problem of a payload orjson
refuses.

Raw windows travel as int16 microvolts, first-differenced, zlib-compressed and base64-encoded
(`encode_samples`): ECG amplitudes stay far inside +-32.767 mV and 1 uV is below any wearable's
noise, so the round trip changes nothing a reader could see while cutting 60 s x 250 Hz from
about 120 KB of JSON floats to about 15-20 KB.
"""

from __future__ import annotations

import base64
import json
import math
import re
import zlib
from dataclasses import dataclass
from typing import Any, TypeGuard

import numpy as np
import orjson

from edgeloop.contracts.errors import ChunkError, EventError, WindowFormatError, json_object

from .topics import topic_filter, topic_levels

SENSOR_TOPIC = "dt/sensor/{device_id}"
WINDOW_TOPIC = "dt/ecg/{device_id}/window"
ALERT_TOPIC = "dt/ecg/{device_id}/alert"
SUMMARY_TOPIC = "dt/ecg/{device_id}/summary"
ERROR_TOPIC = "dt/ecg/{device_id}/error"
STATUS_TOPIC = "edgeloop/ecg/status"
IOT_STATUS_TOPIC = "edgeloop/{thing}/ecg/status"
SENSOR_FILTER = topic_filter(SENSOR_TOPIC)
WINDOW_FILTER = topic_filter(WINDOW_TOPIC)
ALERT_FILTER = topic_filter(ALERT_TOPIC)
SUMMARY_FILTER = topic_filter(SUMMARY_TOPIC)
ERROR_FILTER = topic_filter(ERROR_TOPIC)

SCHEMA_VERSION = 1
LABELS = ("normal", "af", "other", "noisy")
MAX_WINDOW_SAMPLES = 600 * 1000    # 10 min at 1 kHz: more than any window a gateway cuts
MAX_CHUNK_S = 10.0             # a chunk longer than this is "absurd" (wearables send about 1 s)
_DEVICE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")   # one safe MQTT topic level
_UV_PER_MV = 1000.0
_NUMBER_TYPES = {int, float}   # what json.loads makes of JSON numbers


@dataclass(frozen=True)
class Chunk:
    """One validated wearable chunk; `ecg` in mV (float64), `ppg` may be empty."""

    device_id: str
    seq: int
    timestamp: float          # epoch seconds of the first sample
    fs: float
    ecg: np.ndarray
    ppg: np.ndarray
    bpm: float | None
    size: int                 # bytes of the payload as received

    @property
    def duration_s(self) -> float:
        return self.ecg.size / self.fs


def device_of(topic: str, template: str = SENSOR_TOPIC) -> str | None:
    """The device id of a topic of `template`'s shape (default `dt/sensor/<device_id>`), or None."""
    levels = topic_levels(template, topic)
    return levels["device_id"] if levels is not None and valid_device_id(levels["device_id"]) else None


def sensor_topic(device_id: str) -> str:
    """The topic a wearable publishes on; ValueError for an id that is not one safe topic level."""
    if not valid_device_id(device_id):
        raise ValueError(f"device id {device_id!r}: expected 1-128 letters, digits or . _ : -")
    return SENSOR_TOPIC.format(device_id=device_id)


def valid_device_id(device_id: Any) -> TypeGuard[str]:
    return isinstance(device_id, str) and bool(_DEVICE_ID.match(device_id))


def _number(value: Any, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ChunkError(field, f"expected a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ChunkError(field, f"{value} is not finite")
    return float(value)


def _samples(value: Any, field: str, required: bool) -> np.ndarray:
    if value is None and not required:
        return np.empty(0)
    if not isinstance(value, list):
        raise ChunkError(field, f"expected a list of numbers, got {type(value).__name__}")
    types = set(map(type, value))
    if not types <= _NUMBER_TYPES:   # numpy would read "0.1" as 0.1 and True as 1.0
        if bool in types:
            raise ChunkError(field, "expected numbers, got a boolean")
        bad = next(v for v in value if type(v) not in _NUMBER_TYPES)
        raise ChunkError(field, f"expected numbers, got {type(bad).__name__} {bad!r:.40}")
    try:
        arr = np.array(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError) as exc:   # an integer beyond float range
        raise ChunkError(field, f"expected numbers ({exc})") from None
    if arr.ndim != 1:
        raise ChunkError(field, "expected a flat list of numbers")
    finite = np.isfinite(arr)
    if not finite.all():
        first = int(np.flatnonzero(~finite)[0])
        raise ChunkError(field, f"{int((~finite).sum())} non-finite samples (NaN/inf), first at index {first}")
    return arr


def parse_chunk(topic: str, payload: Any, expected_fs: float | None = None,
                max_chunk_s: float = MAX_CHUNK_S) -> Chunk:
    """Validate one `dt/sensor/<device_id>` payload (bytes, str or an already decoded dict).

    Raises ChunkError naming the first problem: not JSON / not an object, device_id missing or not
    the topic's, seq not a non-negative integer, timestamp not a finite number, fs not the
    gateway's configured rate, ecg empty / too long / not finite numbers, ppg of another length,
    bpm not a number or null.
    """
    size = len(payload) if isinstance(payload, (bytes, bytearray, str)) else 0
    if isinstance(payload, (bytes, bytearray, str)):
        try:
            payload = orjson.loads(payload)
        except orjson.JSONDecodeError:
            pass   # the standard library below names the problem (and reads NaN, refused by field)
    if isinstance(payload, (bytes, bytearray)):
        try:
            payload = payload.decode("utf-8")
        except UnicodeDecodeError:
            raise ChunkError("payload", "not UTF-8 text") from None
    payload = json_object(payload, ChunkError, "payload")
    topic_device = device_of(topic)
    device_id = payload.get("device_id")
    if not valid_device_id(device_id):
        raise ChunkError("device_id", f"expected an id of 1-128 letters, digits or ._:-, got {device_id!r:.60}")
    if topic_device is not None and device_id != topic_device:
        raise ChunkError("device_id", f"{device_id!r} does not match the topic's {topic_device!r}")
    seq = payload.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
        raise ChunkError("seq", f"expected a non-negative integer, got {seq!r:.40}")
    timestamp = _number(payload.get("timestamp"), "timestamp")
    fs = _number(payload.get("fs"), "fs")
    if expected_fs is not None and abs(fs - expected_fs) > 1e-6 * expected_fs:
        raise ChunkError("fs", f"{fs:g} Hz but this gateway screens {expected_fs:g} Hz streams")
    if not fs > 0:
        raise ChunkError("fs", f"{fs:g} Hz is not a sampling rate")
    ecg = _samples(payload.get("ecg"), "ecg", required=True)
    if ecg.size == 0:
        raise ChunkError("ecg", "no samples")
    if ecg.size > max_chunk_s * fs:
        raise ChunkError("ecg", f"{ecg.size} samples is {ecg.size / fs:g} s at {fs:g} Hz; at most "
                                f"{max_chunk_s:g} s per chunk")
    ppg = _samples(payload.get("ppg"), "ppg", required=False)
    if ppg.size and ppg.size != ecg.size:
        raise ChunkError("ppg", f"{ppg.size} samples but ecg has {ecg.size}")
    bpm = payload.get("bpm")
    if bpm is not None:
        bpm = _number(bpm, "bpm")
    return Chunk(device_id, seq, timestamp, fs, ecg, ppg, bpm, size)


def chunk_message(*, device_id: str, seq: int, timestamp: float, fs: float, ecg: list[float], ppg: list[float],
                  bpm: float | None) -> dict[str, Any]:
    """The `dt/sensor/<id>` body a wearable publishes: `timestamp` is the epoch of the first sample,
    `ecg` in mV, `ppg` of the same length or empty, `bpm` the device's own heart-rate estimate."""
    return {"device_id": device_id, "seq": seq, "timestamp": timestamp, "fs": fs, "ecg": ecg, "ppg": ppg,
            "bpm": bpm}


# -- raw samples ---------------------------------------------------------------------------------

def encode_samples(ecg_mv: np.ndarray) -> str:
    """mV samples -> base64(zlib(diff(int16 microvolts))), the `raw.data` field of a window."""
    uv = np.clip(np.rint(np.asarray(ecg_mv, dtype=np.float64) * _UV_PER_MV), -32768, 32767).astype(np.int64)
    deltas = np.diff(uv, prepend=0)
    # deltas of clipped int16 values fit int32; store int32 only if int16 would wrap
    dtype = "<i2" if np.abs(deltas).max(initial=0) < 32768 else "<i4"
    return dtype[-2:] + ":" + base64.b64encode(zlib.compress(deltas.astype(dtype).tobytes(), 6)).decode("ascii")


def decode_samples(data: str, n: int | None = None) -> np.ndarray:
    """Inverse of encode_samples: float64 mV (1 uV resolution)."""
    try:
        kind, body = data.split(":", 1)
        dtype = {"i2": "<i2", "i4": "<i4"}[kind]
        limit = (n if n is not None else MAX_WINDOW_SAMPLES) * np.dtype(dtype).itemsize
        inflate = zlib.decompressobj()
        raw = inflate.decompress(base64.b64decode(body, validate=True), limit + 1)   # no zip bombs
        if len(raw) > limit or inflate.unconsumed_tail:
            raise WindowFormatError("raw.data", f"inflates beyond {limit} bytes")
        deltas = np.frombuffer(raw, dtype=dtype)
    except WindowFormatError:
        raise
    except (ValueError, KeyError, zlib.error) as exc:
        raise WindowFormatError("raw.data", f"cannot decode ({exc})") from None
    if n is not None and deltas.size != n:
        raise WindowFormatError("raw.data", f"{deltas.size} samples, the message says {n}")
    return np.cumsum(deltas.astype(np.int64)) / _UV_PER_MV


# -- gateway -> cloud messages -------------------------------------------------------------------

def window_message(*, device_id: str, window_id: str, start: float, fs: float, ecg_mv: np.ndarray,
                   label: str, score: float, probabilities: dict[str, float], model_version: str,
                   features: dict[str, float], summary: np.ndarray, gaps_s: float = 0.0) -> dict[str, Any]:
    """The `dt/ecg/<id>/window` body: verdict, score, model version, the spectrogram summary
    (log10 power, 0-40 Hz x window time) and the compressed raw window."""
    return {
        "schema": SCHEMA_VERSION, "device_id": device_id, "window_id": window_id,
        "start": round(start, 3), "end": round(start + ecg_mv.size / fs, 3),
        "label": label, "score": round(float(score), 4),
        "probabilities": {k: round(float(v), 4) for k, v in probabilities.items()},
        "model_version": model_version,
        "features": {k: (round(v, 5) if math.isfinite(v) else None) for k, v in features.items()},
        "spectrogram": {"shape": list(summary.shape), "max_freq_hz": 40.0, "unit": "log10 mV^2/Hz",
                        "log10_power": np.round(summary.astype(np.float64), 3).tolist()},
        "raw": {"fs": fs, "n": int(ecg_mv.size), "unit": "mV", "encoding": "zlib-delta-int16-uV",
                "data": encode_samples(ecg_mv)},
        "gaps_s": round(gaps_s, 3),
    }


@dataclass(frozen=True)
class ForwardedWindow:
    """A decoded `dt/ecg/<id>/window` message (what the cloud archive stores)."""

    device_id: str
    window_id: str
    start: float
    end: float
    label: str
    score: float
    model_version: str
    fs: float
    ecg: np.ndarray
    spectrogram: np.ndarray
    body: dict[str, Any]


def parse_window(payload: Any) -> ForwardedWindow:
    """Decode and check a window message; raises WindowFormatError naming what is wrong."""
    payload = json_object(payload, WindowFormatError, "payload")
    if payload.get("schema") != SCHEMA_VERSION:
        raise WindowFormatError("schema", f"{payload.get('schema')!r}: this reader knows {SCHEMA_VERSION}")
    try:
        device_id, label = payload["device_id"], payload["label"]
        raw, spec = payload["raw"], payload["spectrogram"]
        fs, n = float(raw["fs"]), int(raw["n"])
        start, end, score = float(payload["start"]), float(payload["end"]), float(payload["score"])
        summary = np.asarray(spec["log10_power"], dtype=np.float64)
        window_id, model_version = str(payload["window_id"]), str(payload["model_version"])
    except (KeyError, TypeError, ValueError) as exc:
        raise WindowFormatError("payload", f"missing or malformed field {exc}") from None
    if not valid_device_id(device_id):
        raise WindowFormatError("device_id", f"{device_id!r:.60} is not a valid id")
    if label not in LABELS:
        raise WindowFormatError("label", f"{label!r:.40}: expected one of {LABELS}")
    if not (math.isfinite(fs) and fs > 0 and n > 0):
        raise WindowFormatError("raw", f"fs {fs} and n {n} must be positive")
    ecg = decode_samples(raw.get("data", ""), n)
    return ForwardedWindow(device_id, window_id, start, end, label, score, model_version, fs, ecg,
                           summary, payload)


def alert_message(*, device_id: str, window_id: str, start: float, end: float, label: str,
                  score: float, model_version: str, hr_bpm: float | None, quality: float,
                  detected_at: float | None = None) -> dict[str, Any]:
    """The `dt/ecg/<id>/alert` body: small, sent at once, before the window itself. `detected_at`
    (the gateway's clock when the verdict was ready) splits window end -> alert into the gateway's
    part and the way to the cloud."""
    body = {"schema": SCHEMA_VERSION, "device_id": device_id, "window_id": window_id,
            "start": round(start, 3), "end": round(end, 3), "label": label,
            "score": round(float(score), 4), "model_version": model_version,
            "hr_bpm": None if hr_bpm is None or not math.isfinite(hr_bpm) else round(hr_bpm, 1),
            "quality": round(float(quality), 3)}
    if detected_at is not None:
        body["detected_at"] = round(detected_at, 3)
    return body


def _stats(values: Any, digits: int) -> dict[str, float | None]:
    """mean/min/max of the finite values (None each when there are none)."""
    arr = np.asarray(list(values), dtype=np.float64)
    arr = arr[np.isfinite(arr)]
    if arr.size == 0:
        return {"mean": None, "min": None, "max": None}
    return {"mean": round(float(arr.mean()), digits), "min": round(float(arr.min()), digits),
            "max": round(float(arr.max()), digits)}


def summary_message(*, device_id: str, start: float, end: float, model_version: str | None,
                    windows: int, forwarded: int, unscreened: int, failed: int, labels: dict[str, int],
                    bpm: Any, quality: Any, gaps_s: float, chunks: dict[str, int]) -> dict[str, Any]:
    """The `dt/ecg/<id>/summary` body: what a device's windows in [start, end) of signal time were.

    `bpm` and `quality` are the values of its normal windows (forwarded ones went up whole);
    `windows` counts every window, `unscreened` those seen without a model, `failed` those whose
    analysis failed; `chunks` are the device's cumulative chunk counters.
    """
    return {"schema": SCHEMA_VERSION, "device_id": device_id, "start": round(start, 3), "end": round(end, 3),
            "model_version": model_version, "windows": windows, "normal": windows - forwarded - unscreened - failed,
            "forwarded": forwarded, "unscreened": unscreened, "failed": failed,
            "labels": {k: v for k, v in labels.items() if v}, "bpm": _stats(bpm, 1),
            "quality": _stats(quality, 3), "gaps_s": round(gaps_s, 3), "chunks": dict(chunks)}


def error_message(*, device_id: str, field: str, problem: str, errors: dict[str, int], total: int,
                  since: float, timestamp: float) -> dict[str, Any]:
    """The `dt/ecg/<id>/error` body: the latest problem and every error counted since the last report
    (`errors` by field), so a rate-limited report still accounts for each dropped chunk."""
    return {"schema": SCHEMA_VERSION, "device_id": device_id, "field": field, "problem": problem,
            "errors": dict(errors), "total": total, "since": round(since, 3), "timestamp": round(timestamp, 3)}


# -- parsers of the small gateway -> cloud messages ------------------------------------------------

def _event_body(payload: Any) -> dict[str, Any]:
    if isinstance(payload, (bytes, bytearray, str)):
        try:
            payload = json.loads(payload)
        except ValueError as exc:
            raise EventError("payload", f"not JSON ({str(exc)[:80]})", "not JSON") from None
    if not isinstance(payload, dict):
        raise EventError("payload", f"expected a JSON object, got {type(payload).__name__}", "not JSON")
    if payload.get("schema") != SCHEMA_VERSION:
        raise EventError("schema", f"{payload.get('schema')!r:.20}: this reader knows {SCHEMA_VERSION}", "schema")
    if not valid_device_id(payload.get("device_id")):
        raise EventError("device_id", f"{payload.get('device_id')!r:.60} is not a valid id")
    return payload


def _finite(body: dict[str, Any], field: str) -> float:
    value = body.get(field)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise EventError(field, f"expected a finite number, got {value!r:.40}")
    return float(value)


def _optional_finite(body: dict[str, Any], field: str) -> float | None:
    return None if body.get(field) is None else _finite(body, field)


def _count(body: dict[str, Any], field: str) -> int:
    value = body.get(field)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise EventError(field, f"expected a whole number >= 0, got {value!r:.40}")
    return value


def _counts(body: dict[str, Any], field: str) -> dict[str, int]:
    value = body.get(field)
    if not isinstance(value, dict):
        raise EventError(field, f"expected {{name: count}}, got {value!r:.60}")
    return {str(name): _count(value, name) for name in value}


def _string(body: dict[str, Any], field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value:
        raise EventError(field, f"expected a non-empty string, got {value!r:.40}")
    return value


def _optional_string(body: dict[str, Any], field: str) -> str | None:
    return None if body.get(field) is None else _string(body, field)


@dataclass(frozen=True)
class Alert:
    """A decoded `dt/ecg/<id>/alert` message; `body` is the message as received (what the fan-out forwards)."""

    device_id: str
    window_id: str
    start: float
    end: float
    label: str
    score: float
    model_version: str | None
    hr_bpm: float | None
    quality: float | None
    detected_at: float | None
    body: dict[str, Any]


def parse_alert(payload: Any) -> Alert:
    """Decode and check an alert (alert_message's shape); EventError names the first bad field."""
    body = _event_body(payload)
    window_id = _string(body, "window_id")
    if body.get("label") not in LABELS:
        raise EventError("label", f"{body.get('label')!r:.40}: expected one of {', '.join(LABELS)}")
    start, end, score = (_finite(body, f) for f in ("start", "end", "score"))
    return Alert(body["device_id"], window_id, start, end, body["label"], score,
                 _optional_string(body, "model_version"), _optional_finite(body, "hr_bpm"),
                 _optional_finite(body, "quality"), _optional_finite(body, "detected_at"), body)


@dataclass(frozen=True)
class Summary:
    """A decoded `dt/ecg/<id>/summary` message (summary_message's shape)."""

    device_id: str
    start: float
    end: float
    model_version: str | None
    windows: int
    forwarded: int
    unscreened: int
    failed: int
    labels: dict[str, int]
    body: dict[str, Any]


def parse_summary(payload: Any) -> Summary:
    """Decode and check a summary; EventError names the first bad field."""
    body = _event_body(payload)
    start, end = _finite(body, "start"), _finite(body, "end")
    windows, forwarded, unscreened, failed = (_count(body, f) for f in ("windows", "forwarded", "unscreened", "failed"))
    return Summary(body["device_id"], start, end, _optional_string(body, "model_version"), windows, forwarded,
                   unscreened, failed, _counts(body, "labels"), body)


@dataclass(frozen=True)
class ErrorReport:
    """A decoded `dt/ecg/<id>/error` message (error_message's shape): the latest problem and the counts."""

    device_id: str
    field: str
    problem: str
    errors: dict[str, int]
    total: int
    since: float
    timestamp: float
    body: dict[str, Any]


def parse_error_report(payload: Any) -> ErrorReport:
    """Decode and check an error report; EventError names the first bad field."""
    body = _event_body(payload)
    return ErrorReport(body["device_id"], _string(body, "field"), _string(body, "problem"), _counts(body, "errors"),
                       _count(body, "total"), _finite(body, "since"), _finite(body, "timestamp"), body)
