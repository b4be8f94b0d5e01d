"""Spectrogram of an ECG window, compact band powers and a fixed-size summary for the cloud.

Bands: 0-0.5 Hz baseline wander, 0.5-4 Hz P/T waves and rate, 4-9 Hz (AF f-waves), 9-15 Hz QRS,
15-40 Hz QRS edges and muscle noise; mains_ratio is 48-62 Hz (50 and 60 Hz hum) over total power.
The summary (16 x 12 log10 power, float16, 384 bytes) is small enough to forward with every
non-normal verdict and has the same shape for every fs and window length.
"""

from __future__ import annotations

import numpy as np
from scipy import signal as sps

from .filters import validate_ecg, validate_fs

BANDS: dict[str, tuple[float, float]] = {
    "band_0_0.5": (0.0, 0.5),
    "band_0.5_4": (0.5, 4.0),
    "band_4_9": (4.0, 9.0),
    "band_9_15": (9.0, 15.0),
    "band_15_40": (15.0, 40.0),
}
SPECTRAL_FEATURES = (*BANDS, "mains_ratio", "spectral_entropy", "dominant_freq_hz")
MAX_FREQ_HZ = 40.0
SUMMARY_SHAPE = (16, 12)  # (frequency bins over 0-40 Hz, time bins over the window)


def _band_power(psd: np.ndarray, freqs: np.ndarray, lo: float, hi: float) -> float:
    sel = (freqs >= lo) & (freqs < hi)
    return float(psd[sel].sum()) if sel.any() else 0.0


def spectrogram_summary(spec: np.ndarray, freqs: np.ndarray, times: np.ndarray,
                        duration_s: float) -> np.ndarray:
    """Average a 0-40 Hz power spectrogram into SUMMARY_SHAPE log10 cells (float16).

    Cells with no frame centre or frequency (short windows, short segments) take the nearest one.
    """
    nf, nt = SUMMARY_SHAPE
    f_edges = np.linspace(0.0, MAX_FREQ_HZ, nf + 1)
    t_edges = np.linspace(0.0, duration_s, nt + 1)
    out = np.empty(SUMMARY_SHAPE)
    for i in range(nf):
        fsel = (freqs >= f_edges[i]) & (freqs < f_edges[i + 1])
        if not fsel.any():  # finer bins than the resolution: take the nearest frequency
            mid = 0.5 * (f_edges[i] + f_edges[i + 1])
            fsel = np.arange(freqs.size) == int(np.argmin(np.abs(freqs - mid)))
        for j in range(nt):
            tsel = (times >= t_edges[j]) & (times < t_edges[j + 1])
            if not tsel.any():
                mid = 0.5 * (t_edges[j] + t_edges[j + 1])
                tsel = np.arange(times.size) == int(np.argmin(np.abs(times - mid)))
            out[i, j] = spec[np.ix_(fsel, tsel)].mean()
    floor = 1e-12 * max(float(spec.max()), 1e-30)
    return np.log10(np.maximum(out, floor)).astype(np.float16)


def spectrogram_features(ecg: object, fs: float, segment_s: float = 2.0
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, float]]:
    """Return (spec, freqs, times, features) for a raw ECG window.

    spec is the Hann-window power spectral density (scipy.signal.spectrogram, `segment_s`
    segments, 50 % overlap) limited to 0-40 Hz; features (ordered as SPECTRAL_FEATURES) are
    relative band powers over the whole spectrum, the mains ratio, the normalised Shannon entropy
    of the 0.5-40 Hz mean spectrum and its dominant frequency. The raw signal is used on purpose:
    wander and hum are what the noise features must see.
    """
    fs = validate_fs(fs)
    x = validate_ecg(ecg, fs)
    nper = round(segment_s * fs)
    freqs, times, sxx = sps.spectrogram(x, fs=fs, window="hann", nperseg=nper, noverlap=nper // 2,
                                        detrend="constant", scaling="density")
    mean_psd = sxx.mean(axis=1)
    total = float(mean_psd.sum())
    feats: dict[str, float] = {}
    for name, (lo, hi) in BANDS.items():
        feats[name] = _band_power(mean_psd, freqs, lo, hi) / total if total > 0 else 0.0
    feats["mains_ratio"] = _band_power(mean_psd, freqs, 48.0, 62.0) / total if total > 0 else 0.0
    ecg_sel = (freqs >= 0.5) & (freqs <= MAX_FREQ_HZ)
    p = mean_psd[ecg_sel]
    if p.sum() > 0:
        q = p / p.sum()
        nz = q[q > 0]
        feats["spectral_entropy"] = float(-(nz * np.log(nz)).sum() / np.log(q.size))
        feats["dominant_freq_hz"] = float(freqs[ecg_sel][np.argmax(p)])
    else:
        feats["spectral_entropy"] = 0.0
        feats["dominant_freq_hz"] = 0.0
    keep = freqs <= MAX_FREQ_HZ
    return sxx[keep], freqs[keep], times, feats
