"""One picture per archived window: the ECG trace over its full-resolution spectrogram (0-40 Hz).

A reviewer labels a window by eye, so the archive keeps a PNG next to the raw samples. The gateway's
16x12 summary is too coarse to read rhythm from; this spectrogram is recomputed from the raw window
(scipy, about 1 s segments, 75 % overlap).

A whole matplotlib figure per window cost about 0.3 s of CPU, most of it laying out axes, ticks and
text that are the same in every picture. So the picture is drawn like ECG paper, on fixed scales:
a template (one Figure per window length rounded up to 10 s and trace scale) draws its axes, ticks,
labels and colour bar once and keeps the pixels as a background. Per window the background is
restored, only the trace, the spectrogram image and the spectrogram's frame are drawn onto it
(blitting), the three lines of text are drawn by PIL (matplotlib 3.11 spends about 15 ms laying out
and rasterising one line, PIL 1.5 ms, with the same DejaVu font), and PIL encodes the PNG at a low
compression level. About 40 ms per 60 s window at 250 Hz (bench/ecg_render_bench.py).

- Trace: on the smallest of TRACE_SCALES_MV that holds the window's 0.5-99.5 percentile range
  with headroom for the R peaks, centred on the median or, when that allows a smaller scale, on the
  middle of the range; a lone spike cannot flatten the rhythm. What lies beyond the scale is
  clipped, and the line under the title says how much (and where the centre is). The line drawn
  joins each pixel column's lowest and highest sample in time order: the same pixels as all
  samples at this width, for a tenth of the points.
- Spectrogram: dB relative to the window's peak power, SPECTROGRAM_FLOOR_DB..0, so a colour means
  the same in every picture whatever the device's gain.

The headline (the title and the trace's scale) is also the PNG's "Title" text chunk, so a file says
what it shows without anyone reading pixels. matplotlib (Agg, no display) is imported only here and
lazily, object-oriented (Figure and FigureCanvasAgg, no pyplot). A template holds one picture at a
time, so the threads of a process take turns under one lock; the archive draws in a low-priority
child process (render_pool.py).
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from edgeloop.cloud.errors import RenderError

MAX_FREQ_HZ = 40.0
INSTALL_HINT = "pip install 'edgeloop[cloud]'"
TRACE_SCALES_MV = (1.0, 2.0, 5.0, 10.0, 20.0)
R_PEAK_HEADROOM = 1.3            # the 99.5th percentile lies on the R upstroke, below the peak
SPECTROGRAM_FLOOR_DB = -60.0
TEMPLATE_STEP_S = 10             # windows are 10-600 s (the gateway's windowS), normally 60 s
MAX_TEMPLATES = 8                # about 4 MB each: the canvas and its background
WIDTH_PX, HEIGHT_PX, DPI = 1000, 500, 100
PNG_COMPRESS_LEVEL = 1

_LEFT, _WIDTH = 0.07, 0.85       # both panels share the time axis; the colour bar is to the right
_TRACE_RECT = (_LEFT, 0.50, _WIDTH, 0.42)
_SPECTRUM_RECT = (_LEFT, 0.11, _WIDTH, 0.36)
_TRACE_COLOUR, _TEXT_COLOUR, _CLIPPED_COLOUR = "#1f4e79", "#222222", "#b00020"
_TITLE_PX, _NOTE_PX, _LABEL_PX = 13, 12, 14     # 9.5, 8.5 and 10 pt at 100 dpi


def _figure_class() -> tuple[Any, Any]:
    try:
        # lazy: render worker only; optional 'cloud' extra
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise RenderError(f"drawing archive spectrograms needs matplotlib: {INSTALL_HINT}") from None
    return Figure, FigureCanvasAgg


def check_available() -> None:
    """Raise RenderError (naming the install) now rather than on the first window: a receiver that
    cannot draw would refuse every window it is sent."""
    _figure_class()


# -- what one window shows -----------------------------------------------------------------------

@dataclass(frozen=True)
class Trace:
    """The trace as drawn: `mv` is the window minus `centre_mv`, clipped to +-`scale_mv`;
    `clipped` counts the samples that lay beyond."""

    mv: np.ndarray
    centre_mv: float
    scale_mv: float
    clipped: int

    @property
    def note(self) -> str:
        note = f"trace ±{self.scale_mv:g} mV around {self.centre_mv:+.2f} mV"
        if not self.clipped:
            return note
        return f"{note}, clipped: {100.0 * self.clipped / self.mv.size:.2g} % of samples beyond"


def _scale_for(amplitude_mv: float) -> float:
    return next((s for s in TRACE_SCALES_MV if R_PEAK_HEADROOM * amplitude_mv <= s), TRACE_SCALES_MV[-1])


def fit_trace(x: np.ndarray) -> Trace:
    """Centre the window and pick the smallest scale that holds its 0.5-99.5 percentile range (the
    percentiles, not the extremes, so a lone spike cannot flatten the rhythm). The centre is the
    median, which puts the baseline at 0, unless the middle of the range needs a smaller scale: an
    upright (or inverted) ECG then gets twice the height, and its P waves stay visible. An artifact
    on one side does not move the centre, since the median needs no larger scale then."""
    low, median, high = (float(v) for v in np.percentile(x, [0.5, 50.0, 99.5]))
    centre, scale = median, _scale_for(max(high - median, median - low))
    if _scale_for((high - low) / 2.0) < scale:
        centre, scale = (low + high) / 2.0, _scale_for((high - low) / 2.0)
    centred = x - centre
    clipped = int(np.count_nonzero(np.abs(centred) > scale))
    return Trace(np.clip(centred, -scale, scale), centre, scale, clipped)


@dataclass(frozen=True)
class Spectrum:
    """dB relative to the window's peak power in rows 0..MAX_FREQ_HZ (1 Hz bins at 1 s segments)."""

    db: np.ndarray
    top_hz: float
    nperseg: int


