"""Monte Carlo ranking of plant configurations for a request (the reference's semantics, fixed).

Definitions (the contract every implementation here, and the reference-style loop, follows):

* Draws. Round r (r = 0 .. R-1, R = number of feasible configurations) has `no_of_trials` trials;
  trial t draws `simulations` points (flow, pressure) uniformly in the closed request ranges
  (integers lo..hi when both bounds are whole numbers, reals in [lo, hi] otherwise). All rounds'
  draws are taken up front from one numpy Generator: flow array of shape (R, T, n), then pressure.
* Feasible. A configuration is feasible when its boundary [b_lo, b_hi] covers the requested flow
  range: b_lo <= flow_lo and flow_hi <= b_hi. Infeasible configurations are left out of the answer.
* Energy per sample of configuration c in a trial = mean over the trial's n points of the predicted
  power (kW) + train_error_weight x test MAE of c (kW). It is "mean predicted kW per sample
  including the risk margin"; multiply by the sampling interval for energy.
* Trial winner: the least energy per sample among the configurations still in play; an exact tie
  goes to the configuration first in canonical order (c1c2, c1c3, ..., c1c2c3c4).
* Round r ranks one configuration: the one that won the most of its trials; a tie in wins goes to
  the lower best energy, then to canonical order. Its reported value is the lowest energy per
  sample among the trials it won. It is then removed and round r+1 runs on the others.
* The answer is `[{config: energy_per_sample}, ...]` in rank order.

Besides the ranking, each feasible configuration gets its expected energy per sample over all its
R x T trial means with a Student-t confidence interval.

Vectorised: all draws of all rounds are answered at once through exact lookup tables (lookup.py),
so a request costs a few numpy operations instead of R x T x C predict calls.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from .lookup import PiecewiseTable
from .model import PowerModel
from .request import Request


@dataclass(frozen=True)
class Draws:
    """The sample points of one request: arrays of shape (rounds, trials, simulations)."""

    flow: np.ndarray
    pressure: np.ndarray


def _draw_range(rng: np.random.Generator, bounds: tuple[float, float], shape: tuple[int, ...]) -> np.ndarray:
    lo, hi = bounds
    if float(lo).is_integer() and float(hi).is_integer():
        return rng.integers(int(lo), int(hi), size=shape, endpoint=True)
    return rng.uniform(lo, hi, size=shape)


def draw(request: Request, rounds: int, rng: np.random.Generator) -> Draws:
    """All points of a request's rounds (flow first, then pressure; see module docstring)."""
    shape = (rounds, request.no_of_trials, request.simulations)
    flow = _draw_range(rng, request.flow, shape)
    pressure = _draw_range(rng, request.pressure, shape)
    return Draws(flow, pressure)


def feasibility(model: PowerModel, request: Request) -> tuple[list[str], dict[str, str]]:
    """(feasible configurations in canonical order, {excluded configuration: reason})."""
    feasible, excluded = [], {}
    lo, hi = request.flow
    for name in model.configurations_:
        b_lo, b_hi = model.boundaries_[name]
        if b_lo <= lo and hi <= b_hi:
            feasible.append(name)
        else:
            excluded[name] = f"boundary [{b_lo:g}, {b_hi:g}] does not cover flow [{lo:g}, {hi:g}]"
    return feasible, excluded


def trial_energy(predictions: np.ndarray, margin: float) -> np.ndarray:
    """Energy per sample over the last axis (float32 kW predictions) plus the margin (kW).

    Both the vectorised optimizer and the loop call this so their energies agree bit for bit.
    """
    pred = np.ascontiguousarray(predictions, dtype=np.float64)
    return pred.sum(axis=-1) / pred.shape[-1] + margin


@dataclass(frozen=True)
class RankedConfiguration:
    config: str
    energy_per_sample: float  # lowest energy per sample among the trials it won in its round
    wins: int                 # trials won in its round
    trials: int


@dataclass(frozen=True)
class Estimate:
    """Expected energy per sample (kW incl. margin) over all trial means, with a t interval."""

    config: str
    expected: float
    low: float
    high: float
    confidence: float
    trial_means: int


@dataclass
class Ranking:
    request: Request
    ranked: list[RankedConfiguration]
    estimates: dict[str, Estimate]
    excluded: dict[str, str] = field(default_factory=dict)

    def answer(self, decimals: int | None = 1) -> list[dict[str, float]]:
        """The reference's answer shape: `[{config: energy_per_sample}, ...]` in rank order."""
        return [{r.config: (r.energy_per_sample if decimals is None else round(r.energy_per_sample, decimals))}
                for r in self.ranked]

    def to_dict(self) -> dict[str, Any]:
        def finite(x: float) -> float | None:
            return float(x) if np.isfinite(x) else None
        return {
            "request": self.request.to_event(),
            "ranking": [{"config": r.config, "energy_per_sample_kw": r.energy_per_sample, "wins": r.wins,
                         "trials": r.trials} for r in self.ranked],
            "estimates": {c: {"expected_kw": e.expected, "low_kw": finite(e.low), "high_kw": finite(e.high),
                              "confidence": e.confidence, "trial_means": e.trial_means}
                          for c, e in self.estimates.items()},
            "excluded": self.excluded,
        }


