"""One wearable: its fixed traits, its rhythm plan over time, and contiguous signal blocks.

`DeviceGenerator.block(n)` returns the next n samples; successive blocks join seamlessly
(beats, HRV and AF baseline are functions of absolute time or carried state), so a live stream
in 1 s chunks and a 10-minute recording come from the same code.
"""

from __future__ import annotations

import numpy as np

from edgeloop.simulator.errors import PlanExhausted

from . import artifacts
from .beats import BeatTrain, Hrv, step
from .mix import Mix
from .rhythm import Episode, random_episode
from .waves import ecg_waves, ppg_waves, render

LOOKAHEAD_S = 1.5


class DeviceGenerator:
    """Signals of one device; episodes come from `plan` (fixed) or are drawn from `mix`."""

    def __init__(self, fs: float, rng: np.random.Generator, mix: Mix | None = None,
                 plan: list[Episode] | None = None) -> None:
        if (mix is None) == (plan is None):
            raise ValueError("give exactly one of mix (random episodes) or plan (fixed)")
        self.fs = fs
        self.rng = rng
        self.mix = mix
        self._plan = list(plan) if plan is not None else None
        self.gain = float(rng.uniform(0.7, 1.4))           # electrode placement, mV per unit
        self.mains_hz = float(rng.choice([50.0, 60.0]))
        self.resp_hz = float(rng.uniform(0.2, 0.33))
        self.phase = float(rng.uniform(0, 2 * np.pi))
        self.seed_id = int(rng.integers(2**31))
        self.hrv = Hrv.draw(rng, self.resp_hz)
        self.episodes: list[tuple[float, Episode]] = []    # (start_s, episode), contiguous
        self._first_live = 0  # episodes before it ended before the current block
        self._next_plan = 0
        self.t = 0.0                                       # start of the next block, s
        self.beats = BeatTrain()
        first = self.episode_at(0.0)
        self.beats.add(-float(rng.uniform(0.2, 60.0 / first.hr)) - 60.0 / first.hr, 0)

    def episode_at(self, t: float) -> Episode:
        """The episode in force at time t, extending the plan as needed."""
        while not self.episodes or self.episodes[-1][0] + self.episodes[-1][1].duration_s <= t:
            start = self.episodes[-1][0] + self.episodes[-1][1].duration_s if self.episodes else 0.0
            if self._plan is not None:
                if self._next_plan >= len(self._plan) and t < start + LOOKAHEAD_S + 1.0:
                    return self.episodes[-1][1]  # beats just past a fixed plan's end
                if self._next_plan >= len(self._plan):
                    raise PlanExhausted(f"rhythm plan covers {start:g} s, signal needs {t:g} s")
                ep = self._plan[self._next_plan]
                self._next_plan += 1
            elif self.mix is not None:
                ep = random_episode(self.rng, self.mix)
            else:
                raise ValueError("a device needs a mix or a plan")  # __init__ refuses this
            self.episodes.append((start, ep))
        for start, ep in reversed(self.episodes):
            if start <= t:
                return ep
        return self.episodes[0][1]

    def _extend_beats(self, until: float) -> None:
        while self.beats.times[-1] < until:
            ep = self.episode_at(max(self.beats.times[-1], 0.0))
            step(self.beats, ep.rhythm, ep.hr, self.hrv, self.rng)

    def block(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """The next n samples of ECG (mV) and PPG (arbitrary units), float32."""
        t = self.t + np.arange(n) / self.fs
        t_end = self.t + n / self.fs
        self.episode_at(t_end - 0.5 / self.fs)
        self._extend_beats(t_end + LOOKAHEAD_S)
        times, kinds, rr_prev = self.beats.arrays()
        resp = np.sin(2 * np.pi * self.resp_hz * times + self.phase)
        jitter = 1 + 0.02 * self.rng.standard_normal(len(times))
        ecg = render(t, times, *ecg_waves(times, kinds, rr_prev, self.gain, (1 + 0.08 * resp) * jitter))
        ppg = render(t, times, *ppg_waves(times, kinds, rr_prev, 1 + 0.1 * resp))
        ecg += artifacts.mild(t, self.rng, self.resp_hz, self.mains_hz, self.phase)
        ppg += 0.2 * np.sin(2 * np.pi * self.resp_hz * t) + 0.01 * self.rng.standard_normal(n)
        self._episode_effects(t, ecg, ppg)
        self.t = t_end
        return ecg.astype(np.float32), ppg.astype(np.float32)

    def _episode_effects(self, t: np.ndarray, ecg: np.ndarray, ppg: np.ndarray) -> None:
        """AF baseline and heavy artifacts on the samples of each episode in this block."""
        for start, ep in self.episodes[self._first_live:]:
            if start + ep.duration_s <= t[0] or start > t[-1]:
                continue
            lo = int(np.searchsorted(t, start))
            hi = int(np.searchsorted(t, start + ep.duration_s))
            seg = t[lo:hi]
            if ep.rhythm == "af":
                # Same f-wave parameters in every block of the episode: seeded by device and start.
                ecg[lo:hi] += artifacts.f_waves(
                    seg, np.random.default_rng([self.seed_id, int(start * 1000)]), self.phase)
            if ep.artifact == "hum":
                ecg[lo:hi] += artifacts.hum(seg, self.rng, self.mains_hz)
            elif ep.artifact == "wander":
                ecg[lo:hi] += artifacts.wander(seg, self.rng)
            elif ep.artifact == "motion":
                ecg[lo:hi] += artifacts.motion(hi - lo, self.fs, self.rng, 0.8)
                ppg[lo:hi] += artifacts.motion(hi - lo, self.fs, self.rng, 1.5)
            elif ep.artifact == "lead_off":
                ecg[lo:hi] = 0.0  # electrode off: the front end reads a flat line

    def forget_past(self) -> None:
        """Drop beats no longer needed and skip old episodes (a live stream runs for days)."""
        self.beats.drop_before(self.t - 3.0)
        while self._first_live < len(self.episodes) - 1:
            start, ep = self.episodes[self._first_live]
            if start + ep.duration_s > self.t:
                break
            self._first_live += 1  # ended before the next block

    def bpm(self, window_s: float = 3.0, at: float | None = None) -> float:
        """The heart rate a wearable would display: mean rate over the beats in the `window_s`
        seconds up to `at` (default: the end of the signal so far). 3 s is the history a live
        stream holds after forget_past, so a chunk's bpm is the same whether the stream is
        generated a chunk or a block at a time."""
        return self.bpms([self.t if at is None else at], window_s)[0]

    def bpms(self, ats: list[float], window_s: float = 3.0) -> list[float]:
        """`bpm` at each time of `ats` (one pass over the beat times for a whole block)."""
        times = np.asarray(self.beats.times)
        lows = np.searchsorted(times, np.asarray(ats) - window_s, side="left").tolist()
        highs = np.searchsorted(times, ats, side="right").tolist()
        return [round(60.0 * (hi - lo - 1) / (times[hi - 1] - times[lo]), 1) if hi - lo >= 2 else 0.0
                for lo, hi in zip(lows, highs, strict=True)]
