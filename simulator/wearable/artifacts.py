"""Noise and artifacts added to the clean waveforms, and the fibrillatory AF baseline.

Every stream carries the mild noise of a real front end on a moving wearer (`mild`): sensor
noise, respiratory and postural baseline wander up to a few tenths of a mV, muscle (EMG) noise
that comes and goes, and a trace of mains hum. Its levels are a trait of the device, so mild
wander alone never means "noisy": the heavy, lasting versions below are what make an episode
noisy (the rhythm cannot be read).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.signal import butter, sosfilt

SLOW_STEP = 10   # samples between evaluations of mild noise's slow parts


@dataclass(frozen=True)
class DeviceNoise:
    """One device's mild-noise traits (see `mild`)."""

    wander_hz: np.ndarray      # three postural wander components
    wander_mv: np.ndarray
    wander_phase: np.ndarray
    emg_mv: float              # EMG RMS at rest
    emg_burst_hz: float        # rate of the EMG envelope's bursts
    emg_phase: float


@lru_cache(maxsize=8192)
def device_noise(resp_hz: float, phase: float) -> DeviceNoise:
    """The mild-noise traits of the device with these traits. `mild` sees a device only through
    its breathing rate and phase, so they seed the draw: every block of a stream gets the same
    levels without extra state."""
    key = np.array([resp_hz, phase], dtype=np.float64).view(np.uint64)
    rng = np.random.default_rng([int(k) for k in key])
    level = rng.uniform(0.01, 0.12)                    # postural wander, mV per component
    return DeviceNoise(
        wander_hz=rng.uniform(0.02, 0.3, 3),
        wander_mv=level * rng.uniform(0.5, 1.0, 3), wander_phase=rng.uniform(0, 2 * np.pi, 3),
        emg_mv=float(np.exp(rng.uniform(np.log(0.003), np.log(0.025)))),
        emg_burst_hz=float(rng.uniform(1 / 120, 1 / 20)), emg_phase=float(rng.uniform(0, 2 * np.pi)))


def mild(t: np.ndarray, rng: np.random.Generator, resp_hz: float, mains_hz: float,
         phase: float) -> np.ndarray:
    """Always-present ECG noise: 10 uV white, 50 uV respiratory wander, 5 uV hum, the device's
    postural wander (three slow sinusoids, 0.02-0.3 Hz, 5-120 uV each), muscle noise (first
    differences of white noise: most power above 30 Hz, 3-25 uV RMS, up to 4x in bursts).

    The slow parts are closed-form functions of time, so stream blocks join without steps. They
    are evaluated every SLOW_STEP samples and interpolated (all are below 0.5 Hz: the error is
    < 1 uV at 100 Hz and above), which halves the cost of a 1,000-wearable load generator's noise."""
    if t.size == 0:
        return np.zeros(0)
    noise = device_noise(float(resp_hz), float(phase))
    coarse = t[::SLOW_STEP] if t.size % SLOW_STEP == 1 else np.r_[t[::SLOW_STEP], t[-1:]]
    wander = (noise.wander_mv[:, None] * np.sin(2 * np.pi * noise.wander_hz[:, None] * coarse
                                                 + noise.wander_phase[:, None])).sum(0)
    wander += 0.05 * np.sin(2 * np.pi * resp_hz * coarse + phase)
    burst = 0.5 + 0.5 * np.sin(2 * np.pi * noise.emg_burst_hz * coarse + noise.emg_phase)
    emg = np.interp(t, coarse, (noise.emg_mv / np.sqrt(2.0)) * (1.0 + 3.0 * burst**6))
    white = rng.standard_normal(t.size + 1)   # sensor noise, and EMG as its first differences
    return (white[1:] * (0.01 + emg) - white[:-1] * emg
            + 0.005 * np.sin(2 * np.pi * mains_hz * t + phase)
            + np.interp(t, coarse, wander))


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
    """Large baseline wander from movement of the electrode-skin interface: three swings of
    0.5-1.5 mV at 0.1-2 Hz and electrode pops (0.5-2.5 mV steps decaying in 0.2-1 s) every 1-4 s.
    The baseline moves by several R amplitudes, often within one beat and in the ECG's own band,
    so the rhythm cannot be read; the few tenths of a mV of slow `mild` wander on every wearer
    are no artifact."""
    f = rng.uniform(0.1, 2.0, 3)
    a = rng.uniform(0.5, 1.5, 3)
    out = (a[:, None] * np.sin(2 * np.pi * f[:, None] * t + rng.uniform(0, 6.3, (3, 1)))).sum(0)
    if t.size == 0:
        return out
    start = t[0] + rng.uniform(0.0, 2.0)
    while start < t[-1]:
        tau = rng.uniform(0.2, 1.0)
        lo, hi = np.searchsorted(t, [start, start + 6 * tau])
        dt = t[lo:hi] - start
        step = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 2.5)
        out[lo:hi] += step * (1 - np.exp(-dt / 0.02)) * np.exp(-dt / tau)
        start += rng.uniform(1.0, 4.0)
    return out


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
