"""One window in, one flat ordered feature vector out: the classifier's input contract.

FEATURE_NAMES is the stable column order (rhythm, spectral, quality, then ectopy features; new
features are appended, so a model's metadata names exactly the columns it was trained on):
  rhythm   n_beats, hr_mean_bpm, rr_mean_ms, sdnn_ms, rmssd_ms, pnn50, nrmssd (RMSSD / mean RR),
           tpr (turning-point ratio of RR), sampen (RR sample entropy m=2 r=0.2 SD), cosen,
           premature_fraction (early beat followed by a compensatory pause)
  spectral band_0_0.5, band_0.5_4, band_4_9, band_9_15, band_15_40 (relative powers),
           mains_ratio (48-62 Hz), spectral_entropy (0.5-40 Hz, normalised), dominant_freq_hz
  quality  flat_fraction, clipping_fraction, baseline_power_ratio, hf_noise_ratio, kurtosis,
           skewness, template_corr, quality (0..1)
  ectopy   ectopic_fraction (beats unlike the dominant beat but like each other),
           morph_outlier_fraction, ectopic_forms, wide_qrs_fraction, qrs_width_spread,
           short_long_fraction (early beat then a long interval, 10 % thresholds)
Rhythm features are NaN when fewer than 3 beats are found, ectopy features when fewer than 4
(XGBoost's missing value).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ectopy import ECTOPY_FEATURES, window_ectopy
from .filters import Window
from .qrs import r_peaks
from .quality import QUALITY_FEATURES, window_quality
from .rhythm import RHYTHM_FEATURES, rr_features
from .spectral import SPECTRAL_FEATURES, spectrogram_features, spectrogram_summary

FEATURE_NAMES: tuple[str, ...] = (*RHYTHM_FEATURES, *SPECTRAL_FEATURES, *QUALITY_FEATURES,
                                   *ECTOPY_FEATURES)


@dataclass(frozen=True)
class WindowAnalysis:
    """Everything the pre-filter needs from one window, computed once."""

    peaks: np.ndarray              # R-peak sample indices
    features: dict[str, float]     # ordered as FEATURE_NAMES
    summary: np.ndarray            # float16 spectrogram summary, spectral.SUMMARY_SHAPE

    def vector(self) -> np.ndarray:
        """Features as a float64 row in FEATURE_NAMES order."""
        return np.array([self.features[n] for n in FEATURE_NAMES], dtype=np.float64)


def analyse_window(ecg: object, fs: float) -> WindowAnalysis:
    """Validate a raw window, detect beats and compute every feature and the summary.

    The window is validated and band-passed once (filters.Window) and shared by the detector,
    the quality indices and the spectrum.
    """
    win = Window.of(ecg, fs)
    peaks = r_peaks(win)
    spec, freqs, times, spectral = spectrogram_features(win, win.fs)
    feats = {**rr_features(peaks, win.fs), **spectral, **window_quality(win, peaks),
             **window_ectopy(win, peaks)}
    return WindowAnalysis(peaks, {n: float(feats[n]) for n in FEATURE_NAMES},
                          spectrogram_summary(spec, freqs, times, win.x.size / win.fs))


def window_features(ecg: object, fs: float) -> dict[str, float]:
    """The classifier's feature dict for one raw window, keys in FEATURE_NAMES order."""
    return analyse_window(ecg, fs).features
