"""ECG contract: alert, summary and error reports round-trip through their encoders and parsers, bad
fields are named, and device topics are one safe level. (Chunks and windows: tests/ecg/test_ecg_messages.py.)"""

from __future__ import annotations

import json

import pytest

from edgeloop.contracts.ecg import (
    SCHEMA_VERSION,
    alert_message,
    chunk_message,
    device_of,
    error_message,
    parse_alert,
    parse_chunk,
    parse_error_report,
    parse_summary,
    sensor_topic,
    summary_message,
)
from edgeloop.contracts.errors import ChunkError, EventError

ALERT = alert_message(device_id="w-1", window_id="w-1-1000", start=1000.0, end=1060.0, label="af", score=0.91,
                      model_version="1.0.3", hr_bpm=112.4, quality=0.8, detected_at=1060.2)
SUMMARY = summary_message(device_id="w-1", start=0.0, end=300.0, model_version=None, windows=5, forwarded=1,
                          unscreened=0, failed=0, labels={"normal": 4, "af": 1, "noisy": 0}, bpm=[70.0, 72.0],
                          quality=[0.9], gaps_s=0.0, chunks={"received": 300})
ERROR = error_message(device_id="w-1", field="ecg", problem="3 non-finite samples", errors={"ecg": 3}, total=3,
                      since=10.0, timestamp=20.0)


def test_alerts_summaries_and_errors_round_trip():
    alert = parse_alert(json.dumps(ALERT).encode())
    assert (alert.device_id, alert.window_id, alert.label, alert.end, alert.detected_at) == (
        "w-1", "w-1-1000", "af", 1060.0, 1060.2)
    assert alert.body == ALERT
    summary = parse_summary(json.dumps(SUMMARY))
    assert (summary.windows, summary.forwarded, summary.labels, summary.model_version) == (
        5, 1, {"normal": 4, "af": 1}, None)
    report = parse_error_report(ERROR)
    assert (report.field, report.errors, report.total) == ("ecg", {"ecg": 3}, 3)


@pytest.mark.parametrize("parse, body, field, reason", [
    (parse_alert, {**ALERT, "schema": SCHEMA_VERSION + 1}, "schema", "schema"),
    (parse_alert, {k: v for k, v in ALERT.items() if k != "end"}, "end", "bad end"),
    (parse_alert, {**ALERT, "label": "vfib"}, "label", "bad label"),
    (parse_alert, {**ALERT, "window_id": ""}, "window_id", "bad window_id"),
    (parse_alert, {**ALERT, "device_id": "a/b"}, "device_id", "bad device_id"),
    (parse_summary, {**SUMMARY, "windows": -1}, "windows", "bad windows"),
    (parse_summary, {**SUMMARY, "labels": {"af": "one"}}, "af", "bad af"),
    (parse_error_report, {**ERROR, "problem": None}, "problem", "bad problem"),
    (parse_error_report, b"{nope", "payload", "not JSON"),
])
def test_bad_reports_name_the_field(parse, body, field, reason):
    with pytest.raises(EventError) as exc:
        parse(body)
    assert (exc.value.field, exc.value.reason) == (field, reason)


def test_a_chunk_round_trips_and_names_its_bad_field():
    body = chunk_message(device_id="w-1", seq=4, timestamp=1.7e9, fs=250.0, ecg=[0.1, -0.2, 0.3], ppg=[],
                         bpm=71.0)
    chunk = parse_chunk(sensor_topic("w-1"), json.dumps(body).encode())
    assert (chunk.device_id, chunk.seq, chunk.timestamp, chunk.fs, chunk.ecg.tolist(), chunk.bpm) == (
        "w-1", 4, 1.7e9, 250.0, [0.1, -0.2, 0.3], 71.0)
    with pytest.raises(ChunkError) as exc:
        parse_chunk(sensor_topic("w-1"), {**body, "ppg": [1.0]})
    assert exc.value.field == "ppg"


def test_device_topics_are_one_safe_level():
    assert sensor_topic("wearable-0001") == "dt/sensor/wearable-0001"
    assert device_of("dt/sensor/wearable-0001") == "wearable-0001"
    assert device_of("dt/sensor/a b") is None and device_of("dt/ecg/w-1/alert") is None
    for bad in ("", "a/b", "a+b", "x" * 129):
        with pytest.raises(ValueError, match="device id"):
            sensor_topic(bad)
