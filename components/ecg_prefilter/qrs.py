"""QRS (R-peak) detection after Pan & Tompkins (IEEE TBME 1985), written from the published steps.

scipy has no QRS detector, hence this module. Steps: 5-15 Hz band-pass, five-point derivative,
squaring, 150 ms moving-window integration (MWI); candidate MWI peaks at least 200 ms apart
(refractory period); adaptive signal/noise levels SPKI/NPKI with threshold
I1 = NPKI + 0.25 (SPKI - NPKI); T-wave rejection (a candidate within 360 ms of the previous beat
with less than half its maximal slope is a T wave); search-back at threshold I2 = 0.5 I1 for
RR gaps longer than 166 % of the recent RR average. Because a window is analysed offline, the
search-back runs as a final pass over all gaps (including the window's edges), using each
candidate's threshold at the time it was seen. One addition to the paper: a beat updates SPKI with
at most 4 x SPKI, so a single motion artefact cannot raise the threshold above the next beats. Squaring makes the detector polarity-blind and the
thresholds are relative, so inverted and low-amplitude leads work; beats are finally located at
the largest absolute deflection of the 0.5-40 Hz signal near the MWI peak.

Speed (the gateway runs this ~17 times a second at 1,000 wearables): per-beat windows are taken
as strided views (numpy sliding_window_view) instead of Python slicing, and the search-back
checks all gaps of a pass at once; the results are the same beats as the one-gap-at-a-time form.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import signal as sps

from .filters import Window

REFRACTORY_S = 0.200
T_WAVE_S = 0.360
MWI_S = 0.150
SEARCH_BACK_FACTOR = 1.66
LOCATE_S = 0.100


def _mwi(win: Window) -> tuple[np.ndarray, np.ndarray]:
    """Return (|slope| of the 5-15 Hz signal, moving-window integral of the squared slope)."""
    fs = win.fs
    band = win.bandpass((5.0, 15.0), order=3)
    slope = np.convolve(band, np.array([1.0, 2.0, 0.0, -2.0, -1.0]) * fs / 8.0, mode="same")
    width = max(1, round(MWI_S * fs))
    mwi = np.convolve(slope ** 2, np.ones(width) / width, mode="same")
    return np.abs(slope), mwi


def _windows(a: np.ndarray, centres: np.ndarray, half: int, pad: float) -> np.ndarray:
    """Rows a[c - half : c + half + 1] for each centre, positions outside `a` filled with `pad`."""
    padded = np.concatenate((np.full(half, pad), a, np.full(half, pad)))
    return sliding_window_view(padded, 2 * half + 1)[centres]


def _classify(cands: np.ndarray, heights: np.ndarray, abs_slope: np.ndarray, fs: float,
              init_window: np.ndarray) -> tuple[list[int], np.ndarray]:
    """Adaptive-threshold pass; returns accepted candidate positions and I1 at each candidate."""
    spki = float(init_window.max()) / 3.0
    npki = float(init_window.mean()) / 2.0
    half = max(1, round(0.075 * fs))
    slopes = _windows(abs_slope, cands, half, -np.inf).max(axis=1).tolist()
    beats: list[int] = []
    last_slope = 0.0
    i1_at = np.empty(cands.size)
    t_wave = T_WAVE_S * fs
    for k, (pos, h, slope) in enumerate(zip(cands.tolist(), heights.tolist(), slopes, strict=True)):
        i1 = npki + 0.25 * (spki - npki)
        i1_at[k] = i1
        is_beat = h > i1
        if is_beat and beats and pos - beats[-1] < t_wave and slope < 0.5 * last_slope:
            is_beat = False  # T wave: close to the previous beat and much shallower
        if is_beat:
            beats.append(pos)
            last_slope = slope
            # Cap the update so one motion artefact cannot blind the detector for seconds.
            spki = 0.125 * min(h, 4.0 * spki) + 0.875 * spki
        else:
            npki = 0.125 * h + 0.875 * npki
    return beats, i1_at


def _search_back(beats: list[int], cands: np.ndarray, heights: np.ndarray, i1_at: np.ndarray,
                 n: int, fs: float) -> list[int]:
    """Add the strongest candidate above I2 = 0.5 I1 in every gap longer than 1.66 x recent RR.

    One beat is added per pass, in the first gap (in time) that qualifies, and the pass repeats
    with the new beat list, because every addition changes the recent RR averages after it.
    The recent average of gap j is the mean of RR intervals j-9 .. j-2 (RR are whole samples, so
    the cumulative-sum mean is exact), or the median RR when fewer than two precede it.
    """
    refractory = REFRACTORY_S * fs
    strong = heights > 0.5 * i1_at
    accepted = np.array(sorted(beats), dtype=np.int64)
    while True:
        rr_all = np.diff(accepted)
        default_rr = float(np.median(rr_all)) if rr_all.size else 1.0 * fs
        bounds = np.concatenate(([-refractory], accepted, [n - 1 + refractory]))
        starts, ends = bounds[:-1], bounds[1:]
        j = np.arange(starts.size)
        lo, hi = np.maximum(0, j - 9), np.maximum(0, j - 1)
        csum = np.concatenate(([0], np.cumsum(rr_all)))
        count = hi - lo
        recent_mean = (csum[hi] - csum[lo]) / np.maximum(count, 1)
        rr_avg = np.where(count >= 2, recent_mean, default_rr)
        long_gaps = np.flatnonzero(ends - starts > SEARCH_BACK_FACTOR * rr_avg)
        first = np.searchsorted(cands, starts[long_gaps] + refractory, side="right")
        last = np.searchsorted(cands, ends[long_gaps] - refractory, side="left")
        added = None
        for a, b in zip(first.tolist(), last.tolist(), strict=True):
            idx = a + np.flatnonzero(strong[a:b])
            if idx.size:
                added = int(cands[idx[np.argmax(heights[idx])]])
                break
        if added is None:
            return accepted.tolist()
        accepted = np.insert(accepted, np.searchsorted(accepted, added), added)


def _locate(beats: list[int], filtered: np.ndarray, fs: float) -> np.ndarray:
    """Move each beat to the largest absolute deflection nearby; merge beats closer than 200 ms."""
    w = max(1, round(LOCATE_S * fs))
    wb = max(1, round(0.35 * fs))
    b = np.asarray(beats, dtype=np.int64)
    if b.size == 0:
        return np.zeros(0, dtype=np.int64)
    n = filtered.size
    # Baseline from a wider span than the QRS, so a wide ventricular beat is not its own baseline.
    base = np.empty(b.size)
    whole = (b >= wb) & (b + wb < n)
    if whole.any():  # odd-length windows: the median is one of the samples, as with np.median
        base[whole] = np.median(sliding_window_view(filtered, 2 * wb + 1)[b[whole] - wb], axis=1)
    for k in np.flatnonzero(~whole):
        base[k] = float(np.median(filtered[max(0, b[k] - wb):b[k] + wb + 1]))
    dev = np.abs(_windows(filtered, b, w, np.nan) - base[:, None])
    r_all = b - w + np.argmax(np.nan_to_num(dev, nan=-np.inf), axis=1)
    out: list[int] = []
    for r in r_all.tolist():
        if out and r - out[-1] < REFRACTORY_S * fs:
            if abs(filtered[r]) > abs(filtered[out[-1]]):
                out[-1] = r
            continue
        out.append(r)
    return np.asarray(out, dtype=np.int64)


def r_peaks(win: Window) -> np.ndarray:
    """R-peak sample indices of a validated Window (see detect_r_peaks)."""
    x, fs = win.x, win.fs
    if np.ptp(x) <= 1e-9 * max(1.0, float(np.abs(x).max())):
        return np.zeros(0, dtype=np.int64)
    abs_slope, mwi = _mwi(win)
    cands, _ = sps.find_peaks(mwi, distance=max(1, round(REFRACTORY_S * fs)))
    if cands.size == 0:
        return np.zeros(0, dtype=np.int64)
    heights = mwi[cands]
    # Learning phase: the first 2 s, unless they are silent (e.g. lead settling), then the window.
    init = mwi[: round(2 * fs)]
    if init.max() <= 1e-3 * mwi.max():
        init = mwi
    beats, i1_at = _classify(cands, heights, abs_slope, fs, init)
    beats = _search_back(beats, cands, heights, i1_at, x.size, fs)
    return _locate(beats, win.filtered, fs)


def detect_r_peaks(ecg: object, fs: float) -> np.ndarray:
    """Return R-peak sample indices (int64, ascending) of a single-lead ECG window.

    A flat or near-constant window yields an empty array rather than spurious beats.
    """
    return r_peaks(Window.of(ecg, fs))
