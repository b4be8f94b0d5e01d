"""Beat timing: sinus rhythm with heart-rate variability, AF, frequent PVCs and bigeminy.

Sinus RR follows the instantaneous rate HR·(1 + v(t)) where v has ECGSYN's bimodal spectrum
(McSharry et al. 2003): a Mayer-wave peak at 0.1 Hz and a respiratory (RSA) peak at the
device's breathing rate, LF/HF power 0.5. v is a sum of sinusoids with frequencies drawn from
those two Gaussians, so it is a closed-form function of time (continuous across stream blocks).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SINUS, PVC, AF = 0, 1, 2
MIN_RR_S = 0.28


@dataclass
class Hrv:
    """Relative rate fluctuation v(t): bimodal spectrum, standard deviation `std`."""

    freqs: np.ndarray
    amps: np.ndarray
    phases: np.ndarray

    @classmethod
    def draw(cls, rng: np.random.Generator, resp_hz: float, std: float = 0.035,
             lf_hf: float = 0.5, n: int = 24) -> Hrv:
        lf = rng.normal(0.1, 0.01, n)
        hf = rng.normal(resp_hz, 0.01, n)
        var_lf, var_hf = std**2 * lf_hf / (1 + lf_hf), std**2 / (1 + lf_hf)
        amps = np.r_[np.full(n, np.sqrt(2 * var_lf / n)), np.full(n, np.sqrt(2 * var_hf / n))]
        return cls(np.r_[lf, hf], amps, rng.uniform(0, 2 * np.pi, 2 * n))

    def __call__(self, t: float) -> float:
        return float(np.dot(self.amps, np.sin(2 * np.pi * self.freqs * t + self.phases)))


@dataclass
class BeatTrain:
    """R-wave times (s), beat kind (SINUS/PVC/AF) and the RR interval preceding each beat."""

    times: list[float] = field(default_factory=list)
    kinds: list[int] = field(default_factory=list)
    rr_prev: list[float] = field(default_factory=list)

    def add(self, t: float, kind: int) -> None:
        rr = t - self.times[-1] if self.times else 1.0
        self.times.append(t)
        self.kinds.append(kind)
        self.rr_prev.append(rr)

    def drop_before(self, t: float) -> None:
        """Forget beats older than `t` (a live stream runs for days)."""
        k = int(np.searchsorted(self.times, t))
        if k > 0:
            del self.times[:k], self.kinds[:k], self.rr_prev[:k]

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (np.asarray(self.times), np.asarray(self.kinds, dtype=np.int8),
                np.asarray(self.rr_prev))


def step(train: BeatTrain, rhythm: str, hr: float, hrv: Hrv, rng: np.random.Generator) -> None:
    """Append the next beat(s) after the last one, following `rhythm` at mean rate `hr`."""
    last = train.times[-1]
    sinus_rr = max(MIN_RR_S, 60.0 / (hr * (1.0 + hrv(last))))
    if rhythm == "af":
        # Irregularly irregular ventricular response: gamma RR, coefficient of variation ~0.25.
        rr = max(MIN_RR_S, float(rng.gamma(16.0, 60.0 / hr / 16.0)))
        train.add(last + rr, AF)
        return
    ectopic = rhythm == "bigeminy" or (rhythm == "pvc" and train.kinds[-1] != PVC
                                       and rng.random() < 0.25)
    if ectopic:
        # Premature ventricular beat at 55-65 % coupling; the sinus node is not reset, so the
        # next sinus beat keeps its schedule: a fully compensatory pause.
        train.add(last + sinus_rr * float(rng.uniform(0.55, 0.65)), PVC)
        train.add(last + 2 * sinus_rr, SINUS)
    else:
        train.add(last + sinus_rr, SINUS)
