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
"""

from __future__ import annotations

import numpy as np
from scipy import signal as sps

from .filters import preprocess, validate_ecg, validate_fs

REFRACTORY_S = 0.200
T_WAVE_S = 0.360
MWI_S = 0.150
SEARCH_BACK_FACTOR = 1.66
LOCATE_S = 0.100


def _mwi(x: np.ndarray, fs: float) -> tuple[np.ndarray, np.ndarray]:
    """Return (|slope| of the 5-15 Hz signal, moving-window integral of the squared slope)."""
    sos = sps.butter(3, [5.0, min(15.0, 0.45 * fs)], btype="bandpass", fs=fs, output="sos")
    band = sps.sosfiltfilt(sos, x - np.median(x))
    slope = np.convolve(band, np.array([1.0, 2.0, 0.0, -2.0, -1.0]) * fs / 8.0, mode="same")
    width = max(1, round(MWI_S * fs))
    mwi = np.convolve(slope ** 2, np.ones(width) / width, mode="same")
    return np.abs(slope), mwi


def _classify(cands: np.ndarray, heights: np.ndarray, abs_slope: np.ndarray, fs: float,
              init_window: np.ndarray) -> tuple[list[int], np.ndarray]:
    """Adaptive-threshold pass; returns accepted candidate positions and I1 at each candidate."""
    spki = float(init_window.max()) / 3.0
    npki = float(init_window.mean()) / 2.0
    half = max(1, round(0.075 * fs))
    beats: list[int] = []
    last_slope = 0.0
    i1_at = np.empty(cands.size)
    for k, (pos, h) in enumerate(zip(cands, heights)):
        i1 = npki + 0.25 * (spki - npki)
        i1_at[k] = i1
        slope = float(abs_slope[max(0, pos - half):pos + half + 1].max())
        is_beat = h > i1
        if is_beat and beats and pos - beats[-1] < T_WAVE_S * fs and slope < 0.5 * last_slope:
            is_beat = False  # T wave: close to the previous beat and much shallower
        if is_beat:
            beats.append(int(pos))
            last_slope = slope
            # Cap the update so one motion artefact cannot blind the detector for seconds.
            spki = 0.125 * min(h, 4.0 * spki) + 0.875 * spki
        else:
            npki = 0.125 * h + 0.875 * npki
    return beats, i1_at


def _search_back(beats: list[int], cands: np.ndarray, heights: np.ndarray, i1_at: np.ndarray,
                 n: int, fs: float) -> list[int]:
    """Add the strongest candidate above I2 = 0.5 I1 in every gap longer than 1.66 x recent RR."""
    refractory = REFRACTORY_S * fs
    accepted = sorted(beats)
    changed = True
    while changed:
        changed = False
        rr_all = np.diff(accepted)
        default_rr = float(np.median(rr_all)) if rr_all.size else 1.0 * fs
        bounds = [-refractory] + accepted + [n - 1 + refractory]
        for j in range(len(bounds) - 1):
            start, end = bounds[j], bounds[j + 1]
            recent = rr_all[max(0, j - 9):max(0, j - 1)]
            rr_avg = float(recent.mean()) if recent.size >= 2 else default_rr
            if end - start <= SEARCH_BACK_FACTOR * rr_avg:
                continue
            inside = (cands > start + refractory) & (cands < end - refractory)
            inside &= heights > 0.5 * i1_at
            if inside.any():
                idx = np.flatnonzero(inside)
                best = idx[np.argmax(heights[idx])]
                accepted = sorted(accepted + [int(cands[best])])
                changed = True
                break
    return accepted


def _locate(beats: list[int], filtered: np.ndarray, fs: float) -> np.ndarray:
    """Move each beat to the largest absolute deflection nearby; merge beats closer than 200 ms."""
    w = max(1, round(LOCATE_S * fs))
    wb = max(1, round(0.35 * fs))
    out: list[int] = []
    for b in beats:
        lo, hi = max(0, b - w), min(filtered.size, b + w + 1)
        # Baseline from a wider span than the QRS, so a wide ventricular beat is not its own baseline.
        base = float(np.median(filtered[max(0, b - wb):b + wb + 1]))
        r = lo + int(np.argmax(np.abs(filtered[lo:hi] - base)))
        if out and r - out[-1] < REFRACTORY_S * fs:
            if abs(filtered[r]) > abs(filtered[out[-1]]):
                out[-1] = r
            continue
        out.append(r)
    return np.asarray(out, dtype=np.int64)


def detect_r_peaks(ecg: object, fs: float) -> np.ndarray:
    """Return R-peak sample indices (int64, ascending) of a single-lead ECG window.

    A flat or near-constant window yields an empty array rather than spurious beats.
    """
    fs = validate_fs(fs)
    x = validate_ecg(ecg, fs)
    if np.ptp(x) <= 1e-9 * max(1.0, float(np.abs(x).max())):
        return np.zeros(0, dtype=np.int64)
    abs_slope, mwi = _mwi(x, fs)
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
    return _locate(beats, preprocess(x, fs), fs)
