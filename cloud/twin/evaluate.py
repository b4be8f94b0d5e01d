"""The reference's offline grid ("simulate") and evaluation of a twin against the plant's oracle.

Evaluation of one request range: the twin recommends its first-ranked configuration for the whole
range. On the closed integer lattice of the range (or an 11 x 11 grid for real-valued bounds) we
compare true mean power (Plant.true_power, noise-free, current wear) of

  twin      its configuration at every point (infeasible if the plant cannot run it somewhere),
  oracle    Plant.oracle_config at each point (the least true power a perfect operator reaches),
  baseline  Plant.staging_config at each point (the plant's switch-point staging rule).

Metrics over the grid: mean regret (twin - oracle) / oracle in %, count of infeasible
recommendations, and savings capture sum(baseline - twin) / sum(baseline - oracle). Because a
range gets one configuration while the oracle may switch inside it, part of the regret is
structural; `best_single_regret_pct` reports the regret of the best single configuration too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np

from edgeloop.components.digital_twin.model import PowerModel
from edgeloop.components.digital_twin.optimizer import Optimizer, Ranking
from edgeloop.components.digital_twin.request import Request

REFERENCE_FLOW_PAIRS = tuple((f, f + 20) for f in range(180, 450, 20))
REFERENCE_PRESSURE_PAIRS = tuple((p, p + 5) for p in range(50, 75, 5))
TARGETS = {"mean_regret_pct": 1.0, "infeasible": 0, "savings_capture": 0.90}



class PlantOracle(Protocol):
    @property
    def configurations(self) -> list[str]: ...

    def true_power(self, config: str, flow: np.ndarray, pressure: np.ndarray) -> np.ndarray: ...
    def oracle_config(self, flow: float, pressure: float) -> str: ...
    def staging_config(self, flow: float, pressure: float) -> str: ...


def reference_grid(simulations: int = 100, no_of_trials: int = 10, train_error_weight: float = 1.0) -> list[Request]:
    """The reference's offline grid: flow pairs [180, 200] .. [440, 460], pressure [50, 55] .. [70, 75]."""
    return [Request(flow, pressure, simulations, no_of_trials, train_error_weight)
            for flow in REFERENCE_FLOW_PAIRS for pressure in REFERENCE_PRESSURE_PAIRS]


def simulate(model: PowerModel | Optimizer, requests: Sequence[Request] | None = None,
             seed: int | None = 0) -> list[Ranking]:
    """Rank every request of the grid (the reference's offline "simulate"), seeded."""
    optimizer = model if isinstance(model, Optimizer) else Optimizer(model)
    return optimizer.rank_many(list(requests if requests is not None else reference_grid()), seed)


def evaluation_points(request: Request) -> tuple[np.ndarray, np.ndarray]:
    def axis(lo: float, hi: float) -> np.ndarray:
        if float(lo).is_integer() and float(hi).is_integer():
            return np.arange(lo, hi + 1, dtype=np.float64)
        return np.linspace(lo, hi, 11)
    flow, pressure = np.meshgrid(axis(*request.flow), axis(*request.pressure), indexing="ij")
    return flow.ravel(), pressure.ravel()


@dataclass(frozen=True)
class RequestOutcome:
    flow: tuple[float, float]
    pressure: tuple[float, float]
    twin: str | None
    twin_kw: float | None
    oracle_kw: float
    baseline_kw: float
    best_single: str | None
    best_single_kw: float | None
    feasible: bool


@dataclass
class Evaluation:
    outcomes: list[RequestOutcome]
    mean_regret_pct: float
    best_single_regret_pct: float
    infeasible: int
    unanswered: int
    savings_capture: float
    baseline_savings_pct: float

    def meets_targets(self) -> dict[str, bool]:
        return {"mean_regret_pct": self.mean_regret_pct <= TARGETS["mean_regret_pct"],
                "infeasible": self.infeasible <= TARGETS["infeasible"],
                "savings_capture": self.savings_capture >= TARGETS["savings_capture"]}

    def summary(self) -> dict[str, Any]:
        return {"requests": len(self.outcomes), "mean_regret_pct": self.mean_regret_pct,
                "best_single_regret_pct": self.best_single_regret_pct, "infeasible": self.infeasible,
                "unanswered": self.unanswered, "savings_capture": self.savings_capture,
                "baseline_savings_pct": self.baseline_savings_pct, "targets": TARGETS,
                "meets_targets": self.meets_targets()}

    def to_dict(self) -> dict[str, Any]:
        return {**self.summary(), "outcomes": [asdict(o) for o in self.outcomes]}


