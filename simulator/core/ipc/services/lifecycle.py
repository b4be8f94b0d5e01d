"""Component lifecycle over IPC: UpdateState, SubscribeToComponentUpdates, DeferComponentUpdate.

None needs a policy: each acts only on the calling component.
"""

from __future__ import annotations

from typing import Any

from edgeloop.simulator.core.errors import InvalidArguments

from ..core_api import UpdateEvent
from .base import (
    PREFIX,
    CallContext,
    EventStream,
    Operation,
    optional_int,
    optional_str,
    require_str,
)

_REPORTABLE_STATES = ("RUNNING", "ERRORED")


def update_state(ctx: CallContext, request: dict[str, Any]) -> dict[str, Any]:
    state = require_str(request, "state")
    if state not in _REPORTABLE_STATES:
        raise InvalidArguments(f"state must be one of {', '.join(_REPORTABLE_STATES)}, got {state!r}")
    ctx.core.lifecycle.report_state(ctx.component, state)
    return {}


def update_event(event: UpdateEvent) -> dict[str, Any]:
    """ComponentUpdatePolicyEvents: a pre-update (may be deferred) or post-update notification."""
    if event.kind == "pre":
        return {"preUpdateEvent": {"deploymentId": event.deployment_id, "isGgcRestarting": event.is_ggc_restarting}}
    if event.kind == "post":
        return {"postUpdateEvent": {"deploymentId": event.deployment_id}}
    raise ValueError(f"unknown component update event kind {event.kind!r}")


def subscribe_to_component_updates(ctx: CallContext, request: dict[str, Any],
                                   stream: EventStream) -> dict[str, Any]:
    stream.on_close(ctx.core.deployments.subscribe_updates(ctx.component,
                                                           lambda event: stream.send(update_event(event))))
    return {}


def defer_component_update(ctx: CallContext, request: dict[str, Any]) -> dict[str, Any]:
    deployment_id = require_str(request, "deploymentId")
    recheck = optional_int(request, "recheckAfterMs")
    if recheck is not None and recheck < 0:
        raise InvalidArguments(f"recheckAfterMs must not be negative, got {recheck}")
    message = optional_str(request, "message", "") or ""
    ctx.core.deployments.defer_update(ctx.component, deployment_id, recheck or 0, message)
    return {}


OPERATIONS = [
    Operation(PREFIX + "UpdateState", update_state),
    Operation(PREFIX + "SubscribeToComponentUpdates", subscribe_to_component_updates, streaming=True,
              event_type=PREFIX + "ComponentUpdatePolicyEvents"),
    Operation(PREFIX + "DeferComponentUpdate", defer_component_update),
]
