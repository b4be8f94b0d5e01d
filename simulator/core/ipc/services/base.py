"""What every IPC operation module shares: the call context, the event stream, the operation record
and request validation at the boundary (a bad field becomes InvalidArgumentsError naming it)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from edgeloop.simulator.core.errors import InvalidArguments

from ...topics import validate_filter, validate_topic
from ..core_api import CoreApi

PREFIX = "aws.greengrass#"


@dataclass(frozen=True, slots=True)
class CallContext:
    """Who is calling (the component its token names) and the core it may use."""

    component: str
    core: CoreApi


class EventStream(Protocol):
    """The server side of one streaming operation. `send*` are safe from any thread."""

    def send(self, payload: dict[str, Any]) -> None:
        """Send one event (the operation's event shape) as camelCase JSON."""

    def send_json(self, payload: bytes) -> None:
        """Send one event whose JSON is already serialised (lets a publisher serialise once)."""

    def on_close(self, callback: Callable[[], None]) -> None:
        """Run `callback` once when the stream ends (client closed it or the connection went away)."""


OneShot = Callable[[CallContext, dict[str, Any]], dict[str, Any]]
Streaming = Callable[[CallContext, dict[str, Any], EventStream], dict[str, Any]]


@dataclass(frozen=True)
class Operation:
    """One IPC operation: its handler and what authorization it needs.

    `policy_service` names the accessControl service that must allow the call (None: no policy
    needed); `resource(request)` gives the resource to check (validating the field it reads);
    None means the operation has no resource and any policy granting it suffices.
    """

    name: str
    handler: OneShot | Streaming
    streaming: bool = False
    event_type: str | None = None
    policy_service: str | None = None
    resource: Callable[[dict[str, Any]], str | None] | None = None

    @property
    def response_type(self) -> str:
        return self.name + "Response"


# -- request validation --------------------------------------------------------------------

def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def require_str(request: dict[str, Any], field: str) -> str:
    value = request.get(field)
    if value is None:
        raise InvalidArguments(f"{field} is required")
    if not isinstance(value, str):
        raise InvalidArguments(f"{field} must be a string, got {_type_name(value)}")
    if not value:
        raise InvalidArguments(f"{field} must not be empty")
    return value


def optional_str(request: dict[str, Any], field: str, default: str | None = None) -> str | None:
    value = request.get(field)
    if value is None:
        return default
    if not isinstance(value, str):
        raise InvalidArguments(f"{field} must be a string, got {_type_name(value)}")
    return value


def require_dict(request: dict[str, Any], field: str) -> dict[str, Any]:
    value = request.get(field)
    if value is None:
        raise InvalidArguments(f"{field} is required")
    if not isinstance(value, dict):
        raise InvalidArguments(f"{field} must be an object, got {_type_name(value)}")
    return value


def optional_dict(request: dict[str, Any], field: str) -> dict[str, Any] | None:
    value = request.get(field)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidArguments(f"{field} must be an object, got {_type_name(value)}")
    return value


def key_path(request: dict[str, Any], field: str = "keyPath", *, required: bool = False) -> list[str]:
    value = request.get(field)
    if value is None:
        if required:
            raise InvalidArguments(f"{field} is required")
        return []
    if not isinstance(value, list) or not all(isinstance(k, str) for k in value):
        raise InvalidArguments(f"{field} must be a list of strings, got {value!r}")
    return value


def optional_bool(request: dict[str, Any], field: str, default: bool = False) -> bool:
    value = request.get(field)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise InvalidArguments(f"{field} must be a boolean, got {_type_name(value)}")
    return value


def optional_int(request: dict[str, Any], field: str) -> int | None:
    """An integer field; Smithy longs may arrive as JSON numbers or numeric strings."""
    value = request.get(field)
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidArguments(f"{field} must be an integer, got bool")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise InvalidArguments(f"{field} must be an integer, got {value!r}")


def base64_field(request: dict[str, Any], field: str, *, required: bool = False) -> bytes | None:
    value = request.get(field)
    if value is None:
        if required:
            raise InvalidArguments(f"{field} is required")
        return None
    if not isinstance(value, str):
        raise InvalidArguments(f"{field} must be a base64 string, got {_type_name(value)}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidArguments(f"{field} is not valid base64: {exc}") from exc


def one_of(value: str | None, field: str, allowed: tuple[str, ...], default: str) -> str:
    if value is None:
        return default
    if value not in allowed:
        raise InvalidArguments(f"{field} must be one of {', '.join(allowed)}, got {value!r}")
    return value


def topic_field(request: dict[str, Any], field: str) -> str:
    """A topic to publish to, from `request[field]` (no wildcards)."""
    topic = require_str(request, field)
    problem = validate_topic(topic)
    if problem:
        raise InvalidArguments(f"{field}: {problem}")
    return topic


def filter_field(request: dict[str, Any], field: str) -> str:
    """A topic filter to subscribe to, from `request[field]` (MQTT wildcards allowed)."""
    topic = require_str(request, field)
    problem = validate_filter(topic)
    if problem:
        raise InvalidArguments(f"{field}: {problem}")
    return topic
