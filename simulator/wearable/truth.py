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

from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

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


def windows_cut(seconds: float, window_s: float = 60.0, hop_s: float = 60.0) -> int:
    """Windows a gateway cuts from `seconds` of one device's stream (window and hop as configured)."""
    return int((seconds - window_s) // hop_s) + 1 if seconds >= window_s else 0


ABNORMAL = ("af", "other", "noisy")


def score_forwarding(labels: Mapping[str, list[Interval]], stream_seconds: Mapping[str, float],
                     forwarded: set[tuple[str, int]], window_s: float = 60.0,
                     hop_s: float = 60.0) -> dict[str, Any]:
    """Every window a gateway cut, by ground truth, against whether it forwarded it.

    `stream_seconds`: how much of each device's stream the gateway received; `forwarded`:
    (device_id, round(window start in stream seconds)). Sensitivity counts the af/other/noisy
    windows; transition windows are reported apart (neither verdict is wrong for them).
    """
    table: Counter = Counter()
    for device, seconds in stream_seconds.items():
        for k in range(windows_cut(seconds, window_s, hop_s)):
            start = k * hop_s
            truth = window_label(labels.get(device, []), start, start + window_s) or "transition"
            table[(truth, (device, round(start)) in forwarded)] += 1
    classes = ("normal", *ABNORMAL, "transition")
    hit = sum(table[(k, True)] for k in ABNORMAL)
    total_abnormal = sum(table[(k, True)] + table[(k, False)] for k in ABNORMAL)
    normal = table[("normal", True)] + table[("normal", False)]
    return {"windows_by_truth": {k: table[(k, True)] + table[(k, False)] for k in classes},
            "forwarded_by_truth": {k: table[(k, True)] for k in classes},
            "sensitivity_non_normal": round(hit / total_abnormal, 4) if total_abnormal else None,
            "normal_forwarded_fraction": round(table[("normal", True)] / normal, 4) if normal else None}
