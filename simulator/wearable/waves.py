"""ECG and PPG waveforms rendered from a beat train as sums of Gaussians.

ECG: the z-equation of ECGSYN (McSharry et al. 2003), dz/dt = -sum a_i dtheta_i w exp(-dtheta_i^2
/ 2 b_i^2), integrates to z = sum a_i b_i^2 exp(-dtheta_i^2 / 2 b_i^2) when the slow (z - z0)
relaxation is left out. With the paper's Table 1 (P, Q, R, S, T angles, a, b) at 60 bpm that is
a sum of Gaussians in time around each R wave; we place them per beat (so PVC and AF beats get
their own morphology) instead of integrating the ODE, which keeps rendering vectorised. T-wave
timing and width scale with sqrt(RR) (Bazett), the PR interval with RR^0.25, QRS is fixed.

PPG: a systolic and a reflected (diastolic) Gaussian per beat after the pulse arrival time;
the valley between them is the dicrotic notch.
"""

from __future__ import annotations

import numpy as np

from .beats import AF, PVC

# ECGSYN Table 1: P, Q, R, S, T.
_THETA = np.array([-np.pi / 3, -np.pi / 12, 0.0, np.pi / 12, np.pi / 2])
_A = np.array([1.2, -5.0, 30.0, -7.5, 0.75])
_B = np.array([0.25, 0.1, 0.1, 0.1, 0.4])
NORMAL_OFFSET_S = _THETA / (2 * np.pi)          # at 60 bpm, omega = 2 pi rad/s
NORMAL_SIGMA_S = _B / (2 * np.pi)
NORMAL_AMP_MV = _A * _B**2 / (_A[2] * _B[2]**2)  # R wave = 1 mV before the device gain
# A premature ventricular beat: no P, wide bizarre QRS (~170 ms), discordant T wave.
PVC_OFFSET_S = np.array([0.0, -0.05, 0.0, 0.075, 0.33])
PVC_SIGMA_S = np.array([0.05, 0.03, 0.045, 0.035, 0.08])
PVC_AMP_MV = np.array([0.0, -0.25, 1.25, -0.6, -0.5])

def ecg_waves(times: np.ndarray, kinds: np.ndarray, rr_prev: np.ndarray, gain: float,
              qrs_mod: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-beat (centre s, sigma s, amplitude mV) of the five waves, shape (beats, 5)."""
    rr = np.clip(rr_prev, 0.3, 2.0)[:, None]
    scale = np.ones((len(times), 5))
    scale[:, 0:1] = rr**0.25
    scale[:, 4:5] = rr**0.5
    offset = NORMAL_OFFSET_S * scale
    sigma = NORMAL_SIGMA_S * np.where(scale == 1, 1.0, scale)
    amp = np.tile(NORMAL_AMP_MV, (len(times), 1))
    amp[:, 1:4] *= qrs_mod[:, None]
    amp[kinds == AF, 0] = 0.0  # atria fibrillate: no P wave
    pvc = kinds == PVC
    offset[pvc], sigma[pvc], amp[pvc] = PVC_OFFSET_S, PVC_SIGMA_S, PVC_AMP_MV
    return times[:, None] + offset, sigma, amp * gain


def ppg_waves(times: np.ndarray, kinds: np.ndarray, rr_prev: np.ndarray,
              amp_mod: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-beat systolic and diastolic Gaussians, shape (beats, 2). Pulse strength follows the
    filling time (Frank-Starling): short RR (PVC, fast AF beats) gives a weak pulse."""
    rr = np.clip(rr_prev, 0.3, 2.0)
    arrival = 0.16 + 0.08 * rr                         # pulse arrival time to the wrist, s
    s = np.sqrt(rr)[:, None]
    offset = arrival[:, None] + np.array([0.11, 0.32]) * s
    sigma = np.array([0.05, 0.07]) * s
    typical = np.median(rr) if len(rr) else 1.0
    strength = np.clip(rr / typical, 0.3, 1.3)
    strength[kinds == PVC] *= 0.5
    amp = np.array([1.0, 0.45]) * (strength * amp_mod)[:, None]
    return times[:, None] + offset, sigma, amp


def render(t: np.ndarray, beat_times: np.ndarray, centre: np.ndarray, sigma: np.ndarray,
           amp: np.ndarray) -> np.ndarray:
    """Sum every Gaussian over +-4 sigma around its centre on the uniform grid `t`.

    Waves are grouped by window length so each group is one (waves, window) index array
    added with np.bincount: work is proportional to the waves' support, not to samples x beats.
    """
    out = np.zeros(t.size)
    if t.size == 0 or centre.size == 0:
        return out
    fs = (t.size - 1) / (t[-1] - t[0]) if t.size > 1 else 1.0
    c, s, a = centre.ravel(), sigma.ravel(), amp.ravel()
    keep = (a != 0) & (c + 4 * s >= t[0]) & (c - 4 * s <= t[-1])
    c, s, a = c[keep], s[keep], a[keep]
    half = np.ceil(4 * s * fs / 8).astype(int) * 8          # window half-widths, buckets of 8
    for h in np.unique(half):
        sel = half == h
        first = np.round((c[sel] - t[0]) * fs).astype(int) - h
        idx = first[:, None] + np.arange(2 * h + 1)          # (waves, window)
        x = t[0] + idx / fs
        w = a[sel, None] * np.exp(-0.5 * ((x - c[sel, None]) / s[sel, None])**2)
        inside = (idx >= 0) & (idx < t.size)
        out += np.bincount(idx[inside], w[inside], minlength=t.size)
    return out
