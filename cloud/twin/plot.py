"""Pictures of the twin: predicted power curves per configuration vs flow, with the recommendation.

matplotlib (Agg backend, no display needed) is imported here only, so the rest of the twin does not
depend on it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgeloop.components.digital_twin.model import PowerModel
from edgeloop.components.digital_twin.optimizer import Ranking

from .evaluate import Evaluation, PlantOracle


def _pyplot():
    import matplotlib  # lazy: matplotlib is the optional 'plot' extra
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: matplotlib is the optional 'plot' extra
    return plt


def _curve(model: PowerModel, config: str, lo: float, hi: float, pressure: float,
           weight: float) -> tuple[np.ndarray, np.ndarray]:
    b_lo, b_hi = model.boundaries_[config]
    flow = np.linspace(max(lo, b_lo), min(hi, b_hi), 200)
    power = model.predict(config, flow, np.full_like(flow, pressure)).astype(float)
    return flow, power + weight * model.test_mae_[config]


def plot_request(model: PowerModel, ranking: Ranking, path: str | Path) -> Path:
    """Energy per sample (predicted kW + margin) vs flow at mid pressure; request range shaded."""
    plt = _pyplot()
    req = ranking.request
    pad = max(20.0, req.flow[1] - req.flow[0])
    pressure = sum(req.pressure) / 2
    fig, ax = plt.subplots(figsize=(9, 5.5))
    best = ranking.ranked[0].config if ranking.ranked else None
    for entry in ranking.ranked:
        flow, power = _curve(model, entry.config, req.flow[0] - pad, req.flow[1] + pad, pressure,
                             req.train_error_weight)
        ax.plot(flow, power, lw=3 if entry.config == best else 1, alpha=1 if entry.config == best else 0.7,
                label=f"{entry.config}: {entry.energy_per_sample:.1f} kW ({entry.wins}/{entry.trials} wins)")
    ax.axvspan(*req.flow, color="0.85", zorder=0, label="requested flow")
    ax.set_xlabel("flow (cfm)")
    ax.set_ylabel("predicted power + margin (kW)")
    ax.set_title(f"twin recommendation for flow {req.flow[0]:g}-{req.flow[1]:g} cfm, "
                 f"pressure {req.pressure[0]:g}-{req.pressure[1]:g} psig: {best or 'none feasible'}")
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_evaluation(model: PowerModel, plant: PlantOracle, evaluation: Evaluation, path: str | Path) -> Path:
    """Top: predicted curves per configuration and the true oracle at mid pressure, with the twin's
    pick per flow range. Bottom: baseline, twin and oracle true power per flow range."""
    plt = _pyplot()
    outcomes = evaluation.outcomes
    pressures = sorted({o.pressure for o in outcomes})
    mid = pressures[len(pressures) // 2]
    pressure = sum(mid) / 2
    lo = min(o.flow[0] for o in outcomes)
    hi = max(o.flow[1] for o in outcomes)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 9), sharex=True)
    colors = {}
    for config in model.configurations_:
        flow, power = _curve(model, config, lo, hi, pressure, 0.0)
        line, = top.plot(flow, power, lw=1, label=config)
        colors[config] = line.get_color()
    grid = np.linspace(lo, hi, 300)
    table = np.stack([plant.true_power(c, grid, np.full_like(grid, pressure)) for c in plant.configurations])
    top.plot(grid, np.nanmin(table, axis=0), "k--", lw=1.5, label="true oracle")
    for o, twin in ((o, o.twin) for o in outcomes if o.pressure == mid and o.twin):
        x = sum(o.flow) / 2
        y = float(model.predict(twin, x, pressure))
        top.plot(x, y, "o", ms=9, mec="k", color=colors.get(twin, "k"))
        top.annotate(twin, (x, y), textcoords="offset points", xytext=(0, 9), ha="center", fontsize=7)
    top.set_ylabel("predicted power (kW)")
    top.set_title(f"twin power curves at {pressure:g} psig; dots: recommendation per flow range")
    top.legend(fontsize=7, ncol=3)
    flows = sorted({o.flow for o in outcomes})
    xs = [sum(f) / 2 for f in flows]
    for key, style, label in (("baseline_kw", "s-", "staging rule (baseline)"), ("twin_kw", "o-", "twin"),
                              ("oracle_kw", "k--", "oracle")):
        ys = []
        for f in flows:
            values = [getattr(o, key) for o in outcomes if o.flow == f and getattr(o, key) is not None]
            ys.append(np.mean(values) if values else np.nan)
        bottom.plot(xs, ys, style, label=label)
    bottom.set_xlabel("flow (cfm)")
    bottom.set_ylabel("true power, mean over pressure ranges (kW)")
    bottom.set_title(f"regret {evaluation.mean_regret_pct:.2f} %, savings capture "
                     f"{100 * evaluation.savings_capture:.1f} %, infeasible {evaluation.infeasible}")
    bottom.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
