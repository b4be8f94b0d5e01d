"""Twin request and response: the configuration search asked of com.edgeloop.DigitalTwin.

Topics (the request id is one topic level; <thing> is the gateway's IoT thing name):
  edgeloop/twin/request                          local pub/sub request
  edgeloop/twin/response/<request_id>            its reply
  edgeloop/<thing>/twin/request                  the same over IoT Core
  edgeloop/<thing>/twin/response/<request_id>
  edgeloop/twin/status, edgeloop/<thing>/twin/status   the serving model and counters

A request is `{"request_id", "event": <the reference Lambda event>, "seed"?}`, or the event's fields
beside `request_id`. This module checks the envelope (request_id 1-128 of letters, digits and
. _ : -, seed a whole number >= 0, nothing unknown beside `event`); what the event's values mean
(string ranges, counts, bounds) is the twin's own request grammar and stays with the twin
(components/digital_twin/request.py), which raises the same RequestError.

A reply is `{"request_id", "model_version", "component_version", "ranking": [{config: kW}, ...],
"estimates": {config: {"expected", "low", "high"}}, "excluded": [config, ...], "elapsed_ms"}`, or
`{"request_id", "error": {"field", "problem"}, "elapsed_ms"}`; request_id is "unknown" when the
request's is missing or not a safe topic level.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeGuard

from edgeloop.contracts.errors import RequestError, ResponseError

from .errors import ContractError, json_object
from .topics import topic_filter

REQUEST_TOPIC = "edgeloop/twin/request"
RESPONSE_TOPIC = "edgeloop/twin/response/{request_id}"
IOT_REQUEST_TOPIC = "edgeloop/{thing}/twin/request"
IOT_RESPONSE_TOPIC = "edgeloop/{thing}/twin/response/{request_id}"
STATUS_TOPIC = "edgeloop/twin/status"
IOT_STATUS_TOPIC = "edgeloop/{thing}/twin/status"
RESPONSE_FILTER = topic_filter(RESPONSE_TOPIC)

UNKNOWN_ID = "unknown"
ENVELOPE = ("request_id", "event", "seed")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")   # one safe MQTT topic level


def iot_response_filter(thing: str) -> str:
    return topic_filter(IOT_RESPONSE_TOPIC, thing=thing)


def valid_request_id(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and bool(_REQUEST_ID.match(value))


@dataclass(frozen=True)
class TwinRequest:
    """A request's envelope; `event` is the reference Lambda event, not yet interpreted."""

    request_id: str
    event: Mapping[str, Any]
    seed: int | None = None

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"request_id": self.request_id, "event": dict(self.event)}
        if self.seed is not None:
            body["seed"] = self.seed
        return body


def parse_twin_request(payload: Any) -> TwinRequest:
    """The envelope of one request message; RequestError names the bad field (and carries the id once read)."""
    message = json_object(payload, RequestError)
    raw_id = message.get("request_id")
    if raw_id is None:
        raise RequestError("request_id", "missing")
    if not valid_request_id(raw_id):
        raise RequestError("request_id", f"{raw_id!r} must be 1-128 letters, digits or . _ : -")
    seed = message.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise RequestError("seed", f"expected a whole number >= 0, got {seed!r}", request_id=raw_id)
    if "event" in message:
        extra = sorted(set(message) - set(ENVELOPE))
        if extra:
            raise RequestError(extra[0], "unknown field beside 'event' (expected request_id, event, seed)",
                               request_id=raw_id)
        event = message["event"]
    else:
        event = {k: v for k, v in message.items() if k not in ENVELOPE}
    return TwinRequest(raw_id, event, seed)


def request_id_of(payload: Any) -> str:
    """The request id of a message if it has a valid one, else UNKNOWN_ID; never raises."""
    try:
        message = json.loads(payload) if isinstance(payload, (bytes, bytearray, str)) else payload
        rid = message.get("request_id")
    except Exception:
        return UNKNOWN_ID
    return rid if valid_request_id(rid) else UNKNOWN_ID


