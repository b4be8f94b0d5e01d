"""Synthetic single-lead ECG built from Gaussian waves at known beat times (ground truth for tests)."""

from __future__ import annotations

import numpy as np


def beat_times(rr: np.ndarray, start: float = 0.5) -> np.ndarray:
    return start + np.concatenate([[0.0], np.cumsum(rr)])


def ecg_from_beats(times: np.ndarray, fs: float, duration: float, amp: float = 1.0,
                   wide: np.ndarray | None = None) -> np.ndarray:
    """P, QRS and T as Gaussians around each R time; `wide` marks ventricular (wide, no P) beats."""
    t = np.arange(round(duration * fs)) / fs
    x = np.zeros_like(t)
    wide = np.zeros(times.size, bool) if wide is None else wide
    for tr, w in zip(times, wide, strict=False):
        if tr > duration:
            break
        lo, hi = np.searchsorted(t, [tr - 0.4, tr + 0.6])
        tt = t[lo:hi] - tr
        if w:
            x[lo:hi] += 1.4 * np.exp(-0.5 * (tt / 0.035) ** 2) - 0.5 * np.exp(-0.5 * ((tt - 0.3) / 0.06) ** 2)
        else:
            x[lo:hi] += (0.12 * np.exp(-0.5 * ((tt + 0.16) / 0.025) ** 2)
                         - 0.1 * np.exp(-0.5 * ((tt + 0.03) / 0.008) ** 2)
                         + 1.0 * np.exp(-0.5 * (tt / 0.01) ** 2)
                         - 0.2 * np.exp(-0.5 * ((tt - 0.03) / 0.008) ** 2)
                         + 0.3 * np.exp(-0.5 * ((tt - 0.28) / 0.045) ** 2))
    return amp * x


def sinus_rr(n: int, rng: np.random.Generator, mean: float = 0.85) -> np.ndarray:
    """Smooth respiratory variation plus little jitter."""
    k = np.arange(n)
    return mean + 0.04 * np.sin(2 * np.pi * k / 4.5) + rng.normal(0, 0.008, n)


def af_rr(n: int, rng: np.random.Generator) -> np.ndarray:
    """Irregularly irregular: independent intervals."""
    return np.clip(rng.normal(0.65, 0.16, n), 0.33, 1.3)


def bigeminy_rr(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Regularly irregular: every second beat premature (0.55 s) then a pause (1.15 s)."""
    rr = np.where(np.arange(n) % 2 == 0, 0.55, 1.15) + rng.normal(0, 0.01, n)
    wide = np.zeros(n + 1, bool)
    wide[1::2] = True
    return rr, wide
