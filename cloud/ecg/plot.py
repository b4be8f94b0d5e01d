"""Picture of a screener evaluation: confusion matrix and abnormality-score histograms per true label
with the forwarding threshold, so a reviewer sees at a glance what would be missed and what is sent.

matplotlib (Agg backend, no display needed) is imported inside the function only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

COLORS = {"normal": "tab:green", "af": "tab:red", "other": "tab:orange", "noisy": "tab:gray"}


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def plot_evaluation(metrics: dict[str, Any], scores_by_label: Mapping[str, np.ndarray], threshold: float,
                    path: str | Path) -> Path:
    """Write a PNG: left the confusion matrix (rows true, columns predicted, counts and row
    shares), right a histogram of 1 - P(normal) per true label with the threshold line."""
    import matplotlib  # lazy: matplotlib is the optional 'plot' extra
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: matplotlib is the optional 'plot' extra

    labels = metrics["confusion"]["labels"]
    cm = np.asarray(metrics["confusion"]["rows_true_columns_predicted"], dtype=float)
    share = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    fig, (ax_cm, ax_h) = plt.subplots(1, 2, figsize=(13, 5.2), gridspec_kw={"width_ratios": [1, 1.4]})

    ax_cm.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax_cm.set_xticks(range(len(labels)), labels)
    ax_cm.set_yticks(range(len(labels)), labels)
    ax_cm.set_xlabel("screener verdict")
    ax_cm.set_ylabel("ground truth")
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax_cm.text(j, i, f"{int(cm[i, j])}\n{100 * share[i, j]:.0f} %", ha="center", va="center",
                       color="white" if share[i, j] > 0.6 else "black", fontsize=9)
    ax_cm.set_title("confusion (windows, share of true label)")

    bins = np.linspace(0, 1, 41)
    for label in labels:
        scores = np.asarray(scores_by_label.get(label, []), dtype=float)
        if scores.size:
            ax_h.hist(scores, bins=bins, histtype="step", linewidth=1.8, color=COLORS.get(label),
                      label=f"{label} (n={scores.size})")
    ax_h.axvline(threshold, color="black", linestyle="--", label=f"forward at >= {threshold:.3f}")
    ax_h.set_yscale("log")
    ax_h.set_xlabel("abnormality score 1 - P(normal)")
    ax_h.set_ylabel("windows")
    ax_h.legend(loc="upper center")
    ax_h.set_title("scores by true label")

    spec = metrics.get("evaluation", {})
    fig.suptitle(f"ECG screener: sensitivity (non-normal forwarded) {_pct(metrics.get('sensitivity_non_normal'))}, "
                 f"normal forwarded {_pct(metrics.get('normal_forwarded_fraction'))}, "
                 f"transition windows forwarded {_pct(metrics.get('transition_forwarded_fraction'))}\n"
                 f"held-out devices: seed {spec.get('seed')}, {spec.get('devices')} x {spec.get('minutes')} min, "
                 f"mix {spec.get('mix')}", fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
