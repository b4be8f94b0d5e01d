"""Plant messages: compressor telemetry, the twin's recommendation and its live error.

Topics (a plant id is one topic level):
  dt/compressor/<plant_id>/telemetry       plant (client device) -> gateway, and bridged to the cloud
  dt/compressor/<plant_id>/recommendation  gateway -> plant: the least-power configuration for a batch
  dt/compressor/<plant_id>/twin/error      gateway -> cloud: the serving model's rolling live error

One rule per telemetry field, used by every reader (the gateway, cloud ingest into the lake, the
training CSV reader and the pipeline's preprocessing), so a sample the gateway accepts is a sample
the lake stores and a training run reads:

  plant_id   1-64 of A-Z a-z 0-9 _ . - (it is a topic level and a lake folder name). On the wire it
             is taken from the topic; the body may repeat it and must then match. In CSV files the
             column is optional (training files from the simulator have none).
  timestamp  ISO-8601 text with a timezone (`2024-01-01T00:00:00Z`), normalised to UTC. Required on
             the wire and, when the column is present, in CSV files. A naive timestamp is refused,
             not guessed: a gateway in another timezone would otherwise shift its plant by hours.
  flow, pressure, power
             JSON numbers (not strings, not booleans) that are finite and >= 0 (cfm, psig, kW). In
             CSV files the text must read as such a number.
  config     a non-empty configuration name; readers that know the plant's configurations (the lake,
             training) also refuse names outside them, the gateway serves what it knows.
  seq        optional; a whole number >= 0 (restarts when a device restarts, so it is not a key).

Every problem raises TelemetryError(field, problem, reason) naming the first bad field; `reason` is
the short category the lake counts rejects by.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from edgeloop.contracts.errors import TelemetryError

from .errors import json_object
from .topics import topic_filter, topic_levels

TELEMETRY_TOPIC = "dt/compressor/{plant_id}/telemetry"
RECOMMENDATION_TOPIC = "dt/compressor/{plant_id}/recommendation"
LIVE_ERROR_TOPIC = "dt/compressor/{plant_id}/twin/error"
TELEMETRY_FILTER = topic_filter(TELEMETRY_TOPIC)
RECOMMENDATION_FILTER = topic_filter(RECOMMENDATION_TOPIC)
LIVE_ERROR_FILTER = topic_filter(LIVE_ERROR_TOPIC)

READINGS = ("flow", "pressure", "power")
_PLANT_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


# -- one function per field ------------------------------------------------------------------------

def check_plant_id(value: Any) -> str:
    if not isinstance(value, str) or not _PLANT_ID.match(value):
        raise TelemetryError("plant_id", f"{value!r} must be 1-64 of A-Z a-z 0-9 _ . -", "bad plant_id")
    return value


def parse_timestamp(value: Any) -> datetime:
    """ISO-8601 text with a timezone -> an aware UTC datetime."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise TelemetryError("timestamp", f"{value!r} is not an ISO-8601 timestamp", "bad timestamp") from None
    else:
        raise TelemetryError("timestamp", f"expected an ISO-8601 string, got {value!r}", "bad timestamp")
    if moment.tzinfo is None:
        raise TelemetryError("timestamp", f"{str(value)!r} has no timezone (expected UTC, e.g. "
                                          f"2024-01-01T00:00:00Z)", "bad timestamp")
    return moment.astimezone(UTC)


def format_timestamp(moment: datetime) -> str:
    """The wire form of a timestamp: ISO-8601 UTC with a trailing Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def check_reading(name: str, value: Any) -> float:
    """flow, pressure or power: a finite JSON number >= 0."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TelemetryError(name, f"expected a number, got {value!r}", "not a number")
    if not math.isfinite(value):
        raise TelemetryError(name, f"{value!r} is not a finite number", "not finite")
    if value < 0:
        raise TelemetryError(name, f"{value!r} is negative (expected a number >= 0)", "negative")
    return float(value)


def reading_from_text(name: str, text: str) -> float:
    """A CSV cell under the rule of `check_reading`."""
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        raise TelemetryError(name, f"{text!r} is not a number", "not a number") from None
    return check_reading(name, value)


def check_config(value: Any, known: Collection[str] | None = None) -> str:
    if not isinstance(value, str) or not value:
        raise TelemetryError("config", f"expected a configuration name like 'c1c2', got {value!r}", "bad config")
    if known is not None and value not in known:
        raise TelemetryError("config", f"unknown configuration {value!r} (known: {', '.join(sorted(known))})",
                             "unknown config")
    return value


def check_seq(value: Any) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise TelemetryError("seq", f"expected a whole number >= 0, got {value!r}", "bad seq")
    return value


def _required(body: Mapping[str, Any], name: str) -> Any:
    if name not in body:
        raise TelemetryError(name, "missing", "missing field")
    return body[name]


def plant_of(topic: str, template: str = TELEMETRY_TOPIC) -> str:
    """The plant id of a plant topic; TelemetryError("topic") when the topic is not one."""
    levels = topic_levels(template, topic)
    if levels is None:
        raise TelemetryError("topic", f"{topic!r} is not {template.replace('{plant_id}', '<plant_id>')}",
                             "bad topic")
    return check_plant_id(levels["plant_id"])


