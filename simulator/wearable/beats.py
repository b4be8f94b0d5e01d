"""Beat timing: sinus rhythm with heart-rate variability, AF, and ventricular ectopy.

Sinus RR follows the instantaneous rate HR·(1 + v(t)) where v has ECGSYN's bimodal spectrum
(McSharry et al. 2003): a Mayer-wave peak at 0.1 Hz and a respiratory (RSA) peak at the
device's breathing rate, LF/HF power 0.5. v is a sum of sinusoids with frequencies drawn from
those two Gaussians, so it is a closed-form function of time (continuous across stream blocks).

Ventricular ectopy is drawn per episode (`Ectopy`), because real PVC episodes differ in more than
their rate: burden 5-50 % of beats, singles, couplets and occasional triplets, a coupling interval
anywhere from clearly premature (45 % of the sinus cycle) to end-diastolic (95 %, the PVC lands
about when the sinus beat would and may fuse with it), and what follows a PVC: a fully
compensatory pause (the sinus node is not reset), an interpolated PVC (a slow sinus beat still
conducts, slightly late, so there is no pause) or a reset sinus node (a pause shorter than
compensatory). Bigeminy keeps one PVC after every sinus beat with the same variety of timing.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SINUS, PVC, AF = 0, 1, 2
MIN_RR_S = 0.28
MIN_COUPLING_S = 0.30   # ventricular refractoriness: no PVC closer than this to the beat before
CONDUCTION_S = 0.32     # a sinus impulse conducts only this long after a ventricular beat


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


@dataclass(frozen=True)
class Ectopy:
    """How the ventricular beats of one PVC or bigeminy episode come.

    burden        target fraction of all beats that are ventricular (bigeminy: 0.5)
    run_lengths   probabilities of a run of 1, 2 (couplet) or 3 (triplet) PVCs
    coupling      mean coupling interval as a fraction of the sinus cycle, and its beat-to-beat SD
    interpolated  probability that a single PVC is interpolated (when the sinus rate allows it)
    reset         probability that a PVC resets the sinus node (pause shorter than compensatory)
    """

    burden: float
    run_lengths: tuple[float, float, float]
    coupling: float
    coupling_sd: float
    interpolated: float
    reset: float

    @classmethod
    def draw(cls, rng: np.random.Generator, rhythm: str) -> Ectopy:
        couplets = float(rng.choice([0.0, rng.uniform(0.02, 0.25)], p=[0.3, 0.7]))
        triplets = float(rng.choice([0.0, rng.uniform(0.01, 0.05)], p=[0.6, 0.4]))
        if rhythm == "bigeminy":
            burden, runs = 0.5, (1.0, 0.0, 0.0)
        else:
            burden, runs = float(rng.uniform(0.05, 0.5)), (1.0 - couplets - triplets, couplets, triplets)
        return cls(burden=burden, run_lengths=runs, coupling=float(rng.uniform(0.45, 0.92)),
                   coupling_sd=float(rng.uniform(0.01, 0.06)),
                   interpolated=float(rng.choice([0.0, rng.uniform(0.1, 0.6)], p=[0.5, 0.5])),
                   reset=float(rng.uniform(0.0, 0.3)))

    def run_probability(self) -> float:
        """Chance that a sinus beat is followed by a ventricular run, giving `burden` overall."""
        mean_run = float(np.dot(self.run_lengths, (1, 2, 3)))
        return min(1.0, self.burden / ((1.0 - self.burden) * mean_run))


@dataclass
class BeatTrain:
    """R-wave times (s), beat kind (SINUS/PVC/AF) and the RR interval preceding each beat, plus
    the ectopy of the episode being generated (drawn when a PVC episode starts)."""

    times: list[float] = field(default_factory=list)
    kinds: list[int] = field(default_factory=list)
    rr_prev: list[float] = field(default_factory=list)
    ectopy: Ectopy | None = None
    episode: tuple[str, float] | None = None   # (rhythm, hr) the ectopy was drawn for

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

    def ectopy_for(self, rhythm: str, hr: float, rng: np.random.Generator) -> Ectopy:
        """The current episode's ectopy; a new episode (rhythm or rate changed) draws its own."""
        if self.ectopy is None or self.episode != (rhythm, hr):
            self.ectopy = Ectopy.draw(rng, rhythm)
            self.episode = (rhythm, hr)
        return self.ectopy


def step(train: BeatTrain, rhythm: str, hr: float, hrv: Hrv, rng: np.random.Generator) -> None:
    """Append the next beat(s) after the last one, following `rhythm` at mean rate `hr`."""
    last = train.times[-1]
    sinus_rr = max(MIN_RR_S, 60.0 / (hr * (1.0 + hrv(last))))
    if rhythm == "af":
        # Irregularly irregular ventricular response: gamma RR, coefficient of variation ~0.25.
        rr = max(MIN_RR_S, float(rng.gamma(16.0, 60.0 / hr / 16.0)))
        train.add(last + rr, AF)
        return
    if rhythm in ("pvc", "bigeminy") and train.kinds[-1] != PVC:
        ectopy = train.ectopy_for(rhythm, hr, rng)
        if rng.random() < ectopy.run_probability():
            _ventricular_run(train, ectopy, sinus_rr, rng)
            return
    train.add(last + sinus_rr, SINUS)


def _ventricular_run(train: BeatTrain, ectopy: Ectopy, sinus_rr: float,
                     rng: np.random.Generator) -> None:
    """One to three PVCs after the last (sinus) beat, then the next conducted sinus beat."""
    last = train.times[-1]
    length = 1 + int(rng.choice(3, p=ectopy.run_lengths))
    ratio = float(np.clip(rng.normal(ectopy.coupling, ectopy.coupling_sd), 0.4, 0.97))
    t = last + max(MIN_COUPLING_S, ratio * sinus_rr)
    train.add(t, PVC)
    for _ in range(length - 1):   # couplet / triplet: the next focus discharge, 0.3-0.55 s later
        t += max(MIN_COUPLING_S, float(rng.uniform(0.3, 0.55)))
        train.add(t, PVC)
    interpolated = last + sinus_rr + float(rng.uniform(0.02, 0.12))  # PR prolonged after the PVC
    mode = rng.random()
    if length == 1 and mode < ectopy.interpolated and interpolated - t >= CONDUCTION_S:
        nxt = interpolated
    elif mode > 1.0 - ectopy.reset:
        nxt = t + sinus_rr * float(rng.uniform(1.0, 1.15))    # sinus node reset by the PVC
    else:
        # Fully compensatory: the sinus node keeps its schedule and the first sinus impulse
        # arriving after the ventricle has recovered conducts.
        k = 2
        while last + k * sinus_rr - t < CONDUCTION_S:
            k += 1
        nxt = last + k * sinus_rr
    train.add(nxt, SINUS)
