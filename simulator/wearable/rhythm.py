"""Rhythm episodes of a device's stream and the 4-class label policy of the screener.

Label policy (what the gateway's 4-class screener is scored against):
  normal  sinus rhythm at 40..150 bpm, i.e. including sinus tachycardia (100-150) and sinus
          bradycardia (40-60): a rate change with normal conduction is not what the screener
          must escalate, exactly as single-lead AF screeners treat it.
  af      atrial fibrillation (irregularly irregular RR, no P waves, f-waves).
  other   any other rhythm: frequent PVCs / ventricular bigeminy, and sinus rhythm at an
          extreme rate (< 40 or > 150 bpm) that needs attention although it is not AF.
          PVC episodes vary as real ones do (beats.Ectopy: burden, couplets, coupling, pauses;
          waves.ectopic_foci: 1-3 morphologies per wearer), whatever their burden.
  noisy   a stream whose artifact (mains hum, large baseline wander, motion bursts, lead off)
          makes the rhythm unreadable, whatever the rhythm underneath.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .mix import Mix

RHYTHMS = ("sinus", "af", "pvc", "bigeminy")
ARTIFACTS = ("hum", "wander", "motion", "lead_off")
LABELS = ("normal", "af", "other", "noisy")


@dataclass(frozen=True)
class Episode:
    """`duration_s` of one rhythm at mean rate `hr` (bpm), optionally under a heavy artifact."""

    rhythm: str
    duration_s: float
    hr: float = 72.0
    artifact: str | None = None

    def __post_init__(self) -> None:
        if self.rhythm not in RHYTHMS:
            raise ValueError(f"episode rhythm {self.rhythm!r}: expected one of {RHYTHMS}")
        if self.artifact is not None and self.artifact not in ARTIFACTS:
            raise ValueError(f"episode artifact {self.artifact!r}: expected one of {ARTIFACTS}")
        if not self.duration_s > 0:
            raise ValueError(f"episode duration_s {self.duration_s!r}: must be positive")
        if not 25.0 <= self.hr <= 220.0:
            raise ValueError(f"episode hr {self.hr!r}: expected 25..220 bpm")

    @property
    def label(self) -> str:
        return label_for(self.rhythm, self.hr, self.artifact)


def label_for(rhythm: str, hr: float, artifact: str | None = None) -> str:
    """The screener class of an episode (policy in the module docstring)."""
    if artifact is not None:
        return "noisy"
    if rhythm == "af":
        return "af"
    if rhythm in ("pvc", "bigeminy"):
        return "other"
    return "normal" if 40.0 <= hr <= 150.0 else "other"


def random_episode(rng: np.random.Generator, mix: Mix,
                   duration_s: tuple[float, float] = (20.0, 120.0)) -> Episode:
    """One episode whose condition is drawn from `mix` (fractions of time, as episodes are
    drawn with the same length distribution whatever the condition)."""
    names = list(mix.as_dict())
    probs = np.array(list(mix.as_dict().values()))
    condition = names[rng.choice(len(names), p=probs / probs.sum())]
    length = float(rng.uniform(*duration_s))
    if condition == "af":
        return Episode("af", length, hr=float(rng.uniform(75, 140)))
    if condition == "pvc":
        # ectopy comes at rest and with exertion, so at any sinus rate from bradycardia to 120 bpm
        return Episode(str(rng.choice(["pvc", "bigeminy"])), length, hr=float(rng.uniform(55, 120)))
    hr = _sinus_rate(rng)
    if condition == "noisy":
        return Episode("sinus", length, hr=hr, artifact=str(rng.choice(ARTIFACTS)))
    return Episode("sinus", length, hr=hr)


def _sinus_rate(rng: np.random.Generator) -> float:
    """Mostly resting rates, with sinus tachycardia and bradycardia episodes."""
    band = rng.choice(3, p=[0.7, 0.15, 0.15])
    low, high = [(58.0, 100.0), (100.0, 140.0), (45.0, 58.0)][band]
    return float(rng.uniform(low, high))


def intervals(episodes: list[Episode], start_s: float = 0.0) -> list[tuple[float, float, str]]:
    """[start, end) intervals with labels; adjacent episodes of one label are merged."""
    out: list[tuple[float, float, str]] = []
    t = start_s
    for ep in episodes:
        end = t + ep.duration_s
        if out and out[-1][2] == ep.label and abs(out[-1][1] - t) < 1e-9:
            out[-1] = (out[-1][0], end, ep.label)
        else:
            out.append((t, end, ep.label))
        t = end
    return out
