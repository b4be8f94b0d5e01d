"""Offline screening of a whole recording with the gateway's rule: 60 s windows, one verdict each.

The recording is resampled to 250 Hz (the rate the classifier's features were learned at) when it
was recorded at another rate (any rate from 50 Hz to 10 kHz: filters.validate_recording_fs), then cut with the gateway's stride rule (strides.stride_starts).
Ends that rule would drop are still screened, because a recording handed in for screening should
be screened whole:
  - a recording shorter than one window but at least 10 s long is screened as one shorter window
    (a verdict from fewer beats: treat it with care; `end_s - start_s` shows it);
  - a trailing remainder of at least 10 s after the last full window is screened as one more
    full-length window aligned to the recording's end (it overlaps the previous window), so the
    classifier sees the window length it was trained on;
  - less than 10 s of signal in all is refused (SignalError): too few beats for a rhythm.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from edgeloop.components.ecg_prefilter.classifier import EcgClassifier
from edgeloop.components.ecg_prefilter.features import analyse_window
from edgeloop.components.ecg_prefilter.filters import (
    MAX_RECORDING_FS,
    MIN_SECONDS,
    resample,
    validate_ecg,
    validate_recording_fs,
)
from edgeloop.components.ecg_prefilter.strides import stride_starts
from edgeloop.components.errors import SignalError

MODEL_FS = 250.0


def window_bounds(n: int, fs: float, window_s: float, hop_s: float) -> list[tuple[int, int]]:
    """[start, end) sample ranges screened in a recording of n samples (see the module docstring)."""
    width = round(window_s * fs)
    starts = stride_starts(n, fs, window_s, hop_s)
    if not starts:
        return [(0, n)]
    bounds = [(s, s + width) for s in starts]
    if n - bounds[-1][1] >= MIN_SECONDS * fs:
        bounds.append((n - width, n))
    return bounds


def screen_recording(ecg: Any, fs: float, model: EcgClassifier, window_s: float = 60.0,
                     hop_s: float = 60.0) -> list[dict[str, Any]]:
    """One dict per screened window: start_s, end_s, label, score, forward, probabilities.

    Times are seconds from the start of the recording. A window whose analysis fails has label,
    score and forward None and an `error` naming the problem (the others are still screened)."""
    fs = validate_recording_fs(fs)
    x = validate_ecg(ecg, fs, min_seconds=MIN_SECONDS, max_fs=MAX_RECORDING_FS)
    if not math.isclose(fs, MODEL_FS):
        x, fs = resample(x, fs, MODEL_FS), MODEL_FS
    bounds = window_bounds(x.size, fs, window_s, hop_s)
    rows: list[np.ndarray] = []
    out: list[dict[str, Any]] = []
    for a, b in bounds:
        entry: dict[str, Any] = {"start_s": round(a / fs, 3), "end_s": round(b / fs, 3)}
        try:
            rows.append(analyse_window(x[a:b], fs).vector())
        except SignalError as exc:
            entry.update(label=None, score=None, forward=None, error=str(exc))
        out.append(entry)
    verdicts = iter(model.decide(np.vstack(rows)) if rows else [])
    for entry in out:
        if "error" not in entry:
            v = next(verdicts)
            entry.update(label=v.label, score=float(v.score), forward=bool(v.forward),
                         probabilities={k: round(p, 6) for k, p in v.probabilities.items()})
    return out
