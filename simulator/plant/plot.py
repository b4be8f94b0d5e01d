"""A picture of the plant: every configuration's true power against flow at one pressure, with
the staging rule's choice and the oracle's choice drawn over them, and the regret below.

matplotlib is optional (imported here only); without it `plot_power_curves` says how to get it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .plant import Plant


def _pyplot():
    try:
        import matplotlib  # lazy: matplotlib is the optional 'plot' extra
    except ImportError:
        raise RuntimeError("drawing the plant needs matplotlib: pip install matplotlib") from None
    matplotlib.use("Agg")  # files only, no display
    import matplotlib.pyplot as plt  # lazy: matplotlib is the optional 'plot' extra
    return plt


def chosen_power(plant: Plant, configs: np.ndarray, flow: np.ndarray,
                 pressure: float) -> np.ndarray:
    """True power of the configuration chosen at each flow."""
    table = plant.power_table(flow, np.full_like(flow, pressure))
    rows = np.array([plant.configurations.index(c) for c in configs])
    return table[rows, np.arange(len(flow))]


def plot_power_curves(plant: Plant, path: str | Path, pressure: float = 65.0,
                      flow: np.ndarray | None = None) -> Path:
    """Write a PNG and return its path."""
    plt = _pyplot()
    lo, hi = plant.flow_range
    if flow is None:
        flow = np.linspace(max(lo, 170.0), min(hi, 470.0), 301)
    staging = plant.staging_configs(flow)
    oracle = plant.oracle_configs(flow, np.full_like(flow, pressure))
    p_stage = chosen_power(plant, staging, flow, pressure)
    p_oracle = chosen_power(plant, oracle, flow, pressure)

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 8), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1]})
    cmap = plt.get_cmap("tab20")
    for i, config in enumerate(plant.configurations):
        top.plot(flow, plant.true_power(config, flow, np.full_like(flow, pressure)), color=cmap(i), lw=1.2,
                 label=config)
    top.plot(flow, p_stage, color="black", lw=3, ls="--", label="staging rule")
    top.plot(flow, p_oracle, color="crimson", lw=3, alpha=0.6, label="oracle")
    top.set_ylabel("true power, kW")
    top.set_title(f"{len(plant.configurations)} configurations at {pressure:g} psig "
                  f"(age {plant.age_days:g} days)")
    top.legend(ncol=3, fontsize=8)
    top.grid(alpha=0.3)
    bottom.plot(flow, 100.0 * (p_stage - p_oracle) / p_oracle, color="black")
    bottom.set_ylabel("staging regret, %")
    bottom.set_xlabel("flow, cfm")
    bottom.grid(alpha=0.3)
    for a, b, config in plant.staging.table():
        if a < flow[-1] and b > flow[0]:
            bottom.annotate(config, (max(a, flow[0]), 0), fontsize=7, rotation=90,
                            va="bottom", xytext=(2, 2), textcoords="offset points")
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
