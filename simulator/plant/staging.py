"""The switch-point staging rule: the plant's default behaviour and the savings baseline.

Like the reference's `create_staging_table`, the rule is a table of flow switch points built
from the configurations' boundaries alone; it knows nothing about pressure or part-load
efficiency, which is exactly why a twin can beat it. Sets are ranked by capacity (then fewer
units, then name, the installer's lead/lag order); at a given flow the rule runs the first
ranked set that can start at that flow (flow >= lo) and still has headroom (flow <= margin x hi).
When no set has headroom it runs the largest set that can still deliver.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

import numpy as np


class StagingRule:
    """Flow -> configuration, vectorised; raises for flow no configuration can deliver."""

    def __init__(self, boundaries: Mapping[str, tuple[float, float]], switch_margin: float,
                 unit_count: Mapping[str, int]) -> None:
        self.boundaries = dict(boundaries)
        self.switch_margin = switch_margin
        self.order = sorted(self.boundaries,
                            key=lambda c: (self.boundaries[c][1], unit_count[c], c))

    def choose(self, flow: np.ndarray | float) -> np.ndarray:
        """Configuration name per flow; ValueError names any flow outside every boundary."""
        q = np.atleast_1d(np.asarray(flow, dtype=float))
        chosen = np.full(q.shape, "", dtype=object)
        for config in reversed(self.order):  # fallback: largest set that can deliver
            lo, hi = self.boundaries[config]
            chosen = np.where((chosen == "") & (q >= lo) & (q <= hi), config, chosen)
        preferred = np.full(q.shape, "", dtype=object)
        for config in reversed(self.order):  # first ranked set with headroom wins
            lo, hi = self.boundaries[config]
            preferred = np.where((q >= lo) & (q <= self.switch_margin * hi), config, preferred)
        chosen = np.where(preferred != "", preferred, chosen)
        bad = chosen == ""
        if bad.any():
            lo = min(b[0] for b in self.boundaries.values())
            hi = max(b[1] for b in self.boundaries.values())
            raise ValueError(f"flow {q[bad][0]:g} cfm is outside every configuration's "
                             f"boundary (plant range {lo:g}..{hi:g} cfm)")
        return chosen

    def table(self) -> list[tuple[float, float, str]]:
        """The rule as switch points: [(from_cfm, to_cfm, config), ...] over the plant range."""
        points = sorted({p for lo, hi in self.boundaries.values()
                         for p in (lo, hi, self.switch_margin * hi)})
        rows: list[tuple[float, float, str]] = []
        for a, b in itertools.pairwise(points):
            config = str(self.choose((a + b) / 2)[0])
            if rows and rows[-1][2] == config:
                rows[-1] = (rows[-1][0], b, config)
            else:
                rows.append((a, b, config))
        return rows
