"""Input validation, band-pass / notch filtering and resampling of a single-lead ECG window.

Everything downstream (QRS detection, features) calls `validate_ecg` first, so a bad window is
rejected once, with the problem named, instead of producing NaN features or a scipy traceback.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from scipy import signal as sps

MIN_FS = 50.0
MAX_FS = 1000.0
MIN_SECONDS = 10.0


class SignalError(ValueError):
    """The ECG window or its sampling rate cannot be analysed; the message names the problem."""


def validate_fs(fs: float) -> float:
    """Return fs as float, or raise SignalError if it is not a number in [50, 1000] Hz."""
    if isinstance(fs, bool) or not isinstance(fs, (int, float, np.integer, np.floating)):
        raise SignalError(f"fs: expected a number in Hz, got {type(fs).__name__}")
    fs = float(fs)
    if not np.isfinite(fs) or not MIN_FS <= fs <= MAX_FS:
        raise SignalError(f"fs: {fs} Hz is outside the supported range {MIN_FS:g}-{MAX_FS:g} Hz")
    return fs


def validate_ecg(ecg: object, fs: float, min_seconds: float = MIN_SECONDS) -> np.ndarray:
    """Return the ECG as a 1-D float64 array, or raise SignalError naming what is wrong.

    Checks: numeric real dtype (not bool, text, object or complex), one dimension, finite values,
    at least `min_seconds` of signal at `fs`.
    """
    fs = validate_fs(fs)
    try:
        arr = np.asarray(ecg)
    except (TypeError, ValueError) as exc:
        raise SignalError(f"ecg: cannot be read as an array ({exc})") from exc
    if arr.dtype == bool or arr.dtype.kind not in "iuf":
        raise SignalError(f"ecg: expected real numeric samples, got dtype {arr.dtype}")
    if arr.ndim != 1:
        raise SignalError(f"ecg: expected one lead (1-D array), got shape {arr.shape}")
    x = arr.astype(np.float64)
    bad = ~np.isfinite(x)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise SignalError(f"ecg: {int(bad.sum())} non-finite samples (NaN/inf), first at index {first}")
    if x.size < min_seconds * fs:
        raise SignalError(f"ecg: {x.size / fs:.2f} s of signal at {fs:g} Hz; at least {min_seconds:g} s needed")
    return x


def preprocess(ecg: object, fs: float, band: tuple[float, float] = (0.5, 40.0),
               mains_hz: float | None = None) -> np.ndarray:
    """Zero-phase band-pass (4th-order Butterworth, default 0.5-40 Hz), optional mains notch.

    Zero phase (sosfiltfilt) keeps R-peak positions where they are. The upper edge is capped at
    0.45 fs so low sampling rates still get a valid filter. `mains_hz` (50 or 60) adds an IIR notch
    (Q=30) when it lies below Nyquist.
    """
    fs = validate_fs(fs)
    x = validate_ecg(ecg, fs)
    low, high = band
    high = min(high, 0.45 * fs)
    if not 0 < low < high:
        raise SignalError(f"band: invalid pass band {band} Hz at fs={fs:g} Hz")
    sos = sps.butter(4, [low, high], btype="bandpass", fs=fs, output="sos")
    y = sps.sosfiltfilt(sos, x - np.median(x))
    if mains_hz is not None:
        if mains_hz <= 0:
            raise SignalError(f"mains_hz: {mains_hz} Hz must be positive")
        if mains_hz < 0.5 * fs:
            b, a = sps.iirnotch(mains_hz, Q=30.0, fs=fs)
            y = sps.filtfilt(b, a, y)
    return y


def resample(x: object, fs_in: float, fs_out: float, max_denominator: int = 1000) -> np.ndarray:
    """Polyphase resampling (scipy.signal.resample_poly) with fs_out/fs_in as a small fraction.

    360 -> 250 Hz is exactly 25/36; irrational-looking ratios are approximated with a denominator
    of at most `max_denominator`, so the achieved rate may differ from fs_out by a tiny fraction.
    """
    fs_in, fs_out = validate_fs(fs_in), validate_fs(fs_out)
    arr = validate_ecg(x, fs_in, min_seconds=0.0)
    ratio = Fraction(fs_out / fs_in).limit_denominator(max_denominator)
    if ratio == 1:
        return arr.copy()
    return sps.resample_poly(arr, ratio.numerator, ratio.denominator)
