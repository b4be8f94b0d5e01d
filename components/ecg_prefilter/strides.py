"""Where 60 s strides start in a stream of n samples: one rule for the gateway and offline tools."""

from __future__ import annotations


def stride_starts(n_samples: int, fs: float, window_s: float = 60.0, hop_s: float = 60.0) -> list[int]:
    """Sample offsets of every complete window of `window_s`, one every `hop_s` (hop <= window
    overlaps windows; hop > window skips signal and is refused)."""
    if not window_s > 0 or not 0 < hop_s <= window_s:
        raise ValueError(f"window_s {window_s!r} / hop_s {hop_s!r}: need 0 < hop_s <= window_s")
    width, hop = round(window_s * fs), round(hop_s * fs)
    return list(range(0, n_samples - width + 1, hop))
