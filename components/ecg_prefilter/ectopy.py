"""Ectopic-beat features from beat morphology: do some beats look unlike the dominant beat, and do
those odd beats look like each other?

Timing alone misses much real ectopy: an end-diastolic PVC comes about when the sinus beat would
(and may fuse with it), an interpolated PVC has no pause, and at fast sinus rates a PVC is only
10-20 % early. Its QRS still differs from the sinus beats (wide, often of other polarity), and
every PVC from one focus looks alike. Noise differs in the second point: an artifact distorts
beats each in its own way. So the beats of a window are compared with each other (Pearson
correlation of the 0.5-40 Hz QRS segments, -100..+160 ms around each R peak):
  dominant           the beat with the most look-alikes (correlation >= CLOSE) and the median of
                     those look-alikes is the dominant template;
  morph_outlier_fraction  beats correlating < OUTLIER with that template (ectopic or distorted);
  ectopic_fraction   outliers that have a look-alike among the other outliers: recurring, so
                     ectopic rather than noise;
  ectopic_forms      distinct recurring outlier morphologies (multiform PVCs give 2-3);
  wide_qrs_fraction  beats whose QRS is > 1.4x the window's median QRS width;
  qrs_width_spread   (90th percentile - median) / median of the QRS widths;
  short_long_fraction  beats at least 10 % early followed by an interval at least 10 % long
                     (rhythm.premature_fraction with the relaxed thresholds of a fast rate).
QRS width is the slope-energy spread: twice the standard deviation of time weighted by the squared
derivative within +-120 ms of the R peak. It needs no onset/offset detection (which wide,
notched PVCs make fragile) and is ~30 ms for a narrow QRS, 2-3x that for a PVC. Features are
NaN (XGBoost's missing value) when fewer than MIN_BEATS beats have full segments.
Cost: one beats x beats correlation matrix (~100 x 100 x 65) and a few strided views, ~1 ms a
60 s window.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .filters import Window
from .rhythm import MAX_RR_S, MIN_RR_S, premature_fraction

ECTOPY_FEATURES = (
    "ectopic_fraction", "morph_outlier_fraction", "ectopic_forms", "wide_qrs_fraction",
    "qrs_width_spread", "short_long_fraction",
)
PRE_S, POST_S = 0.10, 0.16     # QRS segment around the R peak
WIDTH_S = 0.12                 # half-span of the QRS-width measurement
CLOSE = 0.85                   # two beats of one morphology correlate at least this much
OUTLIER = 0.80                 # a beat unlike the dominant template correlates less
WIDE = 1.4                     # wide QRS: this many times the window's median width
MIN_BEATS = 4


def _unit_rows(segments: np.ndarray) -> np.ndarray:
    """Rows centred and scaled to unit length (a flat row stays zero), so dot products are
    Pearson correlations."""
    u = segments - segments.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(u, axis=1, keepdims=True)
    return u / np.where(norm > 0, norm, 1.0)


def _forms(close: np.ndarray) -> int:
    """Greedy count of look-alike groups of at least two beats in a symmetric `close` matrix."""
    left = np.arange(close.shape[0])
    forms = 0
    while left.size >= 2:
        sub = close[np.ix_(left, left)]
        counts = sub.sum(axis=1)
        best = int(np.argmax(counts))
        if counts[best] < 2:      # itself plus one look-alike
            break
        forms += 1
        left = left[~sub[best]]
    return forms


def qrs_widths(filtered: np.ndarray, peaks: np.ndarray, fs: float) -> np.ndarray:
    """Slope-energy QRS width (s) of each beat with a full +-WIDTH_S span (see the docstring)."""
    half = round(WIDTH_S * fs)
    slope = np.diff(filtered)
    inner = peaks[(peaks >= half) & (peaks + half <= slope.size)]
    energy = sliding_window_view(slope, 2 * half)[inner - half] ** 2
    total = energy.sum(axis=1)
    energy, total = energy[total > 0], total[total > 0]
    tau = (np.arange(2 * half) - half + 0.5) / fs
    mean = energy @ tau / total
    return 2.0 * np.sqrt(np.maximum(energy @ tau**2 / total - mean**2, 0.0))


def morphology(filtered: np.ndarray, peaks: np.ndarray, fs: float) -> dict[str, float]:
    """The morphology features (all of ECTOPY_FEATURES except short_long_fraction)."""
    pre, post = round(PRE_S * fs), round(POST_S * fs)
    ok = peaks[(peaks >= pre) & (peaks + post < filtered.size)]
    nan = float("nan")
    out = {"ectopic_fraction": nan, "morph_outlier_fraction": nan, "ectopic_forms": nan,
           "wide_qrs_fraction": nan, "qrs_width_spread": nan}
    if ok.size < MIN_BEATS:
        return out
    segments = sliding_window_view(filtered, pre + post)[ok - pre]
    u = _unit_rows(segments)
    close = (u @ u.T) >= CLOSE
    dominant = int(np.argmax(close.sum(axis=1)))
    template = _unit_rows(np.median(segments[close[dominant]], axis=0)[None, :])[0]
    outlier = (u @ template) < OUTLIER
    among = close[np.ix_(outlier, outlier)]
    recurring = among.sum(axis=1) >= 2       # itself and at least one other outlier
    out["morph_outlier_fraction"] = float(outlier.mean())
    out["ectopic_fraction"] = float(recurring.sum() / ok.size)
    out["ectopic_forms"] = float(_forms(among[np.ix_(recurring, recurring)]))

    width = qrs_widths(filtered, peaks, fs)
    median = float(np.median(width)) if width.size >= MIN_BEATS else 0.0
    if median > 0:
        out["wide_qrs_fraction"] = float(np.mean(width > WIDE * median))
        out["qrs_width_spread"] = float((np.percentile(width, 90) - median) / median)
    return out


def ectopy_features(ecg: object, fs: float, peaks: object) -> dict[str, float]:
    """Ectopy features (ordered as ECTOPY_FEATURES) of a raw window with its detected R peaks."""
    return window_ectopy(Window.of(ecg, fs), peaks)


def window_ectopy(win: Window, peaks: object) -> dict[str, float]:
    """ectopy_features of a validated Window (reuses its band-passed signal)."""
    pk = np.asarray(peaks, dtype=np.int64)
    feats = morphology(win.filtered, pk, win.fs)
    rr = np.diff(pk) / win.fs
    rr = rr[(rr >= MIN_RR_S) & (rr <= MAX_RR_S)]
    feats["short_long_fraction"] = premature_fraction(rr, short=0.9, pause=1.1)
    return {name: float(feats[name]) for name in ECTOPY_FEATURES}
