"""ipc/services: one module per IPC service; `OPERATIONS` is the server's dispatch table."""

from __future__ import annotations

from . import cli, config, lifecycle, mqttproxy, pubsub
from .base import CallContext, EventStream, Operation

OPERATIONS: dict[str, Operation] = {
    op.name: op for module in (pubsub, mqttproxy, config, lifecycle, cli) for op in module.OPERATIONS
}

__all__ = ["OPERATIONS", "CallContext", "EventStream", "Operation"]
