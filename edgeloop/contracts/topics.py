"""Topic templates: one `{name}` placeholder per variable level, written once per message.

A template such as `dt/compressor/{plant_id}/telemetry` is formatted with `str.format` for
publishing; `topic_filter` turns it into the subscription filter (`dt/compressor/+/telemetry`) and
`topic_levels` reads the variable levels back out of a received topic, so the three never drift.
"""

from __future__ import annotations

import re
import string

_FIELD = re.compile(r"^\{(\w+)\}$")


def _levels(template: str) -> list[str]:
    return template.split("/")


def placeholders(template: str) -> list[str]:
    """The template's variable names in level order."""
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def topic_filter(template: str, **fixed: str) -> str:
    """The MQTT filter of a template: each placeholder not in `fixed` becomes `+`."""
    out = []
    for level in _levels(template):
        match = _FIELD.match(level)
        out.append(level if match is None else fixed.get(match.group(1), "+"))
    return "/".join(out)


def topic_levels(template: str, topic: str) -> dict[str, str] | None:
    """The placeholder values of `topic` if it has the template's shape (non-empty levels), else None."""
    want, got = _levels(template), topic.split("/")
    if len(want) != len(got):
        return None
    values: dict[str, str] = {}
    for pattern, level in zip(want, got, strict=True):
        match = _FIELD.match(pattern)
        if match is None:
            if pattern != level:
                return None
        elif not level or any(c in level for c in "+#\0"):
            return None
        else:
            values[match.group(1)] = level
    return values
