"""Exact lookup tables for a tree ensemble over two bounded inputs.

Why: the Monte Carlo search evaluates the same power model at hundreds of thousands of points, and
XGBoost answers small batches at about 0.5 ms a call and big ones at about 0.5 M rows/s. A tree
ensemble over (flow, pressure) is piecewise constant: every tree sends a point left when
`float32(x) < threshold`, so all points between two consecutive thresholds of each feature follow
the same paths through every tree and get the same leaves - bit for bit the same prediction. We
read every split threshold from the booster's UBJ model (float32, bit-exact), map each point to its cell with
`np.searchsorted`, ask XGBoost once for each cell that is actually hit (at a representative point
inside it), and answer by gathering. Results are bit-identical to `booster.inplace_predict`.

Cells are filled lazily: the full grid of a 256-bin model is about 65k cells per configuration, but
a request touches only the cells its draws fall in.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import xgboost as xgb

from . import ubjson

PredictCells = Callable[[np.ndarray, np.ndarray], np.ndarray]


def split_thresholds(model: xgb.Booster | bytes, features: tuple[int, ...] = (0, 1)) -> list[np.ndarray]:
    """Sorted unique float32 split thresholds of each feature in `features`.

    `model` is a Booster or its UBJ bytes (as saved; reading the file's bytes avoids serialising
    the booster again). Splits on other features are allowed only when their input is constant
    per table (e.g. the shared layout's one-hot configuration columns); the caller guarantees that.
    """
    raw = bytes(model.save_raw("ubj")) if isinstance(model, xgb.Booster) else bytes(model)
    trees = ubjson.loads(raw)["learner"]["gradient_booster"]["model"]["trees"]
    found: dict[int, list[np.ndarray]] = {f: [] for f in features}
    for tree in trees:
        if np.any(np.asarray(tree.get("split_type", []), dtype=np.int64) != 0):
            raise ValueError("categorical splits are not supported by the lookup table")
        inner = np.asarray(tree["left_children"]) != -1
        indices = np.asarray(tree["split_indices"])
        conditions = np.asarray(tree["split_conditions"], dtype=np.float32)
        for f in features:
            found[f].append(conditions[inner & (indices == f)])
    return [np.unique(np.concatenate(found[f])) if found[f] else np.zeros(0, np.float32) for f in features]


def representatives(thresholds: np.ndarray) -> np.ndarray:
    """One float32 value inside each cell: cell k is [t[k-1], t[k]); cell 0 is everything below t[0]."""
    if len(thresholds) == 0:
        return np.zeros(1, dtype=np.float32)
    first = np.nextafter(thresholds[0], np.float32(-np.inf), dtype=np.float32)
    return np.concatenate([[first], thresholds]).astype(np.float32)


class PiecewiseTable:
    """Exact, lazily filled table of one configuration's power model on its threshold grid."""

    def __init__(self, flow_thresholds: np.ndarray, pressure_thresholds: np.ndarray,
                 predict_cells: PredictCells) -> None:
        """`predict_cells(flow, pressure)` must be the model's own prediction (float32) at points."""
        self.flow_thresholds = np.asarray(flow_thresholds, dtype=np.float32)
        self.pressure_thresholds = np.asarray(pressure_thresholds, dtype=np.float32)
        self._flow_reps = representatives(self.flow_thresholds)
        self._pressure_reps = representatives(self.pressure_thresholds)
        self._predict = predict_cells
        shape = (len(self._flow_reps), len(self._pressure_reps))
        self.values = np.zeros(shape[0] * shape[1], dtype=np.float32)
        self.known = np.zeros(shape[0] * shape[1], dtype=bool)
        self.shape = shape
        self.cells_predicted = 0

    def cells(self, flow: np.ndarray, pressure: np.ndarray) -> np.ndarray:
        """Flat cell index of each point (XGBoost compares the float32 value against thresholds)."""
        flow32 = np.asarray(flow, dtype=np.float64).astype(np.float32)
        pressure32 = np.asarray(pressure, dtype=np.float64).astype(np.float32)
        if np.isnan(flow32).any() or np.isnan(pressure32).any():
            raise ValueError("lookup points must not be NaN")
        i = np.searchsorted(self.flow_thresholds, flow32, side="right")
        j = np.searchsorted(self.pressure_thresholds, pressure32, side="right")
        return i * self.shape[1] + j

    def fill(self, flat_cells: np.ndarray) -> None:
        """Predict every not yet known cell among `flat_cells` in one model call."""
        mark = np.zeros(self.values.shape, dtype=bool)
        mark[flat_cells] = True
        missing = np.flatnonzero(mark & ~self.known)
        if len(missing) == 0:
            return
        i, j = np.divmod(missing, self.shape[1])
        predicted = np.asarray(self._predict(self._flow_reps[i].astype(np.float64),
                                             self._pressure_reps[j].astype(np.float64)))
        self.values[missing] = predicted.astype(np.float32)
        self.known[missing] = True
        self.cells_predicted += len(missing)

    def __call__(self, flow: np.ndarray, pressure: np.ndarray) -> np.ndarray:
        """Predictions at the points, bit-identical to the model's own predict (float32)."""
        flat = self.cells(flow, pressure)
        self.fill(flat.ravel())
        return self.values[flat]
