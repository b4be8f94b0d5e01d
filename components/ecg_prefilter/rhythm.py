"""Heart-rate variability and rhythm-irregularity features from R-peak positions.

They separate sinus rhythm (regular, smooth variation), atrial fibrillation (irregularly
irregular: high normalised RMSSD, turning-point ratio near the random 2/3, high COSEn) and
ectopy / bigeminy (regularly irregular: short-long pairs, i.e. premature beats with a
compensatory pause, turning-point ratio near 1). Sample entropy is hand-written because scipy
has none; the O(n^2) pair count is fine for the ~60-200 RR intervals of a 60 s window (one
boolean matrix per template position, upper triangle only).
Undefined features (too few beats) are NaN, which XGBoost treats as missing.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from edgeloop.components.errors import SignalError

from .filters import validate_fs

RHYTHM_FEATURES = (
    "n_beats", "hr_mean_bpm", "rr_mean_ms", "sdnn_ms", "rmssd_ms", "pnn50", "nrmssd",
    "tpr", "sampen", "cosen", "premature_fraction",
)
MIN_RR_S = 0.2   # refractory: shorter "intervals" are detection errors, not beats
MAX_RR_S = 3.0   # longer intervals span a gap (lead-off, dropped samples), not a beat pair


def sample_entropy(x: np.ndarray, m: int = 2, r: float = 0.2) -> float:
    """SampEn(m, r*SD) of a short series (Richman & Moorman 2000); NaN if undefined."""
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    if n < m + 3:
        return float("nan")
    tol = r * float(np.std(x))
    if tol == 0:
        return float("nan")

    # Template pairs (i < j) among the same n - m starts for both lengths, as the definition
    # requires; Chebyshev distance <= tol means every position is within tol.
    rows = n - m
    upper = np.triu(np.ones((rows, rows), dtype=bool), k=1)
    close = upper
    for k in range(m):
        close = close & (np.abs(x[k:k + rows, None] - x[None, k:k + rows]) <= tol)
    b = int(close.sum())
    a = int((close & (np.abs(x[m:m + rows, None] - x[None, m:m + rows]) <= tol)).sum())
    if a == 0 or b == 0:
        return float("nan")
    return float(-np.log(a / b))


def turning_point_ratio(x: np.ndarray) -> float:
    """Fraction of interior points that are local extrema (random series: 2/3; alternating: 1)."""
    if x.size < 3:
        return float("nan")
    d = np.diff(x)
    return float(np.mean(d[:-1] * d[1:] < 0))


def premature_fraction(rr: np.ndarray, short: float = 0.8, pause: float = 1.1, half: int = 4) -> float:
    """Fraction of beats that come early (RR < short x local reference) and are followed by a long
    (> pause x reference) compensatory interval: the signature of ectopic beats.

    The reference is the local median of adjacent-pair means (rr[j] + rr[j+1]) / 2: a premature
    beat plus its compensatory pause average to the underlying sinus interval, so the reference
    stays right even in bigeminy, where half the intervals are premature.
    """
    if rr.size < 3:
        return float("nan")
    pair_mean = 0.5 * (rr[:-1] + rr[1:])
    ref = np.empty(rr.size - 1)
    inner = np.arange(half, pair_mean.size - half)  # full, odd-length neighbourhoods
    if inner.size:
        ref[inner] = np.median(sliding_window_view(pair_mean, 2 * half + 1), axis=1)
    for i in (*range(min(half, ref.size)), *range(max(half, pair_mean.size - half), ref.size)):
        ref[i] = float(np.median(pair_mean[max(0, i - half):i + half + 1]))
    count = int(np.count_nonzero((rr[:-1] < short * ref) & (rr[1:] > pause * ref)))
    return count / rr.size


def rr_features(peaks: object, fs: float) -> dict[str, float]:
    """Rhythm features (ordered as RHYTHM_FEATURES) from R-peak sample indices."""
    fs = validate_fs(fs)
    p = np.asarray(peaks)
    if p.ndim != 1 or (p.size and p.dtype.kind not in "iu"):
        raise SignalError(f"peaks: expected 1-D integer sample indices, got dtype {p.dtype}, shape {p.shape}")
    if p.size > 1 and np.any(np.diff(p) <= 0):
        raise SignalError("peaks: indices must be strictly increasing")
    rr = np.diff(p) / fs
    rr = rr[(rr >= MIN_RR_S) & (rr <= MAX_RR_S)]
    nan = float("nan")
    out = dict.fromkeys(RHYTHM_FEATURES, nan)
    out["n_beats"] = float(p.size)
    if rr.size < 2:
        return out
    rr_ms = rr * 1000.0
    diff = np.diff(rr_ms)
    mean_rr = float(rr_ms.mean())
    rmssd = float(np.sqrt(np.mean(diff ** 2)))
    sampen = sample_entropy(rr_ms)
    out.update(
        hr_mean_bpm=60000.0 / mean_rr,
        rr_mean_ms=mean_rr,
        sdnn_ms=float(rr_ms.std(ddof=1)),
        rmssd_ms=rmssd,
        pnn50=float(np.mean(np.abs(diff) > 50.0)),
        nrmssd=rmssd / mean_rr,
        tpr=turning_point_ratio(rr_ms),
        sampen=sampen,
        # Lake & Moorman 2011: COSEn = SampEn + ln(2r) - ln(mean RR), r and RR in seconds.
        cosen=sampen + np.log(2 * 0.2 * float(np.std(rr))) - np.log(float(rr.mean())) if np.isfinite(sampen) else nan,
        premature_fraction=premature_fraction(rr),
    )
    return out
