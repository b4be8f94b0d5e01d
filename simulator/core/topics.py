"""MQTT topic-filter matching, shared by local pub/sub, the bridge, the IoT Core link and authorization."""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=4096)
def _levels(text: str) -> tuple[str, ...]:
    return tuple(text.split("/"))


def topic_matches(topic_filter: str, topic: str) -> bool:
    """True if `topic` matches the MQTT filter `topic_filter` (`+` one level, `#` the rest)."""
    if topic_filter == topic:
        return True
    flt, top = _levels(topic_filter), _levels(topic)
    for i, part in enumerate(flt):
        if part == "#":
            # `a/#` also matches `a` itself, as MQTT says.
            return i == len(flt) - 1
        if i >= len(top):
            return False
        if part != "+" and part != top[i]:
            return False
    return len(flt) == len(top)


def filter_covers(general: str, specific: str) -> bool:
    """True if every topic that `specific` (a topic or a filter) matches is also matched by `general`.

    Used where a subscription or a policy must contain another: the IoT Core link and the bridge
    merge nested filters into one broker subscription; mqttproxy policies authorize a filter.
    """
    if general == specific:
        return True
    g, s = _levels(general), _levels(specific)
    for i, part in enumerate(g):
        if part == "#":
            return i == len(g) - 1  # `a/#` also covers `a` itself
        if i >= len(s) or s[i] == "#":
            return False
        if part != "+" and part != s[i]:
            return False  # includes s[i] == "+" under a literal level
    return len(g) == len(s)


def validate_filter(topic_filter: str) -> str | None:
    """Why `topic_filter` is not a valid MQTT topic filter, or None when it is."""
    if not topic_filter:
        return "the topic is empty"
    levels = topic_filter.split("/")
    for i, part in enumerate(levels):
        if "#" in part and (part != "#" or i != len(levels) - 1):
            return f"'#' must be a whole last level in {topic_filter!r}"
        if "+" in part and part != "+":
            return f"'+' must be a whole level in {topic_filter!r}"
    return None


def validate_topic(topic: str) -> str | None:
    """Why `topic` is not a valid topic to publish to, or None when it is."""
    if not topic:
        return "the topic is empty"
    if "#" in topic or "+" in topic:
        return f"wildcards are not allowed in a topic to publish to: {topic!r}"
    return None