def spectrum_db(x: np.ndarray, fs: float) -> Spectrum:
    from scipy import signal  # lazy: render worker only; the receiver never loads scipy

    nperseg = int(min(x.size, max(16, round(fs))))           # about 1 s: 1 Hz bins, R-R visible
    freqs, _, power = signal.spectrogram(x, fs=fs, nperseg=nperseg, noverlap=nperseg * 3 // 4,
                                         detrend="constant", scaling="density")
    band = freqs <= MAX_FREQ_HZ
    power = power[band]
    peak = max(float(power.max()), 1e-30)                    # a flat line is all floor
    db = 10.0 * np.log10(np.maximum(power / peak, 10.0 ** (SPECTROGRAM_FLOOR_DB / 10.0)))
    top = float(freqs[band][-1]) if band.any() else MAX_FREQ_HZ
    return Spectrum(db, top, nperseg)


def template_seconds(duration_s: float) -> int:
    """The length of the template a window is drawn on: rounded up to TEMPLATE_STEP_S (a 60 s
    window lands on 60, not 70, despite float noise)."""
    return TEMPLATE_STEP_S * max(1, math.ceil(duration_s / TEMPLATE_STEP_S - 1e-9))


def envelope_indices(y: np.ndarray, per_column: int) -> np.ndarray:
    """Indices of each block of `per_column` samples' minimum and maximum, in time order: a line
    through them covers the pixels a line through every sample would when a block is one pixel."""
    n = y.size
    if per_column < 3:
        return np.arange(n)
    columns = -(-n // per_column)
    blocks = np.pad(y, (0, columns * per_column - n), mode="edge").reshape(columns, per_column)
    extremes = np.sort(np.stack([blocks.argmin(axis=1), blocks.argmax(axis=1)], axis=1), axis=1)
    return np.minimum((extremes + np.arange(columns)[:, None] * per_column).ravel(), n - 1)


# -- templates -----------------------------------------------------------------------------------

class _Template:
    """One Figure whose static parts are drawn once; `draw` blits one window's trace and image."""

    def __init__(self, seconds: int, scale_mv: float, figure_class: Any, canvas_class: Any) -> None:
        self.seconds, self.scale_mv = seconds, scale_mv
        self.figure = figure_class(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI)
        self.canvas = canvas_class(self.figure)
        self.columns = round(_WIDTH * WIDTH_PX)
        self.trace_axes = self.figure.add_axes(_TRACE_RECT)
        self.spectrum_axes = self.figure.add_axes(_SPECTRUM_RECT, sharex=self.trace_axes)
        self._trace_panel()
        self._spectrum_panel()
        self.canvas.draw()
        self.background = self.canvas.copy_from_bbox(self.figure.bbox)

    def _trace_panel(self) -> None:
        from matplotlib.ticker import AutoMinorLocator  # lazy: render worker only; optional 'cloud' extra

        ax, scale = self.trace_axes, self.scale_mv
        ax.set_xlim(0.0, self.seconds)
        ax.set_ylim(-1.04 * scale, 1.04 * scale)          # a clipped stretch shows as a flat line
        ax.set_yticks(np.linspace(-scale, scale, 5))
        ax.set_ylabel("ECG (mV, centred)")
        ax.tick_params(labelbottom=False)
        ax.xaxis.set_minor_locator(AutoMinorLocator())
        ax.grid(True, which="major", linewidth=0.4, alpha=0.6)
        ax.grid(True, which="minor", axis="x", linewidth=0.25, alpha=0.35)
        self.line, = ax.plot([], [], color=_TRACE_COLOUR, linewidth=0.5, animated=True)

    def _spectrum_panel(self) -> None:
        from matplotlib import colormaps  # lazy: render worker only; optional 'cloud' extra
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        ax = self.spectrum_axes
        self.norm, self.cmap = Normalize(SPECTROGRAM_FLOOR_DB, 0.0), colormaps["magma"]
        ax.set_xlim(0.0, self.seconds)
        ax.set_ylim(0.0, MAX_FREQ_HZ)
        ax.set_ylabel("Hz")
        bar = ax.inset_axes((1.005, 0.0, 0.012, 1.0))   # beside the axes: both panels keep one width
        self.figure.colorbar(ScalarMappable(self.norm, self.cmap), cax=bar, label="dB re window peak")
        self.spines = list(ax.spines.values())          # the image covers their inner half
        x0, y0, x1, y1 = (round(v) for v in ax.bbox.extents)
        self.image_box = (HEIGHT_PX - y1, HEIGHT_PX - y0, x0, x1)   # buffer rows count from the top

    def draw(self, trace: Trace, spectrum: Spectrum, fs: float) -> Any:
        """The window on this template as a PIL RGB image (a copy: the template is free again)."""
        from PIL import Image  # lazy: render worker only; optional 'cloud' extra

        self.canvas.restore_region(self.background)
        picks = envelope_indices(trace.mv, int(fs * self.seconds / self.columns))
        self.line.set_data(picks / fs, trace.mv[picks])
        self._paste_spectrum(spectrum, trace.mv.size / fs)
        self.trace_axes.draw_artist(self.line)
        for spine in self.spines:
            self.spectrum_axes.draw_artist(spine)
        size = self.canvas.get_width_height()
        return Image.frombuffer("RGBA", size, self.canvas.buffer_rgba(), "raw", "RGBA", 0, 1).convert("RGB")

    def _paste_spectrum(self, spectrum: Spectrum, duration_s: float) -> None:
        """Write the spectrogram's pixels into the canvas, nearest neighbour as imshow would (whose
        general resampling costs a third of a picture). Time beyond the window and frequencies
        above the last bin stay blank."""
        top, bottom, left, right = self.image_box
        rows, segments = spectrum.db.shape
        if spectrum.top_hz <= 0:                        # a window too short for any bin above 0 Hz
            return
        hz = (np.arange(bottom - top)[::-1] + 0.5) * MAX_FREQ_HZ / (bottom - top)   # top row first
        seconds = (np.arange(right - left) + 0.5) * self.seconds / (right - left)
        row = (hz * rows / spectrum.top_hz).astype(int)
        column = (seconds * segments / duration_s).astype(int)
        inside_rows, inside_columns = np.flatnonzero(row < rows), np.flatnonzero(column < segments)
        if not (inside_rows.size and inside_columns.size):
            return
        colours = self.cmap(self.norm(spectrum.db), bytes=True)    # 41 rows coloured, not the pixels
        pixels = np.asarray(self.canvas.buffer_rgba())
        pixels[top + inside_rows[0]:top + inside_rows[-1] + 1, left:left + inside_columns[-1] + 1] = \
            colours[np.ix_(row[inside_rows], column[inside_columns])]


_TEMPLATES: OrderedDict[tuple[int, float], _Template] = OrderedDict()
_TEMPLATES_LOCK = threading.Lock()


def _unlock_in_forked_child() -> None:
    """A child forked while another thread drew would inherit the lock held, and nobody to release it."""
    global _TEMPLATES_LOCK
    _TEMPLATES_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_unlock_in_forked_child)