def rank_energies(configs: Sequence[str], energies: np.ndarray) -> list[RankedConfiguration]:
    """Apply the round rules to energies of shape (len(configs), rounds, trials); configs canonical."""
    remaining = list(range(len(configs)))
    ranked = []
    for r in range(len(configs)):
        sub = energies[remaining, r, :]                  # (k, T)
        winners = np.argmin(sub, axis=0)                 # first minimum: canonical-order tie-break
        wins = np.bincount(winners, minlength=len(remaining))
        won = winners[None, :] == np.arange(len(remaining))[:, None]
        best = np.where(won, sub, np.inf).min(axis=1)
        choice = min(range(len(remaining)), key=lambda k: (-wins[k], best[k], k))
        ranked.append(RankedConfiguration(configs[remaining[choice]], float(best[choice]), int(wins[choice]),
                                          int(sub.shape[1])))
        del remaining[choice]
    return ranked


@functools.lru_cache(maxsize=256)
def _t_quantile(confidence: float, degrees: int) -> float:
    return float(stats.t.ppf(0.5 + confidence / 2, degrees))


def estimates(configs: Sequence[str], energies: np.ndarray, confidence: float) -> dict[str, Estimate]:
    """Mean and Student-t interval of each configuration's R x T trial means (energies (C, R, T))."""
    means = energies.reshape(len(configs), -1)
    m = means.shape[1]
    expected = means.mean(axis=1)
    if m > 1:
        half = _t_quantile(confidence, m - 1) * means.std(axis=1, ddof=1) / np.sqrt(m)
    else:
        half = np.full(len(configs), np.inf)
    return {name: Estimate(name, float(expected[k]), float(expected[k] - half[k]), float(expected[k] + half[k]),
                           confidence, m) for k, name in enumerate(configs)}


def _unique_points(flow: np.ndarray, pressure: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (flow, pressure) points and each point's index among them.

    Integer draws (the common case) are deduplicated in O(n) on their small lattice; real-valued
    draws are almost all distinct, so they pass through unchanged.
    """
    if flow.dtype.kind == "i" and pressure.dtype.kind == "i" and len(flow):
        f0, p0 = flow.min(), pressure.min()
        width = int(pressure.max() - p0) + 1
        size = (int(flow.max() - f0) + 1) * width
        if size <= 4 * len(flow) + 65536:
            key = (flow - f0) * width + (pressure - p0)
            mark = np.zeros(size, dtype=bool)
            mark[key] = True
            keys = np.flatnonzero(mark)
            position = np.zeros(size, dtype=np.int64)
            position[keys] = np.arange(len(keys))
            uf, up = np.divmod(keys, width)
            return (uf + f0).astype(np.float64), (up + p0).astype(np.float64), position[key]
    return flow.astype(np.float64), pressure.astype(np.float64), np.arange(len(flow))


class Optimizer:
    """Ranks configurations for requests with one model; keeps its lookup tables between requests."""

    def __init__(self, model: PowerModel, confidence: float = 0.95) -> None:
        self.model = model
        self.confidence = confidence
        self._tables: dict[str, PiecewiseTable] = {}

    def table(self, config: str) -> PiecewiseTable:
        if config not in self._tables:
            self._tables[config] = self.model.lookup_table(config)
        return self._tables[config]

    def rank(self, request: Request, seed: int | np.random.Generator | None = None) -> Ranking:
        """Rank for one request; the same seed gives the same draws and the same answer."""
        return self.rank_many([request], seed)[0]

    def rank_many(self, requests: Sequence[Request], seed: int | np.random.Generator | None = None) -> list[Ranking]:
        """Rank several requests, drawing for each in turn from one Generator seeded with `seed`."""
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        draws = [draw(req, len(feasibility(self.model, req)[0]), rng) for req in requests]
        return self.rank_draws(requests, draws)

    def rank_draws(self, requests: Sequence[Request], draws: Sequence[Draws]) -> list[Ranking]:
        """Rank requests on given draws (all predictions of all requests in one pass per configuration)."""
        plans = [feasibility(self.model, req) for req in requests]
        sizes = [d.flow.size for d in draws]
        starts = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        flow = np.concatenate([d.flow.ravel() for d in draws]) if draws else np.zeros(0)
        pressure = np.concatenate([d.pressure.ravel() for d in draws]) if draws else np.zeros(0)
        unique_f, unique_p, inverse = _unique_points(flow, pressure)
        energies: list[dict[str, np.ndarray]] = [{} for _ in requests]
        for name in self.model.configurations_:
            users = [k for k, (feasible, _) in enumerate(plans) if name in feasible]
            if not users:
                continue
            needed = np.zeros(len(unique_f), dtype=bool)
            for k in users:
                needed[inverse[starts[k]:starts[k + 1]]] = True
            index = np.flatnonzero(needed)
            values = np.zeros(len(unique_f), dtype=np.float32)
            values[index] = self.table(name)(unique_f[index], unique_p[index])
            mae = self.model.test_mae_[name]
            for k in users:
                pred = values[inverse[starts[k]:starts[k + 1]]].reshape(draws[k].flow.shape)
                energies[k][name] = trial_energy(pred, requests[k].train_error_weight * mae)
        rankings = []
        for k, request in enumerate(requests):
            feasible, excluded = plans[k]
            if not feasible:
                rankings.append(Ranking(request, [], {}, excluded))
                continue
            stacked = np.stack([energies[k][name] for name in feasible])   # (C, R, T)
            rankings.append(Ranking(request, rank_energies(feasible, stacked),
                                    estimates(feasible, stacked, self.confidence), excluded))
        return rankings
