"""The configuration-search request: the reference's Lambda test event, accepted unchanged.

    {"flow": "[280, 300]", "pressure": "[69, 70]", "simulations": "10", "no_of_trials": "10",
     "train_error_weight": "1.0"}

Values may be strings (as the reference's users send them) or JSON numbers/lists. One parser serves
the CLI, the Lambda handler and the edge component, so a request means the same thing everywhere.
Every problem raises RequestError naming the field: the twin request family's error, defined with
the request's envelope and topics in edgeloop.contracts.twin.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from edgeloop.contracts.errors import RequestError

__all__ = ["DEFAULTS", "FIELDS", "MAX_POINTS_PER_ROUND", "Request", "RequestError", "parse_request"]

DEFAULTS: dict[str, Any] = {"simulations": 100, "no_of_trials": 10, "train_error_weight": 1.0}
FIELDS = ("flow", "pressure", "simulations", "no_of_trials", "train_error_weight")
# simulations x no_of_trials bounds the work of one request (points drawn per round).
MAX_POINTS_PER_ROUND = 1_000_000


@dataclass(frozen=True)
class Request:
    """A validated request. Ranges are closed: both bounds may be drawn.

    A range whose bounds are both whole numbers is sampled on the integers lo..hi (as the reference
    meant with randint, minus its excluded upper bound); any other range is sampled uniformly on the
    reals in [lo, hi].
    """

    flow: tuple[float, float]
    pressure: tuple[float, float]
    simulations: int = DEFAULTS["simulations"]
    no_of_trials: int = DEFAULTS["no_of_trials"]
    train_error_weight: float = DEFAULTS["train_error_weight"]

    def to_event(self) -> dict[str, Any]:
        return {"flow": list(self.flow), "pressure": list(self.pressure), "simulations": self.simulations,
                "no_of_trials": self.no_of_trials, "train_error_weight": self.train_error_weight}


def _number(field: str, value: Any) -> float:
    if isinstance(value, bool):
        raise RequestError(field, f"expected a number, got {value!r}")
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise RequestError(field, f"{value!r} is not a number") from None
    else:
        raise RequestError(field, f"expected a number, got {type(value).__name__}")
    if not math.isfinite(number):
        raise RequestError(field, f"{value!r} is not a finite number")
    return number


def _count(field: str, value: Any, maximum: int) -> int:
    number = _number(field, value)
    if not number.is_integer():
        raise RequestError(field, f"{value!r} is not a whole number")
    if not 1 <= number <= maximum:
        raise RequestError(field, f"{int(number)} is out of range 1..{maximum}")
    return int(number)


def _range(field: str, value: Any) -> tuple[float, float]:
    raw = value
    if isinstance(value, str):
        try:
            raw = json.loads(value)
        except json.JSONDecodeError:
            raise RequestError(field, f"{value!r} is not a range like \"[280, 300]\"") from None
    if not isinstance(raw, (list, tuple)) or len(raw) != 2:
        raise RequestError(field, f"expected [low, high], got {value!r}")
    lo, hi = (_number(field, v) for v in raw)
    if lo > hi:
        raise RequestError(field, f"low {lo:g} is above high {hi:g}")
    if lo < 0:
        raise RequestError(field, f"low {lo:g} is negative")
    return (lo, hi)


def parse_request(event: Any) -> Request:
    """Validate an event mapping into a Request. Raises RequestError(field, problem)."""
    if isinstance(event, (str, bytes)):
        try:
            event = json.loads(event)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RequestError("event", f"not JSON: {exc}") from None
    if not isinstance(event, Mapping):
        raise RequestError("event", f"expected a JSON object, got {type(event).__name__}")
    unknown = sorted(set(event) - set(FIELDS))
    if unknown:
        raise RequestError(unknown[0], f"unknown field (expected {', '.join(FIELDS)})")
    for field in ("flow", "pressure"):
        if field not in event:
            raise RequestError(field, "missing")
    simulations = _count("simulations", event.get("simulations", DEFAULTS["simulations"]), MAX_POINTS_PER_ROUND)
    trials = _count("no_of_trials", event.get("no_of_trials", DEFAULTS["no_of_trials"]), MAX_POINTS_PER_ROUND)
    if simulations * trials > MAX_POINTS_PER_ROUND:
        raise RequestError("no_of_trials", f"simulations x no_of_trials = {simulations * trials} "
                                           f"exceeds {MAX_POINTS_PER_ROUND}")
    return Request(flow=_range("flow", event["flow"]), pressure=_range("pressure", event["pressure"]),
                   simulations=simulations, no_of_trials=trials,
                   train_error_weight=_number("train_error_weight",
                                              event.get("train_error_weight", DEFAULTS["train_error_weight"])))
