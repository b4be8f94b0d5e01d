"""ECG and PPG waveforms rendered from a beat train as sums of Gaussians.

ECG: the z-equation of ECGSYN (McSharry et al. 2003), dz/dt = -sum a_i dtheta_i w exp(-dtheta_i^2
/ 2 b_i^2), integrates to z = sum a_i b_i^2 exp(-dtheta_i^2 / 2 b_i^2) when the slow (z - z0)
relaxation is left out. With the paper's Table 1 (P, Q, R, S, T angles, a, b) at 60 bpm that is
a sum of Gaussians in time around each R wave; we place them per beat (so AF beats lose their P
wave and PVCs get their own morphology) instead of integrating the ODE, which keeps rendering
vectorised. T-wave timing and width scale with sqrt(RR) (Bazett), the PR interval with RR^0.25,
the (narrowed, see QRS_NARROWING) QRS is fixed. A PVC is five Gaussians of its own (wide QRS of
either polarity, discordant T), drawn per ectopic focus of the device (`ectopic_foci`); an
end-diastolic PVC fuses with the sinus beat conducted at the same moment.

PPG: a systolic and a reflected (diastolic) Gaussian per beat after the pulse arrival time;
the valley between them is the dicrotic notch.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .beats import AF, PVC, SINUS

# ECGSYN Table 1: P, Q, R, S, T.
_THETA = np.array([-np.pi / 3, -np.pi / 12, 0.0, np.pi / 12, np.pi / 2])
_A = np.array([1.2, -5.0, 30.0, -7.5, 0.75])
_B = np.array([0.25, 0.1, 0.1, 0.1, 0.4])
# Q, R and S 40 % narrower and closer than Table 1 at 60 bpm: a QRS of ~90 ms onset to offset
# (Table 1 gives ~150 ms) and an R wave as steep as in MIT-BIH Holter records, so that a PVC's
# 120-200 ms QRS stands out from the sinus beats by as much as it does in real recordings.
QRS_NARROWING = np.array([1.0, 0.6, 0.6, 0.6, 1.0])
NORMAL_OFFSET_S = _THETA / (2 * np.pi) * QRS_NARROWING  # at 60 bpm, omega = 2 pi rad/s
NORMAL_SIGMA_S = _B / (2 * np.pi) * QRS_NARROWING
NORMAL_AMP_MV = _A * _B**2 / (_A[2] * _B[2]**2)  # R wave = 1 mV before the device gain
FOCI = (1, 2, 3)         # a wearer's number of ectopic foci, with FOCI_P probabilities
FOCI_P = (0.15, 0.45, 0.4)


def _pvc_form(rng: np.random.Generator) -> np.ndarray:
    """One PVC morphology as (offset s, sigma s, amplitude mV) x 5 Gaussians, shape (3, 5).

    No P wave; a wide QRS (120-200 ms onset to offset) of either polarity built from a main
    deflection with an optional initial lobe, terminal lobe (RS / QR / QS shapes) and notch
    (M-shaped complexes), and a T wave discordant to the main deflection.
    """
    sign = 1.0 if rng.random() < 0.55 else -1.0
    qrs = rng.uniform(0.12, 0.20)
    sigma = qrs * rng.uniform(0.2, 0.28)          # main deflection: +-2 sigma spans most of the QRS
    amp = rng.uniform(0.7, 2.2)
    shape = rng.choice(3, p=[0.35, 0.4, 0.25])            # monophasic, biphasic, notched
    terminal = rng.uniform(0.3, 0.9) if shape == 1 else rng.uniform(0.0, 0.2)
    notch = rng.uniform(0.3, 0.7) if shape == 2 else 0.0
    offsets = [rng.choice([-1.0, 1.0]) * rng.uniform(0.15, 0.3) * qrs,   # notch
               -rng.uniform(0.25, 0.45) * qrs,                          # initial lobe
               0.0,                                                      # main deflection
               rng.uniform(0.3, 0.55) * qrs,                             # terminal lobe
               rng.uniform(0.26, 0.40)]                                  # T wave
    sigmas = [0.6 * sigma, rng.uniform(0.4, 0.8) * sigma, sigma, rng.uniform(0.5, 0.9) * sigma,
              rng.uniform(0.055, 0.10)]
    amps = [sign * amp * notch, -sign * amp * rng.uniform(0.0, 0.35), sign * amp,
            -sign * amp * terminal, -sign * amp * rng.uniform(0.2, 0.5)]
    return np.array([offsets, sigmas, amps])


@lru_cache(maxsize=8192)
def ectopic_foci(gain: float) -> tuple[np.ndarray, np.ndarray]:
    """(cumulative probabilities, forms (foci, 3, 5)) of the PVC morphologies of one device.

    How a PVC looks on a single lead depends on where it starts and where the electrodes sit, so
    its 1-3 morphologies (multiform when several foci fire) are a trait of the wearer, like the
    gain. ecg_waves sees the device only through its gain, so the foci are drawn from a
    generator seeded with it: every block of a stream finds the same foci without extra state.
    """
    rng = np.random.default_rng(int(np.float64(gain).view(np.uint64)))
    n = int(rng.choice(FOCI, p=FOCI_P))
    weights = rng.dirichlet(np.full(n, 2.0))
    return np.cumsum(weights), np.stack([_pvc_form(rng) for _ in range(n)])


def unit_hash(t: np.ndarray) -> np.ndarray:
    """A uniform number in [0, 1) per beat time (splitmix64 of the time in microseconds): the same
    beat draws the same focus in every block it is rendered in."""
    x = np.round(np.asarray(t, dtype=np.float64) * 1e6).astype(np.int64).view(np.uint64)
    with np.errstate(over="ignore"):
        x = x + np.uint64(0x9E3779B97F4A7C15)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x = x ^ (x >> np.uint64(31))
    return (x >> np.uint64(11)).astype(np.float64) / float(2**53)


def ventricular_share(kinds: np.ndarray, rr_prev: np.ndarray) -> np.ndarray:
    """Fraction of each beat's QRS-T made by a ventricular focus: 0 sinus/AF, 1 a premature
    PVC, less for an end-diastolic PVC (coupling >= 88 % of the cycle before the preceding sinus
    beat), which fuses with the sinus beat conducted at the same moment (a fusion beat).
    Only the beat and the one before it are looked at, so a beat gets the same share in every
    stream block that renders it (the first beat of a block's history has no predecessor, but
    it ends before the block starts)."""
    share = (kinds == PVC).astype(np.float64)
    k = np.flatnonzero(share[1:] > 0) + 1
    k = k[kinds[k - 1] == SINUS]
    ratio = rr_prev[k] / rr_prev[k - 1]
    share[k] = 1.0 - 0.6 * np.clip((ratio - 0.88) / 0.09, 0.0, 1.0)
    return share


def ecg_waves(times: np.ndarray, kinds: np.ndarray, rr_prev: np.ndarray, gain: float,
              qrs_mod: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-beat (centre s, sigma s, amplitude mV) of ten waves, shape (beats, 10): the
    supraventricular P Q R S T and a ventricular complex, weighted by `ventricular_share`
    (so sinus and AF beats have only the first five, a PVC only the last five and a fusion
    beat both). A PVC's morphology is one of the device's `ectopic_foci`."""
    n = len(times)
    rr = np.clip(rr_prev, 0.3, 2.0)[:, None]
    scale = np.ones((n, 5))
    scale[:, 0:1] = rr**0.25
    scale[:, 4:5] = rr**0.5
    offset = NORMAL_OFFSET_S * scale
    sigma = NORMAL_SIGMA_S * np.where(scale == 1, 1.0, scale)
    amp = np.tile(NORMAL_AMP_MV, (n, 1))
    amp[:, 1:4] *= qrs_mod[:, None]
    amp[kinds == AF, 0] = 0.0  # atria fibrillate: no P wave
    v_offset, v_sigma, v_amp = np.zeros((n, 5)), np.ones((n, 5)), np.zeros((n, 5))
    share = ventricular_share(kinds, rr_prev)
    pvc = np.flatnonzero(share > 0)
    if pvc.size:
        # a premature PVC hides the sinus P wave; a fusion beat keeps it (atria activate as usual)
        amp[pvc, 1:] *= (1.0 - share[pvc])[:, None]
        amp[pvc[share[pvc] >= 1.0], 0] = 0.0
        cum, forms = ectopic_foci(float(gain))
        chosen = forms[np.minimum(np.searchsorted(cum, unit_hash(times[pvc]), side="right"),
                                  len(cum) - 1)]
        v_offset[pvc], v_sigma[pvc] = chosen[:, 0], chosen[:, 1]
        v_amp[pvc] = chosen[:, 2] * (share[pvc] * qrs_mod[pvc])[:, None]
    return (times[:, None] + np.hstack([offset, v_offset]), np.hstack([sigma, v_sigma]),
            np.hstack([amp, v_amp]) * gain)


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
