"""Signal-quality indices of an ECG window and one `quality` score in [0, 1].

quality is the product of factors, each 1 for a clean window and 0 for an unusable one, so any
single failure (lead off, clipping, noise, no consistent beats) pulls it down:
  (1 - flat_fraction) * (1 - min(1, 10 clipping_fraction)) * clip((kurtosis - 3) / 2, 0, 1)
  * clip(1 - 2 hf_noise_ratio, 0, 1) * max(template_corr, 0) * [plausible rate 24-240 bpm]
Clean ECG is spiky (kurtosis well above 5); Gaussian noise has kurtosis 3.
"""

from __future__ import annotations

import numpy as np
from scipy import signal as sps
from scipy import stats

from .filters import preprocess, validate_ecg, validate_fs

QUALITY_FEATURES = (
    "flat_fraction", "clipping_fraction", "baseline_power_ratio", "hf_noise_ratio",
    "kurtosis", "skewness", "template_corr", "quality",
)
FLAT_SEGMENT_S = 0.5


def flat_fraction(x: np.ndarray, fs: float) -> float:
    """Fraction of 0.5 s segments whose peak-to-peak is < 2 % of the window's typical (95th pct)
    segment range: lead-off or dropped-to-constant stretches."""
    n = max(1, round(FLAT_SEGMENT_S * fs))
    segs = x[: x.size // n * n].reshape(-1, n)
    ptp = np.ptp(segs, axis=1)
    ref = float(np.percentile(ptp, 95))
    return float(np.mean(ptp <= max(0.02 * ref, 1e-12)))


def clipping_fraction(x: np.ndarray) -> float:
    """Fraction of samples on plateaus (>= 3 consecutive samples) at the window's max or min."""
    span = float(np.ptp(x))
    if span == 0:
        return 0.0
    tol = 1e-3 * span
    at_rail = (x >= x.max() - tol) | (x <= x.min() + tol)
    run = at_rail[:-2] & at_rail[1:-1] & at_rail[2:]
    on_plateau = np.zeros_like(at_rail)
    for k in range(3):
        on_plateau[k:k + run.size] |= run
    return float(on_plateau.mean())


def template_correlation(filtered: np.ndarray, peaks: np.ndarray, fs: float) -> float:
    """Mean Pearson correlation of beats (-0.2 s..+0.4 s) with the median beat; 0 if < 3 beats."""
    pre, post = round(0.2 * fs), round(0.4 * fs)
    ok = peaks[(peaks >= pre) & (peaks + post < filtered.size)]
    if ok.size < 3:
        return 0.0
    beats = np.stack([filtered[p - pre:p + post] for p in ok])
    template = np.median(beats, axis=0)
    bc = beats - beats.mean(axis=1, keepdims=True)
    tc = template - template.mean()
    denom = np.linalg.norm(bc, axis=1) * np.linalg.norm(tc)
    corr = np.where(denom > 0, bc @ tc / np.where(denom > 0, denom, 1.0), 0.0)
    return float(corr.mean())


def signal_quality(ecg: object, fs: float, peaks: object) -> dict[str, float]:
    """Quality indices (ordered as QUALITY_FEATURES) of a raw window with its detected R peaks."""
    fs = validate_fs(fs)
    x = validate_ecg(ecg, fs)
    pk = np.asarray(peaks, dtype=np.int64)
    flat = flat_fraction(x, fs)
    clip = clipping_fraction(x)
    freqs, psd = sps.welch(x - x.mean(), fs=fs, nperseg=min(x.size, round(4 * fs)))
    total = float(psd.sum())
    base = float(psd[freqs < 0.5].sum()) / total if total > 0 else 0.0
    hf = float(psd[freqs > 40.0].sum()) / total if total > 0 else 0.0
    if np.ptp(x) == 0:
        return dict(zip(QUALITY_FEATURES, (1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)))
    y = preprocess(x, fs)
    kurt = float(stats.kurtosis(y, fisher=False))
    skew = float(stats.skew(y))
    tcorr = template_correlation(y, pk, fs)
    rate_bpm = 60.0 * pk.size / (x.size / fs)
    plausible = 1.0 if 24.0 <= rate_bpm <= 240.0 else 0.0
    quality = ((1.0 - flat) * (1.0 - min(1.0, 10.0 * clip)) * float(np.clip((kurt - 3.0) / 2.0, 0, 1))
               * float(np.clip(1.0 - 2.0 * hf, 0, 1)) * max(tcorr, 0.0) * plausible)
    return dict(zip(QUALITY_FEATURES, (flat, clip, base, hf, kurt, skew, tcorr, float(quality))))