def _plant_body(topic: str, template: str, payload: Any, *, names_plant: bool) -> tuple[str, Mapping[str, Any]]:
    """(plant id from the topic, the JSON body); the body's plant_id must be the topic's, and must be
    there when `names_plant` (the gateway's messages name it; devices may leave it out)."""
    plant_id = plant_of(topic, template)
    body = json_object(payload, TelemetryError)
    if (names_plant or "plant_id" in body) and body.get("plant_id") != plant_id:
        raise TelemetryError("plant_id", f"{body.get('plant_id')!r} does not match the topic's {plant_id!r}")
    return plant_id, body


# -- telemetry -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Telemetry:
    """One validated sample; `timestamp` is timezone-aware UTC."""

    plant_id: str
    timestamp: datetime
    flow: float
    pressure: float
    power: float
    config: str
    seq: int | None = None

    @property
    def topic(self) -> str:
        return TELEMETRY_TOPIC.format(plant_id=self.plant_id)

    def body(self) -> dict[str, Any]:
        """The JSON body a plant publishes."""
        body: dict[str, Any] = {"plant_id": self.plant_id, "timestamp": format_timestamp(self.timestamp)}
        if self.seq is not None:
            body["seq"] = self.seq
        body.update(flow=self.flow, pressure=self.pressure, power=self.power, config=self.config)
        return body


def parse_telemetry(topic: str, payload: Any, known: Collection[str] | None = None) -> Telemetry:
    """Validate one `dt/compressor/<plant_id>/telemetry` message (bytes, text or a decoded object).

    Fields are checked in the order plant_id, flow, pressure, power, config, timestamp, seq; the
    first problem raises TelemetryError naming its field.
    """
    plant_id, body = _plant_body(topic, TELEMETRY_TOPIC, payload, names_plant=False)
    flow, pressure, power = (check_reading(name, _required(body, name)) for name in READINGS)
    config = check_config(_required(body, "config"), known)
    timestamp = parse_timestamp(_required(body, "timestamp"))
    return Telemetry(plant_id, timestamp, flow, pressure, power, config, check_seq(body.get("seq")))


def encode_telemetry(sample: Telemetry) -> bytes:
    return json.dumps(sample.body()).encode()


# -- recommendation ----------------------------------------------------------------------------------

def _optional_number(body: Mapping[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise TelemetryError(name, f"expected a finite number or null, got {value!r}")
    return float(value)


def _text(body: Mapping[str, Any], name: str, optional: bool = False) -> str | None:
    value = body.get(name)
    if value is None and optional:
        return None
    if not isinstance(value, str) or not value:
        raise TelemetryError(name, f"expected a non-empty string, got {value!r}")
    return value


@dataclass(frozen=True)
class Recommendation:
    """The configuration with the least expected power for a batch of samples, against the running one."""

    plant_id: str
    timestamp: datetime            # the batch's last sample
    running: str
    recommended: str | None        # None when no configuration covers the batch's flows
    running_kw: float | None
    recommended_kw: float | None
    saving_kw: float | None
    saving_pct: float | None
    model_version: str
    samples: int

    @property
    def topic(self) -> str:
        return RECOMMENDATION_TOPIC.format(plant_id=self.plant_id)

    def body(self) -> dict[str, Any]:
        return {"plant_id": self.plant_id, "timestamp": format_timestamp(self.timestamp), "running": self.running,
                "recommended": self.recommended,
                "expected_power_kw": {"running": self.running_kw, "recommended": self.recommended_kw},
                "expected_saving_kw": self.saving_kw, "expected_saving_pct": self.saving_pct,
                "model_version": self.model_version, "samples": self.samples}


def parse_recommendation(topic: str, payload: Any) -> Recommendation:
    """Validate one `dt/compressor/<plant_id>/recommendation` message."""
    plant_id, body = _plant_body(topic, RECOMMENDATION_TOPIC, payload, names_plant=True)
    power = body.get("expected_power_kw")
    if not isinstance(power, Mapping):
        raise TelemetryError("expected_power_kw", f"expected {{running, recommended}}, got {power!r}")
    samples = body.get("samples")
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 1:
        raise TelemetryError("samples", f"expected a whole number >= 1, got {samples!r}")
    return Recommendation(
        plant_id, parse_timestamp(body.get("timestamp")), check_config(body.get("running")),
        None if body.get("recommended") is None else check_config(body["recommended"]),
        _optional_number(power, "running"), _optional_number(power, "recommended"),
        _optional_number(body, "expected_saving_kw"), _optional_number(body, "expected_saving_pct"),
        str(_text(body, "model_version")), samples)


# -- live error --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LiveError:
    """The serving model's error over a plant's last `window` samples (measured - predicted kW)."""

    plant_id: str
    model_version: str
    window: int
    mae_kw: float | None
    mape_pct: float | None
    last_residual_kw: float | None

    @property
    def topic(self) -> str:
        return LIVE_ERROR_TOPIC.format(plant_id=self.plant_id)

    def body(self) -> dict[str, Any]:
        return {"plant_id": self.plant_id, "model_version": self.model_version, "window": self.window,
                "mae_kw": self.mae_kw, "mape_pct": self.mape_pct, "last_residual_kw": self.last_residual_kw}


def parse_live_error(topic: str, payload: Any) -> LiveError:
    """Validate one `dt/compressor/<plant_id>/twin/error` message."""
    plant_id, body = _plant_body(topic, LIVE_ERROR_TOPIC, payload, names_plant=True)
    window = body.get("window")
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise TelemetryError("window", f"expected a whole number >= 1, got {window!r}")
    return LiveError(plant_id, str(_text(body, "model_version")), window, _optional_number(body, "mae_kw"),
                     _optional_number(body, "mape_pct"), _optional_number(body, "last_residual_kw"))
