"""Noise and artifacts added to the clean waveforms, and the fibrillatory AF baseline.

Every stream carries mild sensor noise, respiratory baseline wander and a trace of mains hum
(a real front end is never clean); the heavy versions below are what makes an episode 'noisy'.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import butter, sosfilt


def mild(t: np.ndarray, rng: np.random.Generator, resp_hz: float, mains_hz: float,
         phase: float) -> np.ndarray:
    """Always-present ECG noise: 10 uV white, 50 uV respiratory wander, 5 uV hum."""
    return (0.01 * rng.standard_normal(t.size)
            + 0.05 * np.sin(2 * np.pi * resp_hz * t + phase)
            + 0.005 * np.sin(2 * np.pi * mains_hz * t + phase))


def f_waves(t: np.ndarray, rng: np.random.Generator, phase: float) -> np.ndarray:
    """AF fibrillatory baseline: 0.04-0.12 mV, rate drifting within 4-9 Hz (closed-form phase,
    so it is continuous across stream blocks)."""
    f0, df, fm = rng.uniform(5.0, 7.5), rng.uniform(0.3, 1.2), rng.uniform(0.05, 0.2)
    ph = 2 * np.pi * f0 * t - df / fm * np.cos(2 * np.pi * fm * t + phase)
    env = rng.uniform(0.04, 0.12) * (0.75 + 0.25 * np.sin(2 * np.pi * 0.3 * t + phase))
    return env * (np.sin(ph) + 0.3 * np.sin(2 * ph + phase))


def hum(t: np.ndarray, rng: np.random.Generator, mains_hz: float) -> np.ndarray:
    """Heavy mains interference (unshielded lead, poor contact): fundamental + 3rd harmonic."""
    a = rng.uniform(0.15, 0.4)
    return a * (np.sin(2 * np.pi * mains_hz * t + rng.uniform(0, 6.3))
                + 0.3 * np.sin(2 * np.pi * 3 * mains_hz * t) * (3 * mains_hz < 125))


def wander(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Large baseline wander (movement of the electrode-skin interface), 0.05-0.5 Hz."""
    f = rng.uniform(0.05, 0.5, 3)
    a = rng.uniform(0.3, 0.8, 3)
    return (a[:, None] * np.sin(2 * np.pi * f[:, None] * t + rng.uniform(0, 6.3, (3, 1)))).sum(0)


def motion(n: int, fs: float, rng: np.random.Generator, scale: float) -> np.ndarray:
    """Motion bursts: band-limited (1-15 Hz) noise of 0.5-3 s every few seconds."""
    out = np.zeros(n)
    band = butter(2, [1.0, 15.0], btype="band", fs=fs, output="sos")
    i = int(rng.uniform(0, 2) * fs)
    while i < n:
        length = int(rng.uniform(0.5, 3.0) * fs)
        burst = sosfilt(band, rng.standard_normal(length + int(fs)))[int(fs):]
        burst *= scale * rng.uniform(0.5, 2.0) / (burst.std() + 1e-12)
        out[i:i + length] += burst[: n - i]
        i += length + int(rng.uniform(1.0, 5.0) * fs)
    return out
