"""The one error shape of every wire contract: which field is wrong, and what is wrong with it.

Each message family raises its own subclass (plant.TelemetryError, twin.RequestError,
ecg.ChunkError, ...), so a caller catches exactly the family it parses, while logs, rejects files
and error replies read every family the same way: `field`, `problem`, and a short `reason` that
counters group by. `json_object` is the first step of the JSON parsers, in the family's error.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class ContractError(ValueError):
    """A message that breaks its contract. str() is "field: problem"."""

    def __init__(self, field: str, problem: str, reason: str | None = None) -> None:
        self.field, self.problem = field, problem
        self.reason = reason or f"bad {field}"
        super().__init__(f"{field}: {problem}")


def json_object(payload: Any, error: type[ContractError], field: str = "message") -> Mapping[str, Any]:
    """A body as a JSON object (bytes and text are parsed); `error(field, ...)` if it is not one."""
    if isinstance(payload, (bytes, bytearray, str)):
        try:
            payload = json.loads(payload)
        except (ValueError, UnicodeDecodeError) as exc:
            raise error(field, f"not JSON: {exc}", "bad JSON") from None
    if not isinstance(payload, Mapping):
        raise error(field, f"expected a JSON object, got {type(payload).__name__}", "bad JSON")
    return payload


class ChunkError(ContractError):
    """A malformed chunk; `field` names the offending field (or "payload")."""


class WindowFormatError(ContractError):
    """A forwarded-window message that cannot be decoded (wrong version, field or encoding)."""


class EventError(ContractError):
    """An alert, summary or error message that breaks its contract (reason "schema" for a wrong version)."""


class TelemetryError(ContractError):
    """A plant message (telemetry, recommendation, live error) that breaks its contract."""


class RequestError(ContractError):
    """A malformed twin request. `request_id` is the request's id once it is known (for the reply)."""

    def __init__(self, field: str, problem: str, reason: str | None = None, request_id: str | None = None) -> None:
        super().__init__(field, problem, reason)
        self.request_id = request_id


class ResponseError(ContractError):
    """A twin reply that breaks its contract."""
