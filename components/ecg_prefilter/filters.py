"""Input validation, band-pass / notch filtering and resampling of a single-lead ECG window.

Everything downstream (QRS detection, features) starts from `validate_ecg`, so a bad window is
rejected once, with the problem named, instead of producing NaN features or a scipy traceback.
`Window` is a validated window whose filtered forms are computed once and shared by the QRS
detector, the quality indices and the spectrum (the gateway analyses ~17 windows/s at 1,000
wearables, so filtering each window once instead of three times matters).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property, lru_cache

import numpy as np
from scipy import signal as sps

from edgeloop.components.errors import SignalError

MIN_FS = 50.0
MAX_FS = 1000.0
# Recordings handed in whole (files, archives) are resampled before analysis, so they may come at
# any rate a real recorder uses: Holter 128-1,024 Hz, clinical 500-1,000 Hz, research and
# high-resolution recorders 1-10 kHz (2,048 Hz is common). Below MIN_FS a QRS complex (energy up to
# about 40 Hz) cannot be resolved, so that is not an ECG recording.
MAX_RECORDING_FS = 10_000.0
MIN_SECONDS = 10.0


def validate_fs(fs: float, max_fs: float = MAX_FS) -> float:
    """Return fs as float, or raise SignalError if it is not a number in [MIN_FS, max_fs] Hz.

    The default range is the analysis range (what the features were designed for); recordings
    that will be resampled first use `validate_recording_fs`."""
    if isinstance(fs, bool) or not isinstance(fs, (int, float, np.integer, np.floating)):
        raise SignalError(f"fs: expected a number in Hz, got {type(fs).__name__}")
    fs = float(fs)
    if not np.isfinite(fs) or not MIN_FS <= fs <= max_fs:
        raise SignalError(f"fs: {fs} Hz is outside the supported range {MIN_FS:g}-{max_fs:g} Hz")
    return fs


def validate_recording_fs(fs: float) -> float:
    """The rate of a recording that is resampled before analysis: [MIN_FS, MAX_RECORDING_FS] Hz."""
    return validate_fs(fs, MAX_RECORDING_FS)


def validate_ecg(ecg: object, fs: float, min_seconds: float = MIN_SECONDS, max_fs: float = MAX_FS) -> np.ndarray:
    """Return the ECG as a 1-D float64 array, or raise SignalError naming what is wrong.

    Checks: numeric real dtype (not bool, text, object or complex), one dimension, finite values,
    at least `min_seconds` of signal at `fs` (a rate in [MIN_FS, max_fs]).
    """
    fs = validate_fs(fs, max_fs)
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


@dataclass(frozen=True)
class ZeroPhase:
    """A Butterworth band-pass designed once per (order, band, fs), applied forward-backward.

    `apply` performs exactly scipy.signal.sosfiltfilt's steps (odd extension of 3 x taps,
    steady-state initial conditions, forward pass, backward pass), so its output is bit-identical;
    it exists because sosfiltfilt re-derives the initial conditions (sosfilt_zi) on every call,
    which cost as much as the filtering itself on a 60 s window.
    """

    sos: np.ndarray
    zi: np.ndarray
    edge: int

    def apply(self, x: np.ndarray) -> np.ndarray:
        edge = self.edge
        if x.size <= edge:
            raise SignalError(f"ecg: {x.size} samples are too few to filter (need > {edge})")
        ext = np.concatenate((2 * x[0] - x[edge:0:-1], x, 2 * x[-1] - x[-2:-(edge + 2):-1]))
        y, _ = sps.sosfilt(self.sos, ext, zi=self.zi * ext[0:1])
        y, _ = sps.sosfilt(self.sos, y[::-1], zi=self.zi * y[-1:])
        return y[::-1][edge:-edge]


@lru_cache(maxsize=64)
def bandpass_design(order: int, low: float, high: float, fs: float) -> ZeroPhase:
    """The cached zero-phase Butterworth band-pass [low, high] Hz at fs."""
    sos = sps.butter(order, [low, high], btype="bandpass", fs=fs, output="sos")
    ntaps = 2 * sos.shape[0] + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    return ZeroPhase(sos, sps.sosfilt_zi(sos), 3 * ntaps)


def _pass_band(band: tuple[float, float], fs: float) -> tuple[float, float]:
    low, high = band
    high = min(high, 0.45 * fs)
    if not 0 < low < high:
        raise SignalError(f"band: invalid pass band {band} Hz at fs={fs:g} Hz")
    return float(low), float(high)


def _read_only(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


class Window:
    """A validated ECG window (`x`, float64) at `fs`, with lazily computed shared forms.

    QRS detection, quality and spectrum all start from a Window, so validation, the median and
    the 0.5-40 Hz band-pass happen once per window however many modules use them.
    """

    def __init__(self, ecg: object, fs: float) -> None:
        self.fs = validate_fs(fs)
        self.x = _read_only(validate_ecg(ecg, self.fs))

    @classmethod
    def of(cls, ecg: object, fs: float) -> Window:
        """`ecg` itself when it is already a Window at `fs`, else a new validated one."""
        if isinstance(ecg, Window):
            if ecg.fs != validate_fs(fs):
                raise SignalError(f"fs: window is at {ecg.fs:g} Hz, {fs!r} Hz given")
            return ecg
        return cls(ecg, fs)

    @cached_property
    def centred(self) -> np.ndarray:
        """x minus its median (both band-passes start from it); read-only, as it is shared."""
        return _read_only(self.x - np.median(self.x))

    @cached_property
    def filtered(self) -> np.ndarray:
        """The 0.5-40 Hz zero-phase band-pass of `preprocess` (no notch); read-only."""
        return _read_only(self.bandpass((0.5, 40.0)))

    def bandpass(self, band: tuple[float, float], order: int = 4) -> np.ndarray:
        low, high = _pass_band(band, self.fs)
        return bandpass_design(order, low, high, self.fs).apply(self.centred)


def preprocess(ecg: object, fs: float, band: tuple[float, float] = (0.5, 40.0),
               mains_hz: float | None = None) -> np.ndarray:
    """Zero-phase band-pass (4th-order Butterworth, default 0.5-40 Hz), optional mains notch.

    Zero phase (sosfiltfilt) keeps R-peak positions where they are. The upper edge is capped at
    0.45 fs so low sampling rates still get a valid filter. `mains_hz` (50 or 60) adds an IIR notch
    (Q=30) when it lies below Nyquist.
    """
    win = Window.of(ecg, fs)
    fs = win.fs
    y = win.filtered.copy() if tuple(band) == (0.5, 40.0) else win.bandpass(band)
    if mains_hz is not None:
        if mains_hz <= 0:
            raise SignalError(f"mains_hz: {mains_hz} Hz must be positive")
        if mains_hz < 0.5 * fs:
            b, a = sps.iirnotch(mains_hz, Q=30.0, fs=fs)
            y = sps.filtfilt(b, a, y)
    return y


def resample(x: object, fs_in: float, fs_out: float, max_denominator: int = 1000) -> np.ndarray:
    """Polyphase resampling (scipy.signal.resample_poly) with fs_out/fs_in as a small fraction.

    360 -> 250 Hz is exactly 25/36, 2,048 -> 250 Hz 125/1024; irrational-looking ratios are
    approximated with a denominator of at most `max_denominator`, so the achieved rate may differ
    from fs_out by a tiny fraction. Both rates may be any recording rate (validate_recording_fs).
    """
    fs_in, fs_out = validate_recording_fs(fs_in), validate_recording_fs(fs_out)
    arr = validate_ecg(x, fs_in, min_seconds=0.0, max_fs=MAX_RECORDING_FS)
    ratio = Fraction(fs_out / fs_in).limit_denominator(max_denominator)
    if ratio == 1:
        return arr.copy()
    return sps.resample_poly(arr, ratio.numerator, ratio.denominator)
