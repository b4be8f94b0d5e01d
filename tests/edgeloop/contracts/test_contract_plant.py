"""Plant contract: one rule per field for live messages and CSV cells, errors that name the field,
and encoders the parsers read back unchanged."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from edgeloop.contracts.errors import ContractError, TelemetryError
from edgeloop.contracts.plant import (
    LiveError,
    Recommendation,
    Telemetry,
    encode_telemetry,
    parse_live_error,
    parse_recommendation,
    parse_telemetry,
    reading_from_text,
)

TOPIC = "dt/compressor/p1/telemetry"
GOOD = {"plant_id": "p1", "timestamp": "2024-01-01T00:00:00Z", "seq": 3, "flow": 300.5, "pressure": 70.1,
        "power": 61.2, "config": "c1c2"}


def test_a_sample_round_trips_through_its_encoder():
    sample = parse_telemetry(TOPIC, json.dumps(GOOD).encode())
    assert sample == Telemetry("p1", datetime(2024, 1, 1, tzinfo=UTC), 300.5, 70.1, 61.2, "c1c2", 3)
    assert json.loads(encode_telemetry(sample)) == GOOD
    assert parse_telemetry(sample.topic, encode_telemetry(sample)) == sample


@pytest.mark.parametrize("change, field, reason", [
    ({"plant_id": "p2"}, "plant_id", "bad plant_id"),
    ({"flow": "300"}, "flow", "not a number"),
    ({"flow": True}, "flow", "not a number"),
    ({"pressure": float("inf")}, "pressure", "not finite"),
    ({"power": -0.1}, "power", "negative"),
    ({"config": ""}, "config", "bad config"),
    ({"config": None}, "config", "bad config"),
    ({"timestamp": "2024-01-01T00:00:00"}, "timestamp", "bad timestamp"),
    ({"timestamp": 1704067200}, "timestamp", "bad timestamp"),
    ({"seq": -1}, "seq", "bad seq"),
    ({"seq": 1.5}, "seq", "bad seq"),
])
def test_each_bad_field_is_named(change, field, reason):
    with pytest.raises(TelemetryError) as exc:
        parse_telemetry(TOPIC, {**GOOD, **change})
    assert (exc.value.field, exc.value.reason) == (field, reason)
    assert str(exc.value).startswith(f"{field}: ")
    assert isinstance(exc.value, ContractError)


@pytest.mark.parametrize("missing", ["flow", "pressure", "power", "config", "timestamp"])
def test_required_fields(missing):
    with pytest.raises(TelemetryError) as exc:
        parse_telemetry(TOPIC, {k: v for k, v in GOOD.items() if k != missing})
    assert (exc.value.field, exc.value.problem, exc.value.reason) == (missing, "missing", "missing field")


def test_plant_id_and_seq_are_optional_in_the_body():
    sample = parse_telemetry(TOPIC, {k: v for k, v in GOOD.items() if k not in ("plant_id", "seq")})
    assert (sample.plant_id, sample.seq) == ("p1", None)


@pytest.mark.parametrize("topic, payload, field", [
    ("dt/compressor/p1/recommendation", GOOD, "topic"),
    ("dt/compressor/p 1/telemetry", GOOD, "plant_id"),    # one topic level, but not a plant id
    (TOPIC, b"{not json", "message"),
    (TOPIC, b"[1, 2]", "message"),
])
def test_topic_and_body_shape(topic, payload, field):
    with pytest.raises(TelemetryError) as exc:
        parse_telemetry(topic, payload)
    assert exc.value.field == field


def test_known_configurations_are_checked_only_when_given():
    assert parse_telemetry(TOPIC, {**GOOD, "config": "c9c9"}).config == "c9c9"
    with pytest.raises(TelemetryError) as exc:
        parse_telemetry(TOPIC, {**GOOD, "config": "c9c9"}, known={"c1c2"})
    assert exc.value.reason == "unknown config" and "unknown configuration 'c9c9'" in exc.value.problem


def test_timestamps_are_normalised_to_utc():
    sample = parse_telemetry(TOPIC, {**GOOD, "timestamp": "2024-01-01T05:30:00+05:30"})
    assert sample.body()["timestamp"] == "2024-01-01T00:00:00Z"


def test_csv_cells_follow_the_same_reading_rule():
    assert reading_from_text("flow", " 250.5 ") == 250.5
    for text, reason in (("abc", "not a number"), ("nan", "not finite"), ("-1", "negative")):
        with pytest.raises(TelemetryError) as exc:
            reading_from_text("flow", text)
        assert (exc.value.field, exc.value.reason) == ("flow", reason)


def test_recommendation_round_trips_and_names_bad_fields():
    rec = Recommendation("p1", datetime(2024, 1, 1, tzinfo=UTC), "c1c2", "c1c3", 60.0, 55.5, 4.5, 7.5,
                         "edgeloop-twin/1", 5)
    assert parse_recommendation(rec.topic, json.dumps(rec.body())) == rec
    none = Recommendation("p1", datetime(2024, 1, 1, tzinfo=UTC), "c1c2", None, None, None, None, None,
                          "edgeloop-twin/1", 5)
    assert parse_recommendation(none.topic, none.body()) == none
    with pytest.raises(TelemetryError) as exc:
        parse_recommendation(rec.topic, {**rec.body(), "samples": 0})
    assert exc.value.field == "samples"
    with pytest.raises(TelemetryError) as exc:
        parse_recommendation(rec.topic, {**rec.body(), "expected_saving_kw": "a lot"})
    assert exc.value.field == "expected_saving_kw"


def test_live_error_round_trips_and_names_bad_fields():
    live = LiveError("p1", "edgeloop-twin/1", 20, 1.25, 2.5, -0.5)
    assert live.topic == "dt/compressor/p1/twin/error"
    assert parse_live_error(live.topic, json.dumps(live.body()).encode()) == live
    with pytest.raises(TelemetryError) as exc:
        parse_live_error(live.topic, {**live.body(), "window": 0})
    assert exc.value.field == "window"
    with pytest.raises(TelemetryError) as exc:
        parse_live_error("dt/compressor/p2/twin/error", live.body())
    assert exc.value.field == "plant_id"
