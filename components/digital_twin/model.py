"""PowerModel: learned power = f(flow, pressure) per configuration, and its verified artifact.

Shaped like a scikit-learn estimator (hyper-parameters stored as given in the constructor, `fit`
returns self, learned state ends in `_`) so training, tuning and evaluation need no special cases.

Two layouts: "per_config" (one booster per configuration on features flow, pressure) and "shared"
(one booster; the configuration enters as one-hot features). The trainer fits both and keeps the
one with the lower score: the pipeline scores by regret against the plant's oracle, standalone
`edgeloop twin train` by pooled holdout error (see cloud/twin/train.py for why they differ).

Holdout: each configuration's rows are split by time - the last `holdout_fraction` of that
configuration's rows (ties at the cut go to the holdout) - so every holdout row is strictly later
than every training row of its configuration. A single global cut would leave configurations that
were only run early (maintenance swaps) without a holdout. Hourly plant data is autocorrelated, so a
random split would report an optimistic error (the reference's defect). The holdout MAE is the
risk margin the optimizer adds; with `refit=True` the shipped boosters are then refit on all rows,
so the newest wear state is in the model.

Artifact directory: `metadata.json` plus XGBoost UBJ model files (never pickle: a pickle from the
network runs code when loaded). metadata records each model file's SHA-256; `load` hashes the bytes
it loads and refuses a mismatch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
import xgboost as xgb

from edgeloop.errors import ArtifactError, NotFittedError
from edgeloop.modelfiles import METADATA_FILE, read_metadata, read_verified, write_model_dir

from . import configurations as cfgs
from .lookup import PiecewiseTable, split_thresholds
from .telemetry import TelemetryFrame

FORMAT = "edgeloop.twin.power-model/1"
Layout = Literal["per_config", "shared"]
LAYOUTS: tuple[Layout, ...] = ("per_config", "shared")
MIN_ROWS_PER_CONFIGURATION = 10


def time_split(time: np.ndarray, holdout_fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks (train, test) over rows: test is the last fraction by time, strictly later.

    Rows that share the cut timestamp all go to the test side so no test row is as early as a
    training row. Raises ValueError when no split is possible (too few rows or distinct times).
    """
    n = len(time)
    n_test = max(1, math.ceil(n * holdout_fraction))
    if n - n_test < 1:
        raise ValueError(f"{n} rows cannot be split into training and holdout")
    cut = np.sort(time, kind="stable")[n - n_test]
    test = time >= cut
    if test.all():
        raise ValueError("all rows share one timestamp; a time split is impossible")
    return ~test, test