def _template(seconds: int, scale_mv: float, figure_class: Any, canvas_class: Any) -> _Template:
    """The cached template, built on first use; the least recently used beyond MAX_TEMPLATES is
    dropped. Call with _TEMPLATES_LOCK held."""
    key = (seconds, scale_mv)
    if key not in _TEMPLATES:
        _TEMPLATES[key] = _Template(seconds, scale_mv, figure_class, canvas_class)
        if len(_TEMPLATES) > MAX_TEMPLATES:
            _TEMPLATES.popitem(last=False)
    _TEMPLATES.move_to_end(key)
    return _TEMPLATES[key]


# -- text ----------------------------------------------------------------------------------------

@cache
def _font(size_px: int) -> Any:
    """The font matplotlib draws the static labels with, for PIL."""
    from matplotlib import font_manager  # lazy: render worker only; optional 'cloud' extra
    from PIL import ImageFont

    return ImageFont.truetype(font_manager.findfont(font_manager.FontProperties()), size_px)


def _draw_text(picture: Any, title: str, trace: Trace, spectrum: Spectrum, fs: float) -> None:
    from PIL import ImageDraw  # lazy: render worker only; optional 'cloud' extra

    draw = ImageDraw.Draw(picture)
    left = round(_LEFT * WIDTH_PX)
    draw.text((left, 4), title, fill=_TEXT_COLOUR, font=_font(_TITLE_PX))
    draw.text((left, 22), trace.note, fill=_CLIPPED_COLOUR if trace.clipped else _TEXT_COLOUR,
              font=_font(_NOTE_PX))
    label = f"seconds (fs {fs:g} Hz, {spectrum.nperseg}-sample segments, 75 % overlap)"
    draw.text((round((_LEFT + _WIDTH / 2) * WIDTH_PX), HEIGHT_PX - 4), label, fill=_TEXT_COLOUR,
              font=_font(_LABEL_PX), anchor="md")


