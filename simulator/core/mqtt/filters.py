"""Topic-filter set arithmetic for the clients that share one MQTT connection among many subscribers.

A broker delivers a message once per matching subscription of a client (amqtt always; Mosquitto 2 by
default), so subscribing `a/#` and `a/b` on one connection doubles every message on `a/b`. The
bridge and the IoT Core link therefore subscribe at the broker only to filters no other of their
filters already covers, and route each arriving message to every local subscriber themselves.
"""

from __future__ import annotations

from collections.abc import Iterable


def covers(general: str, specific: str) -> bool:
    """True if every topic that matches `specific` also matches `general`."""
    if general == specific:
        return True
    g, s = general.split("/"), specific.split("/")
    for i, part in enumerate(g):
        if part == "#":
            return True  # `a/#` also matches `a` itself
        if i >= len(s) or s[i] == "#":
            return False
        if part != "+" and part != s[i]:
            return False  # includes s[i] == "+" under a literal level
    return len(g) == len(s)


def minimal_filters(filters: Iterable[str]) -> set[str]:
    """The filters of `filters` that no other filter in it covers (duplicates collapse to one)."""
    unique = set(filters)
    return {f for f in unique if not any(g != f and covers(g, f) for g in unique)}
