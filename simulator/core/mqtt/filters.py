"""Topic-filter set arithmetic for the clients that share one MQTT connection among many subscribers.

A broker delivers a message once per matching subscription of a client (amqtt always; Mosquitto 2 by
default), so subscribing `a/#` and `a/b` on one connection doubles every message on `a/b`. The
bridge and the IoT Core link therefore subscribe at the broker only to filters no other of their
filters already covers, and route each arriving message to every local subscriber themselves.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..topics import filter_covers


def minimal_filters(filters: Iterable[str]) -> set[str]:
    """The filters of `filters` that no other filter in it covers (duplicates collapse to one)."""
    unique = set(filters)
    return {f for f in unique if not any(g != f and filter_covers(g, f) for g in unique)}
