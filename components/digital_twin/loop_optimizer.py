"""The reference-style search loop: one model predict call per trial and configuration.

Kept as the executable specification of optimizer.py (same draws, same rules, no lookup tables,
no vectorisation): tests and bench/twin_optimizer_bench.py assert that the vectorised optimizer
gives identical rankings. It fixes the reference's defects the same way (margin applied, inclusive
bounds via the shared draws, boundary check on the real-valued range).
"""

from __future__ import annotations

import numpy as np

from .model import PowerModel
from .optimizer import Draws, RankedConfiguration, feasibility, trial_energy
from .request import Request


def loop_rank(model: PowerModel, request: Request, draws: Draws) -> list[RankedConfiguration]:
    feasible, _ = feasibility(model, request)
    remaining = list(feasible)
    ranked = []
    for r in range(len(feasible)):
        wins: dict[str, int] = {}
        best: dict[str, float] = {}
        for t in range(request.no_of_trials):
            flow, pressure = draws.flow[r, t], draws.pressure[r, t]
            energy = {}
            for name in remaining:
                margin = request.train_error_weight * model.test_mae_[name]
                energy[name] = float(trial_energy(model.predict(name, flow, pressure), margin))
            winner = min(remaining, key=lambda n: energy[n])   # first minimum in canonical order
            wins[winner] = wins.get(winner, 0) + 1
            best[winner] = min(best.get(winner, np.inf), energy[winner])
        order = {name: i for i, name in enumerate(remaining)}
        choice = min(wins, key=lambda n: (-wins[n], best[n], order[n]))
        ranked.append(RankedConfiguration(choice, best[choice], wins[choice], request.no_of_trials))
        remaining.remove(choice)
    return ranked
