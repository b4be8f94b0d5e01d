"""Signal-quality indices of an ECG window and one `quality` score in [0, 1].

quality is the product of factors, each 1 for a clean window and 0 for an unusable one, so any
single failure (lead off, clipping, noise, no consistent beats) pulls it down:
  (1 - flat_fraction) * (1 - min(1, 10 clipping_fraction)) * clip((kurtosis - 3) / 2, 0, 1)
  * clip(1 - 2 hf_noise_ratio, 0, 1) * max(template_corr, 0) * [plausible rate 24-240 bpm]
Clean ECG is spiky (kurtosis well above 5); Gaussian noise has kurtosis 3.

The PSD is one batched FFT over the 4 s segments (scipy.signal.spectrogram, averaged) rather than
scipy.signal.welch, whose per-segment loop cost ~1.5 ms a window: same segments, window and
detrending, equal to welch within floating-point rounding (~1e-15 relative). Kurtosis and
skewness are scipy.stats' biased moment formulas written out, to skip its per-call overhead.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import signal as sps

from .filters import Window

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
    beats = sliding_window_view(filtered, pre + post)[ok - pre]
    template = np.median(beats, axis=0)
    bc = beats - beats.mean(axis=1, keepdims=True)
    tc = template - template.mean()
    denom = np.linalg.norm(bc, axis=1) * np.linalg.norm(tc)
    corr = np.where(denom > 0, bc @ tc / np.where(denom > 0, denom, 1.0), 0.0)
    return float(corr.mean())


def moments(y: np.ndarray) -> tuple[float, float]:
    """(kurtosis, skewness) as scipy.stats.kurtosis(y, fisher=False) and stats.skew(y): the
    biased central-moment ratios, NaN for a constant signal."""
    mean = y.mean()
    d = y - mean
    m2 = float(np.mean(d ** 2))
    if m2 <= (np.finfo(np.float64).eps * float(mean)) ** 2:
        return float("nan"), float("nan")
    d2 = d ** 2
    m3 = float(np.mean(d2 * d))
    m4 = float(np.mean(d2 ** 2))
    return m4 / m2 ** 2.0, m3 / m2 ** 1.5


def power_spectrum(x: np.ndarray, fs: float, segment_s: float = 4.0) -> tuple[np.ndarray, np.ndarray]:
    """(freqs, PSD): Welch's mean of Hann-windowed, mean-detrended segments with 50 % overlap."""
    nper = min(x.size, round(segment_s * fs))
    freqs, _, sxx = sps.spectrogram(x, fs=fs, window="hann", nperseg=nper, noverlap=nper // 2,
                                    detrend="constant", scaling="density")
    return freqs, sxx.mean(axis=1)


def signal_quality(ecg: object, fs: float, peaks: object) -> dict[str, float]:
    """Quality indices (ordered as QUALITY_FEATURES) of a raw window with its detected R peaks."""
    return window_quality(Window.of(ecg, fs), peaks)


def window_quality(win: Window, peaks: object) -> dict[str, float]:
    """signal_quality of a validated Window (reuses its band-passed signal)."""
    x, fs = win.x, win.fs
    pk = np.asarray(peaks, dtype=np.int64)
    flat = flat_fraction(x, fs)
    clip = clipping_fraction(x)
    freqs, psd = power_spectrum(x - x.mean(), fs)
    total = float(psd.sum())
    base = float(psd[freqs < 0.5].sum()) / total if total > 0 else 0.0
    hf = float(psd[freqs > 40.0].sum()) / total if total > 0 else 0.0
    if np.ptp(x) == 0:
        return dict(zip(QUALITY_FEATURES, (1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0), strict=True))
    y = win.filtered
    kurt, skew = moments(y)
    tcorr = template_correlation(y, pk, fs)
    rate_bpm = 60.0 * pk.size / (x.size / fs)
    plausible = 1.0 if 24.0 <= rate_bpm <= 240.0 else 0.0
    quality = ((1.0 - flat) * (1.0 - min(1.0, 10.0 * clip)) * float(np.clip((kurt - 3.0) / 2.0, 0, 1))
               * float(np.clip(1.0 - 2.0 * hf, 0, 1)) * max(tcorr, 0.0) * plausible)
    return dict(zip(QUALITY_FEATURES, (flat, clip, base, hf, kurt, skew, tcorr, float(quality)), strict=True))