class PowerModel:
    """XGBoost power estimator over (configuration, flow, pressure)."""

    boosters_: dict[str, xgb.Booster]    # configuration -> booster (one shared booster for "shared")

    def __init__(self, layout: Layout = "per_config", n_estimators: int = 200, max_depth: int = 4,
                 learning_rate: float = 0.1, max_bin: int = 256, min_child_weight: float = 1.0,
                 holdout_fraction: float = 0.2, refit: bool = True, seed: int = 0) -> None:
        self.layout = layout
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.max_bin = max_bin
        self.min_child_weight = min_child_weight
        self.holdout_fraction = holdout_fraction
        self.refit = refit
        self.seed = seed

    # -- parameters ---------------------------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in (
            "layout", "n_estimators", "max_depth", "learning_rate", "max_bin", "min_child_weight",
            "holdout_fraction", "refit", "seed")}

    def _xgb_params(self) -> dict[str, Any]:
        return {"objective": "reg:squarederror", "tree_method": "hist", "max_depth": self.max_depth,
                "eta": self.learning_rate, "max_bin": self.max_bin,
                "min_child_weight": self.min_child_weight, "seed": self.seed, "verbosity": 0}

    # -- fitting ------------------------------------------------------------------------------
    def fit(self, data: TelemetryFrame | Mapping[str, Any],
            boundaries: Mapping[str, tuple[float, float]] | None = None) -> PowerModel:
        """Learn from a TelemetryFrame or a mapping of column arrays (flow, pressure, power, config,
        optional time). `boundaries` are the feasible flow ranges; without them the observed flow
        envelope of each configuration is used. Returns self."""
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {self.layout!r}")
        if not 0.0 < self.holdout_fraction < 1.0:
            raise ValueError(f"holdout_fraction must be in (0, 1), got {self.holdout_fraction}")
        frame = data if isinstance(data, TelemetryFrame) else TelemetryFrame.from_arrays(
            data["flow"], data["pressure"], data["power"], data["config"], data.get("time"))
        names = []
        self.skipped_: dict[str, str] = {}
        train = np.zeros(len(frame), dtype=bool)
        for name in cfgs.canonical_order(frame.configurations()):
            rows = np.flatnonzero(frame.config == name)
            if len(rows) < MIN_ROWS_PER_CONFIGURATION:
                self.skipped_[name] = f"{len(rows)} rows, need at least {MIN_ROWS_PER_CONFIGURATION}"
                continue
            try:
                tr, _ = time_split(frame.time[rows], self.holdout_fraction)
            except ValueError as exc:
                self.skipped_[name] = str(exc)
                continue
            train[rows[tr]] = True
            names.append(name)
        if not names:
            raise ValueError("no configuration has enough rows to train on: " +
                             "; ".join(f"{n}: {why}" for n, why in self.skipped_.items()))
        keep = np.isin(frame.config, names)
        if not keep.all():   # drop the skipped configurations' rows; train_mask_ covers the kept rows
            frame, train = frame.select(keep), train[keep]
        self.configurations_ = names
        self.feature_names_ = (["flow", "pressure"] if self.layout == "per_config"
                               else ["flow", "pressure", *(f"config={n}" for n in names)])
        self.train_mask_ = train
        holdout = self._fit_boosters(frame.select(train))
        test = frame.select(~train)
        self.test_mae_: dict[str, float] = {}
        self.train_mae_: dict[str, float] = {}
        for name in names:
            for part, target in ((test, self.test_mae_), (frame.select(train), self.train_mae_)):
                rows = part.config == name
                pred = holdout._predict_rows(name, part.flow[rows], part.pressure[rows])
                target[name] = float(np.mean(np.abs(pred.astype(np.float64) - part.power[rows])))
        self.rows_ = {name: {"train": int(np.sum(train & (frame.config == name))),
                             "test": int(np.sum(~train & (frame.config == name)))} for name in names}
        if self.refit:
            self.boosters_ = self._fit_boosters(frame).boosters_
        else:
            self.boosters_ = holdout.boosters_
        self.envelope_ = {name: {"flow": [float(frame.flow[frame.config == name].min()),
                                          float(frame.flow[frame.config == name].max())],
                                 "pressure": [float(frame.pressure[frame.config == name].min()),
                                              float(frame.pressure[frame.config == name].max())]}
                          for name in names}
        if boundaries is None:
            self.boundaries_ = {n: (self.envelope_[n]["flow"][0], self.envelope_[n]["flow"][1]) for n in names}
            self.boundaries_source_ = "observed flow envelope of the training data"
        else:
            checked = cfgs.validate_boundaries(dict(boundaries))
            absent = [n for n in names if n not in checked]
            if absent:
                raise ValueError(f"boundaries have no entry for configuration(s) {', '.join(absent)}")
            self.boundaries_ = {n: checked[n] for n in names}
            self.boundaries_source_ = "boundaries file"
        self.metadata_: dict[str, Any] = {}
        return self

    def _fit_boosters(self, frame: TelemetryFrame) -> PowerModel:
        """Fit boosters on `frame` into a fresh model sharing this one's parameters and features."""
        fitted = PowerModel(**self.get_params())
        fitted.configurations_ = self.configurations_
        fitted.feature_names_ = self.feature_names_
        params = self._xgb_params()
        if self.layout == "per_config":
            fitted.boosters_ = {}
            for name in self.configurations_:
                rows = frame.config == name
                x = np.column_stack([frame.flow[rows], frame.pressure[rows]])
                matrix = xgb.DMatrix(x, label=frame.power[rows], feature_names=self.feature_names_)
                fitted.boosters_[name] = xgb.train(params, matrix, num_boost_round=self.n_estimators)
        else:
            onehot = (frame.config[:, None] == np.asarray(self.configurations_, dtype=object)[None, :])
            x = np.column_stack([frame.flow, frame.pressure, onehot.astype(np.float64)])
            matrix = xgb.DMatrix(x, label=frame.power, feature_names=self.feature_names_)
            booster = xgb.train(params, matrix, num_boost_round=self.n_estimators)
            fitted.boosters_ = {name: booster for name in self.configurations_}
        return fitted

    # -- prediction ---------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "boosters_"):
            raise NotFittedError("PowerModel is not fitted; call fit() or PowerModel.load()")

    def design_matrix(self, config: str, flow: np.ndarray, pressure: np.ndarray) -> np.ndarray:
        """The float64 feature rows the booster of `config` sees for these points."""
        flow = np.asarray(flow, dtype=np.float64).ravel()
        pressure = np.asarray(pressure, dtype=np.float64).ravel()
        if self.layout == "per_config":
            return np.column_stack([flow, pressure])
        onehot = np.zeros((len(flow), len(self.configurations_)))
        onehot[:, self.configurations_.index(config)] = 1.0
        return np.column_stack([flow, pressure, onehot])

    def _predict_rows(self, config: str, flow: np.ndarray, pressure: np.ndarray) -> np.ndarray:
        if len(np.atleast_1d(flow)) == 0:
            return np.zeros(0, dtype=np.float32)
        return self.boosters_[config].inplace_predict(self.design_matrix(config, flow, pressure))

    def predict(self, config: str, flow: Any, pressure: Any) -> np.ndarray:
        """Predicted power in kW (float32, as XGBoost computes it) for `config` at each (flow, pressure).

        No boundary check here: the optimizer decides feasibility. Shapes broadcast; the result has
        the broadcast shape.
        """
        self._check_fitted()
        if config not in self.boosters_:
            raise ValueError(f"unknown configuration {config!r}; the model knows {', '.join(self.configurations_)}")
        flow_b, pressure_b = np.broadcast_arrays(np.asarray(flow, dtype=np.float64),
                                                 np.asarray(pressure, dtype=np.float64))
        return self._predict_rows(config, flow_b, pressure_b).reshape(flow_b.shape)

    def lookup_table(self, config: str) -> PiecewiseTable:
        """An exact piecewise-constant table of `config`'s predictions (see lookup.py)."""
        self._check_fitted()
        if config not in self.boosters_:
            raise ValueError(f"unknown configuration {config!r}")
        booster = self.boosters_[config]
        key = id(booster)
        cache = self.__dict__.setdefault("_thresholds", {})
        if key not in cache:
            raw = self.__dict__.get("_raw", {}).get(key)   # the verified file bytes, when loaded
            cache[key] = split_thresholds(raw if raw is not None else booster, (0, 1))
        flow_t, pressure_t = cache[key]
        return PiecewiseTable(flow_t, pressure_t, lambda f, p: self._predict_rows(config, f, p))

    def boosters(self) -> dict[str, xgb.Booster]:
        self._check_fitted()
        return dict(self.boosters_)

    # -- artifact -----------------------------------------------------------------------------
    def _model_files(self) -> dict[str, xgb.Booster]:
        if self.layout == "per_config":
            return {f"power-{name}.ubj": self.boosters_[name] for name in self.configurations_}
        return {"power.ubj": self.boosters_[self.configurations_[0]]}

    def save(self, directory: str | Path) -> Path:
        """Write the model files (UBJ) and metadata.json with their SHA-256 digests. Returns the dir."""
        self._check_fitted()
        files = {filename: bytes(booster.save_raw("ubj")) for filename, booster in self._model_files().items()}
        metadata = {
            "format": FORMAT,
            "params": self.get_params(),
            "configurations": self.configurations_,
            "features": self.feature_names_,
            "boundaries": {n: list(b) for n, b in self.boundaries_.items()},
            "boundaries_source": self.boundaries_source_,
            "envelope": self.envelope_,
            "test_mae": self.test_mae_,
            "train_mae": self.train_mae_,
            "rows": self.rows_,
            **{k: v for k, v in self.metadata_.items() if k not in ("format", "files")},
        }
        return write_model_dir(directory, files, metadata)

    @classmethod
    def load(cls, directory: str | Path) -> PowerModel:
        """Load an artifact directory, verifying every model file against its recorded SHA-256."""
        directory = Path(directory)
        meta_path = directory / METADATA_FILE
        metadata = read_metadata(directory, FORMAT, "twin model")
        try:
            model = cls(**metadata["params"])
            names = list(metadata["configurations"])
            model.configurations_ = names
            model.feature_names_ = list(metadata["features"])
            model.boundaries_ = cfgs.validate_boundaries(metadata["boundaries"], str(meta_path))
            model.boundaries_source_ = str(metadata["boundaries_source"])
            model.envelope_ = dict(metadata["envelope"])
            model.test_mae_ = {n: float(metadata["test_mae"][n]) for n in names}
            model.train_mae_ = {n: float(metadata["train_mae"][n]) for n in names}
            model.rows_ = dict(metadata["rows"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"{meta_path}: malformed metadata: {exc!r}") from None
        boosters: dict[str, xgb.Booster] = {}
        for filename, raw in read_verified(directory, metadata).items():
            booster = xgb.Booster()
            booster.load_model(bytearray(raw))
            boosters[filename] = booster
            model.__dict__.setdefault("_raw", {})[id(booster)] = raw
        expected_files = set(model._expected_files())
        if set(boosters) != expected_files:
            raise ArtifactError(f"{meta_path}: files {sorted(boosters)} do not match the layout "
                                f"{model.layout!r} (expected {sorted(expected_files)})")
        if model.layout == "per_config":
            model.boosters_ = {n: boosters[f"power-{n}.ubj"] for n in names}
        else:
            model.boosters_ = {n: boosters["power.ubj"] for n in names}
        model.metadata_ = {k: v for k, v in metadata.items() if k not in (
            "format", "params", "configurations", "features", "boundaries", "boundaries_source",
            "envelope", "test_mae", "train_mae", "rows", "files")}
        return model

    def _expected_files(self) -> list[str]:
        if self.layout == "per_config":
            return [f"power-{n}.ubj" for n in self.configurations_]
        return ["power.ubj"]
