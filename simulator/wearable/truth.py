"""Ground truth of a window: which screener class a [start, end) stretch of a device's stream is.

Used to train the classifier and to score the gateway, never sent to it. A window is
  - the non-normal class with the most time in it, when that class covers >= `min_abnormal_s`
    (default 20 s, a third of a 60 s window: enough beats for a rhythm to be read);
  - "normal" when no non-normal time at all falls in it;
  - None (a transition window) otherwise: it holds a few seconds of an episode's start or end.
    Scores report such windows apart, since neither verdict is wrong for them; the next window
    (hop <= window) holds the episode itself.
"""

from __future__ import annotations

from collections.abc import Iterable

Interval = tuple[float, float, str]
MIN_ABNORMAL_S = 20.0


def overlaps(labels: Iterable[Interval], start_s: float, end_s: float) -> dict[str, float]:
    """Seconds of each label inside [start_s, end_s)."""
    out: dict[str, float] = {}
    for a, b, label in labels:
        seconds = min(b, end_s) - max(a, start_s)
        if seconds > 0:
            out[label] = out.get(label, 0.0) + seconds
    return out


def window_label(labels: Iterable[Interval], start_s: float, end_s: float,
                 min_abnormal_s: float = MIN_ABNORMAL_S) -> str | None:
    """The window's class, or None for a transition window (see the module docstring)."""
    seconds = overlaps(labels, start_s, end_s)
    abnormal = {k: v for k, v in seconds.items() if k != "normal"}
    if not abnormal:
        return "normal"
    label, longest = max(abnormal.items(), key=lambda kv: kv[1])
    return label if longest >= min_abnormal_s else None