def headline(title: str, trace: Trace) -> str:
    """The picture's top two lines as one (the PNG's Title text)."""
    return f"{title}  ({trace.note})"


# -- the public call -----------------------------------------------------------------------------

def _checked_samples(ecg_mv: np.ndarray, fs: float, title: str) -> np.ndarray:
    x = np.asarray(ecg_mv, dtype=np.float64)
    if x.ndim != 1 or x.size < 2:
        raise RenderError(f"{title}: expected a 1-D finite ECG with at least 2 samples, got shape {x.shape}")
    finite = np.isfinite(x)
    if not finite.all():
        raise RenderError(f"{title}: expected a 1-D finite ECG, but {x.size - int(finite.sum())} of "
                          f"{x.size} samples are NaN or infinite (the first at index {int(finite.argmin())})")
    if not (np.isfinite(fs) and fs > 0):
        raise RenderError(f"{title}: fs {fs!r} is not a sampling rate")
    return x


def render_window_png(ecg_mv: np.ndarray, fs: float, path: str | Path, title: str) -> Path:
    """Write `path` (PNG, 1000x500): `title` and the trace's scale on top, then the ECG in mV against
    seconds, then its spectrogram in dB re its peak power (0-40 Hz)."""
    from PIL.PngImagePlugin import PngInfo  # lazy: render worker only; optional 'cloud' extra

    x = _checked_samples(ecg_mv, fs, title)
    figure_class, canvas_class = _figure_class()
    trace, spectrum = fit_trace(x), spectrum_db(x, fs)
    with _TEMPLATES_LOCK:
        template = _template(template_seconds(x.size / fs), trace.scale_mv, figure_class, canvas_class)
        picture = template.draw(trace, spectrum, fs)
    _draw_text(picture, title, trace, spectrum, fs)
    info = PngInfo()
    info.add_text("Title", headline(title, trace))
    path = Path(path)
    picture.save(path, format="PNG", compress_level=PNG_COMPRESS_LEVEL, pnginfo=info)
    return path
