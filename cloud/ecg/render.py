"""One picture per archived window: the ECG trace over its full-resolution spectrogram (0-40 Hz).

A reviewer labels a window by eye, so the archive keeps a PNG next to the raw samples. The gateway's
16x12 summary is too coarse to read rhythm from; this spectrogram is recomputed from the raw window
(scipy, about 1 s segments, 75 % overlap). matplotlib (Agg, no display) is imported here only and
lazily, through an object-oriented Figure rather than pyplot, so the receiver can draw from its
worker thread without pyplot's global state. About 0.2 s per 60 s window at 250 Hz on this machine.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

MAX_FREQ_HZ = 40.0
INSTALL_HINT = "pip install 'edgeloop[cloud]'"


class RenderError(RuntimeError):
    """The picture cannot be drawn (matplotlib missing, or the samples are unusable)."""


def _figure_class():
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise RenderError(f"drawing archive spectrograms needs matplotlib: {INSTALL_HINT}") from None
    return Figure, FigureCanvasAgg


def check_available() -> None:
    """Raise RenderError (naming the install) now rather than on the first window: a receiver that
    cannot draw would refuse every window it is sent."""
    _figure_class()


def render_window_png(ecg_mv: np.ndarray, fs: float, path: str | Path, title: str) -> Path:
    """Write `path` (PNG): ECG in mV against seconds on top, spectrogram in dB (0-40 Hz) below."""
    from scipy import signal

    x = np.asarray(ecg_mv, dtype=np.float64)
    if x.ndim != 1 or x.size < 2 or not np.isfinite(x).all():
        raise RenderError(f"{title}: expected a 1-D finite ECG with at least 2 samples, got shape {x.shape}")
    if not (np.isfinite(fs) and fs > 0):
        raise RenderError(f"{title}: fs {fs!r} is not a sampling rate")
    Figure, FigureCanvasAgg = _figure_class()
    nperseg = int(min(x.size, max(16, round(fs))))           # about 1 s: 1 Hz bins, R-R visible
    freqs, _, power = signal.spectrogram(x, fs=fs, nperseg=nperseg, noverlap=nperseg * 3 // 4,
                                             detrend="constant", scaling="density")
    band = freqs <= MAX_FREQ_HZ
    db = 10.0 * np.log10(power[band] + 1e-12)
    duration = x.size / fs

    fig = Figure(figsize=(10, 5), dpi=100)      # fixed margins: a layout engine doubles the time
    FigureCanvasAgg(fig)
    trace, spec = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1, 1.2]})
    fig.subplots_adjust(left=0.07, right=0.92, top=0.94, bottom=0.1, hspace=0.08)
    trace.plot(np.arange(x.size) / fs, x, color="#1f4e79", linewidth=0.5)
    trace.set_ylabel("ECG (mV)")
    trace.set_title(title, fontsize=10, loc="left")
    trace.grid(True, linewidth=0.3, alpha=0.5)
    top = float(freqs[band][-1]) if band.any() else MAX_FREQ_HZ
    image = spec.imshow(db, aspect="auto", origin="lower", cmap="magma", interpolation="nearest",
                        extent=(0.0, duration, 0.0, top),
                        vmin=float(np.percentile(db, 5)), vmax=float(db.max()))
    spec.set_xlim(0.0, duration)
    spec.set_ylabel("Hz")
    spec.set_xlabel(f"seconds (fs {fs:g} Hz, {nperseg}-sample segments)")
    bar = spec.inset_axes((1.005, 0.0, 0.012, 1.0))     # beside the axes: both panels keep one width
    fig.colorbar(image, cax=bar, label="dB (mV²/Hz)")
    path = Path(path)
    fig.savefig(path, format="png", pil_kwargs={"compress_level": 3})
    return path