def _pointwise_mean_power(plant: PlantOracle, rule: str, flow: np.ndarray, pressure: np.ndarray) -> float:
    """Mean true power when `rule` ("oracle" or "staging") picks the configuration at each point.

    Uses the plant's vectorised `<rule>_configs` when it has one (edgeloop's Plant does), else the
    contract's per-point `<rule>_config`.
    """
    many = getattr(plant, f"{rule}_configs", None)
    if many is not None:
        chosen = np.asarray(many(flow) if rule == "staging" else many(flow, pressure), dtype=object)
    else:
        one = getattr(plant, f"{rule}_config")
        chosen = np.array([one(float(f), float(p)) for f, p in zip(flow, pressure, strict=True)], dtype=object)
    power = np.empty(len(flow))
    for name in set(chosen.tolist()):
        rows = chosen == name
        power[rows] = plant.true_power(name, flow[rows], pressure[rows])
    return float(power.mean())


def evaluate(model: PowerModel, plant: PlantOracle, requests: Sequence[Request] | None = None,
             seed: int | None = 0, advance: Callable[[str], None] | None = None,
             rankings: Sequence[Ranking] | None = None) -> Evaluation:
    """Score the twin's recommendations on a grid of request ranges against the plant."""
    requests = list(requests if requests is not None else reference_grid())
    rankings = list(rankings) if rankings is not None else simulate(model, requests, seed)
    outcomes = []
    for request, ranking in zip(requests, rankings, strict=True):
        flow, pressure = evaluation_points(request)
        oracle = _pointwise_mean_power(plant, "oracle", flow, pressure)
        baseline = _pointwise_mean_power(plant, "staging", flow, pressure)
        singles = {c: float(np.mean(plant.true_power(c, flow, pressure))) for c in plant.configurations}
        singles = {c: v for c, v in singles.items() if np.isfinite(v)}
        best = min(singles, key=lambda c: singles[c]) if singles else None
        twin = ranking.ranked[0].config if ranking.ranked else None
        twin_kw = None
        feasible = True
        if twin is not None:
            power = plant.true_power(twin, flow, pressure)
            feasible = bool(np.all(np.isfinite(power)))
            twin_kw = float(power.mean()) if feasible else None
        outcomes.append(RequestOutcome(request.flow, request.pressure, twin, twin_kw, oracle, baseline,
                                       best, singles.get(best) if best else None, feasible))
        if advance:
            advance(f"flow {request.flow[0]:g}-{request.flow[1]:g}")
    scored = [(o, o.twin_kw) for o in outcomes if o.twin_kw is not None]
    regret = [100 * (twin_kw - o.oracle_kw) / o.oracle_kw for o, twin_kw in scored]
    single = [100 * (o.best_single_kw - o.oracle_kw) / o.oracle_kw for o in outcomes if o.best_single_kw]
    possible = sum(o.baseline_kw - o.oracle_kw for o, _ in scored)
    captured = sum(o.baseline_kw - twin_kw for o, twin_kw in scored)
    baseline_total = sum(o.baseline_kw for o, _ in scored)
    return Evaluation(
        outcomes=outcomes,
        mean_regret_pct=float(np.mean(regret)) if regret else float("nan"),
        best_single_regret_pct=float(np.mean(single)) if single else float("nan"),
        infeasible=sum(1 for o in outcomes if not o.feasible),
        unanswered=sum(1 for o in outcomes if o.twin is None),
        savings_capture=captured / possible if possible > 0 else float("nan"),
        baseline_savings_pct=100 * possible / baseline_total if baseline_total else float("nan"),
    )
