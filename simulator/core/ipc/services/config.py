"""Component configuration over IPC: GetConfiguration, UpdateConfiguration, SubscribeToConfigurationUpdate.

As on Greengrass, any component may read and watch any component's configuration without a policy,
and may update only its own. GetConfiguration answers a leaf as `{lastKey: leaf}` and an object as
the object itself (the nucleus and Greengrass Lite's documented behaviour). UpdateConfiguration may
not touch `accessControl`: a component rewriting its own policies would grant itself anything.
"""

from __future__ import annotations

from typing import Any

from edgeloop.simulator.core.errors import (
    ConfigError,
    FailedUpdateConditionCheck,
    InvalidArguments,
    ResourceNotFound,
    StaleUpdateError,
)

from .base import PREFIX, CallContext, EventStream, Operation, key_path, optional_str

PROTECTED_KEY = "accessControl"


def _target(ctx: CallContext, request: dict[str, Any]) -> str:
    component = optional_str(request, "componentName") or ctx.component
    if component not in ctx.core.config.components():
        raise ResourceNotFound(f"component {component} has no configuration")
    return component


def get_configuration(ctx: CallContext, request: dict[str, Any]) -> dict[str, Any]:
    component = _target(ctx, request)
    path = key_path(request)
    try:
        value = ctx.core.config.get(component, path)
    except KeyError:
        raise ResourceNotFound(f"key path /{'/'.join(path)} not found in the configuration of {component}") from None
    if path and not isinstance(value, dict):
        value = {path[-1]: value}
    return {"componentName": component, "value": value}


def _timestamp(request: dict[str, Any]) -> float:
    value = request.get("timestamp")
    if value is None:
        raise InvalidArguments("timestamp is required")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidArguments(f"timestamp must be epoch seconds as a number, got {value!r}")
    return float(value)


def update_configuration(ctx: CallContext, request: dict[str, Any]) -> dict[str, Any]:
    path = key_path(request)
    stamp = _timestamp(request)
    if "valueToMerge" not in request:
        raise InvalidArguments("valueToMerge is required")
    value = request["valueToMerge"]
    touches_acl = (path and path[0] == PROTECTED_KEY) or (not path and isinstance(value, dict)
                                                          and PROTECTED_KEY in value)
    if touches_acl:
        raise InvalidArguments(f"{PROTECTED_KEY} cannot be changed over IPC; deploy a new configuration instead")
    if ctx.component not in ctx.core.config.components():
        raise ResourceNotFound(f"component {ctx.component} has no configuration")
    try:
        ctx.core.config.update(ctx.component, path, value, timestamp=stamp)
    except StaleUpdateError as exc:
        raise FailedUpdateConditionCheck(str(exc)) from None
    except ConfigError as exc:
        raise InvalidArguments(str(exc)) from None
    return {}


def subscribe_to_configuration_update(ctx: CallContext, request: dict[str, Any],
                                      stream: EventStream) -> dict[str, Any]:
    component = _target(ctx, request)
    path = key_path(request)

    def changed(name: str, changed_path: list[str]) -> None:
        stream.send({"configurationUpdateEvent": {"componentName": name, "keyPath": changed_path}})

    stream.on_close(ctx.core.config.subscribe(component, path, changed))
    return {}


OPERATIONS = [
    Operation(PREFIX + "GetConfiguration", get_configuration),
    Operation(PREFIX + "UpdateConfiguration", update_configuration),
    Operation(PREFIX + "SubscribeToConfigurationUpdate", subscribe_to_configuration_update, streaming=True,
              event_type=PREFIX + "ConfigurationUpdateEvents"),
]