def encode_twin_request(request: TwinRequest) -> bytes:
    return json.dumps(request.body()).encode()


# -- the reply ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PowerEstimate:
    """Expected kW of a configuration over the request range, with its risk band."""

    expected: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class TwinResponse:
    """A reply: a ranking from a model version, or an error naming the request's bad field."""

    request_id: str
    model_version: str | None = None
    component_version: str | None = None
    ranking: list[dict[str, float]] = field(default_factory=list)
    estimates: dict[str, PowerEstimate] = field(default_factory=dict)
    excluded: list[str] = field(default_factory=list)
    error: ContractError | None = None
    elapsed_ms: float | None = None

    @classmethod
    def failed(cls, request_id: str, field_name: str, problem: str) -> TwinResponse:
        return cls(request_id, error=ContractError(field_name, problem))

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"request_id": self.request_id}
        if self.error is not None:
            body["error"] = {"field": self.error.field, "problem": self.error.problem}
        else:
            body.update(model_version=self.model_version, component_version=self.component_version,
                        ranking=self.ranking,
                        estimates={name: {"expected": e.expected, "low": e.low, "high": e.high}
                                   for name, e in self.estimates.items()},
                        excluded=list(self.excluded))
        if self.elapsed_ms is not None:
            body["elapsed_ms"] = self.elapsed_ms
        return body


def _number_or_none(where: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ResponseError(where, f"expected a finite number or null, got {value!r}")
    return float(value)


def parse_twin_response(payload: Any) -> TwinResponse:
    """Validate one reply (bytes, text or a decoded object); ResponseError names the bad field."""
    body = json_object(payload, ResponseError)
    request_id = body.get("request_id")
    if not valid_request_id(request_id):   # UNKNOWN_ID is one too
        raise ResponseError("request_id", f"{request_id!r} is not a request id")
    elapsed = _number_or_none("elapsed_ms", body.get("elapsed_ms"))
    if "error" in body:
        error = body["error"]
        if not isinstance(error, Mapping) or not isinstance(error.get("field"), str) \
                or not isinstance(error.get("problem"), str):
            raise ResponseError("error", f"expected {{field, problem}} strings, got {error!r}")
        return TwinResponse(request_id, error=ContractError(error["field"], error["problem"]), elapsed_ms=elapsed)
    ranking = body.get("ranking")
    if not isinstance(ranking, list) or not all(
            isinstance(r, Mapping) and len(r) == 1 and all(isinstance(k, str) for k in r) for r in ranking):
        raise ResponseError("ranking", f"expected [{{config: kW}}, ...], got {ranking!r:.80}")
    estimates = body.get("estimates", {})
    if not isinstance(estimates, Mapping):
        raise ResponseError("estimates", f"expected {{config: {{expected, low, high}}}}, got {estimates!r:.80}")
    parsed: dict[str, PowerEstimate] = {}
    for name, e in estimates.items():
        if not isinstance(e, Mapping):
            raise ResponseError(f"estimates.{name}", f"expected {{expected, low, high}}, got {e!r:.80}")
        expected, low, high = (_number_or_none(f"estimates.{name}.{k}", e.get(k)) for k in ("expected", "low", "high"))
        parsed[name] = PowerEstimate(expected, low, high)
    excluded = body.get("excluded", [])
    if not isinstance(excluded, list) or not all(isinstance(x, str) for x in excluded):
        raise ResponseError("excluded", f"expected a list of configuration names, got {excluded!r:.80}")
    versions = [body.get(k) for k in ("model_version", "component_version")]
    for name, value in zip(("model_version", "component_version"), versions, strict=True):
        if not isinstance(value, str) or not value:
            raise ResponseError(name, f"expected a non-empty string, got {value!r}")
    return TwinResponse(request_id, versions[0], versions[1], [dict(r) for r in ranking], parsed, excluded,
                        elapsed_ms=elapsed)


def encode_twin_response(response: TwinResponse) -> bytes:
    return json.dumps(response.body()).encode()
