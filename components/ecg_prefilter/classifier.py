"""EcgClassifier: XGBoost over the window features (normal / af / other / noisy) and the
forwarding rule, with a verified on-disk artifact.

Shaped like a scikit-learn estimator (hyper-parameters as given, `fit` returns self, learned state
ends in `_`). The screening decision is not the arg-max class: a window is forwarded when its
abnormality score, 1 - P(normal), reaches `threshold_`. `fit` picks the threshold on a validation
set as the highest one that still forwards `target_sensitivity` of the non-normal validation
windows (never above 0.5, the arg-max point), because a missed arrhythmia costs more than a
forwarded normal window. The label of a forwarded window is its most probable non-normal class.

Artifact directory (`save` / `load`): `ecg-classifier.ubj` and `metadata.json` with its SHA-256,
the label and feature order, the threshold and the training record (edgeloop.modelfiles).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

from edgeloop.contracts.ecg import LABELS
from edgeloop.errors import ArtifactError, NotFittedError
from edgeloop.modelfiles import read_metadata, read_verified, write_model_dir

from .features import FEATURE_NAMES

FORMAT = "edgeloop.ecg.classifier/1"
MODEL_FILE = "ecg-classifier.ubj"
NORMAL = LABELS.index("normal")


@dataclass(frozen=True)
class Verdict:
    """The screener's answer for one window."""

    label: str                         # normal | af | other | noisy
    score: float                       # abnormality, 1 - P(normal)
    forward: bool                      # score >= threshold
    probabilities: dict[str, float]    # per class, sums to 1


def encode_labels(labels: Any) -> np.ndarray:
    """Label names (or class indices) -> int indices into LABELS; a ValueError names an unknown one."""
    out = []
    for value in labels:
        if isinstance(value, (int, np.integer)) and 0 <= int(value) < len(LABELS):
            out.append(int(value))
        elif value in LABELS:
            out.append(LABELS.index(value))
        else:
            raise ValueError(f"label {value!r}: expected one of {LABELS}")
    return np.asarray(out, dtype=np.int64)


def threshold_for(scores: np.ndarray, abnormal: np.ndarray, target_sensitivity: float) -> float:
    """Highest threshold (<= 0.5) at which `target_sensitivity` of the abnormal scores are >= it."""
    s = np.sort(np.asarray(scores, dtype=np.float64)[np.asarray(abnormal, dtype=bool)])
    if s.size == 0:
        return 0.5
    keep = int(np.ceil(target_sensitivity * s.size))          # windows that must be forwarded
    return float(min(0.5, s[s.size - keep])) if keep > 0 else 0.5


class EcgClassifier:
    """4-class gradient-boosted trees on FEATURE_NAMES; see the module docstring."""

    def __init__(self, n_estimators: int = 300, max_depth: int = 5, learning_rate: float = 0.08,
                 subsample: float = 0.9, colsample_bytree: float = 0.8, min_child_weight: float = 1.0,
                 target_sensitivity: float = 0.985, balance_classes: bool = True, seed: int = 0,
                 n_jobs: int = 1) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.min_child_weight = min_child_weight
        self.target_sensitivity = target_sensitivity
        self.balance_classes = balance_classes
        self.seed = seed
        self.n_jobs = n_jobs
        self.metadata_: dict[str, Any] = {}

    def get_params(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in (
            "n_estimators", "max_depth", "learning_rate", "subsample", "colsample_bytree",
            "min_child_weight", "target_sensitivity", "balance_classes", "seed", "n_jobs")}

    # -- training ---------------------------------------------------------------------------
    def _xgb_params(self) -> dict[str, Any]:
        return {"objective": "multi:softprob", "num_class": len(LABELS), "max_depth": self.max_depth,
                "eta": self.learning_rate, "subsample": self.subsample,
                "colsample_bytree": self.colsample_bytree, "min_child_weight": self.min_child_weight,
                "eval_metric": "mlogloss", "tree_method": "hist", "seed": self.seed,
                "nthread": self.n_jobs}

    def fit(self, X: Any, y: Any, *, X_val: Any = None, y_val: Any = None) -> EcgClassifier:
        """Train on (X, y); pick the forwarding threshold on (X_val, y_val) when given (else 0.5)."""

        X = self._check_X(X)
        y = encode_labels(y)
        if len(y) != len(X):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels")
        present = np.bincount(y, minlength=len(LABELS))
        if present[NORMAL] == 0 or present.sum() == present[NORMAL]:
            raise ValueError(f"training needs normal and non-normal windows; got counts "
                             f"{dict(zip(LABELS, present.tolist(), strict=True))}")
        weight = None
        if self.balance_classes:   # each present class carries the same total weight
            per_class = np.where(present > 0, len(y) / (np.count_nonzero(present) * np.maximum(present, 1)), 0)
            weight = per_class[y]
        booster = xgb.train(self._xgb_params(), xgb.DMatrix(X, label=y, weight=weight,
                                                            feature_names=list(FEATURE_NAMES)),
                            num_boost_round=self.n_estimators)
        booster.set_param({"nthread": 1})     # inference: see predict_proba
        self.booster_ = booster
        self.threshold_ = 0.5
        self.class_counts_ = dict(zip(LABELS, present.tolist(), strict=True))
        if X_val is not None:
            yv = encode_labels(y_val)
            scores = self.scores(X_val)
            self.threshold_ = threshold_for(scores, yv != NORMAL, self.target_sensitivity)
        return self

    # -- inference --------------------------------------------------------------------------
    @staticmethod
    def _check_X(X: Any) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim == 1:
            X = X[None, :]
        if X.ndim != 2 or X.shape[1] != len(FEATURE_NAMES):
            raise ValueError(f"X: expected rows of {len(FEATURE_NAMES)} features (FEATURE_NAMES), got shape {X.shape}")
        return X

    def _check_fitted(self) -> None:
        if not hasattr(self, "booster_"):
            raise NotFittedError("EcgClassifier is not fitted; call fit() or load()")

    def predict_proba(self, X: Any) -> np.ndarray:
        """(n, 4) class probabilities in LABELS order.

        `inplace_predict` on one thread: a gateway screens one window at a time, and building a
        DMatrix plus waking an OpenMP pool for each cost 40-60 ms per window on 2 busy cores,
        against about 2 ms this way (same numbers)."""
        self._check_fitted()
        X = self._check_X(X)
        return np.asarray(self.booster_.inplace_predict(X)).reshape(len(X), len(LABELS))

    def scores(self, X: Any) -> np.ndarray:
        """Abnormality score per row: 1 - P(normal)."""
        return 1.0 - self.predict_proba(X)[:, NORMAL]

    def decide(self, X: Any) -> list[Verdict]:
        """One Verdict per row (forward when the score reaches threshold_)."""
        proba = self.predict_proba(X)
        out = []
        for p in proba:
            score = float(1.0 - p[NORMAL])
            forward = score >= self.threshold_
            abnormal = np.delete(np.arange(len(LABELS)), NORMAL)
            label = LABELS[int(abnormal[np.argmax(p[abnormal])])] if forward else "normal"
            out.append(Verdict(label, score, forward, {k: float(v) for k, v in zip(LABELS, p, strict=True)}))
        return out

    def predict(self, X: Any) -> np.ndarray:
        """Screening labels per row (forwarding rule applied), as strings."""
        return np.array([v.label for v in self.decide(X)])

    # -- artifact ---------------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        """Write ecg-classifier.ubj and metadata.json (with its SHA-256). Returns the directory."""
        self._check_fitted()
        metadata = {"format": FORMAT, "params": self.get_params(), "labels": list(LABELS),
                    "features": list(FEATURE_NAMES), "threshold": self.threshold_,
                    "class_counts": self.class_counts_,
                    **{k: v for k, v in self.metadata_.items()
                       if k not in ("format", "params", "labels", "features", "threshold", "class_counts", "files")}}
        return write_model_dir(directory, {MODEL_FILE: bytes(self.booster_.save_raw("ubj"))}, metadata)

    @classmethod
    def load(cls, directory: str | Path) -> EcgClassifier:
        """Load a saved classifier, verifying the model file's SHA-256 and the label/feature order."""

        metadata = read_metadata(directory, FORMAT, "ECG classifier")
        where = Path(directory) / "metadata.json"
        if metadata.get("labels") != list(LABELS) or metadata.get("features") != list(FEATURE_NAMES):
            raise ArtifactError(f"{where}: labels/features differ from this edgeloop's "
                                f"{list(LABELS)} / {len(FEATURE_NAMES)} features; the model was built for "
                                "another feature set")
        files = read_verified(directory, metadata)
        if set(files) != {MODEL_FILE}:
            raise ArtifactError(f"{where}: expected exactly {MODEL_FILE}, metadata lists {sorted(files)}")
        try:
            model = cls(**metadata["params"])
            threshold = float(metadata["threshold"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ArtifactError(f"{where}: malformed metadata: {exc!r}") from None
        if not 0.0 < threshold <= 1.0:
            raise ArtifactError(f"{where}: threshold {threshold} outside (0, 1]")
        booster = xgb.Booster()
        try:
            booster.load_model(bytearray(files[MODEL_FILE]))
        except xgb.core.XGBoostError as exc:
            raise ArtifactError(f"{Path(directory) / MODEL_FILE}: not an XGBoost model: {exc}") from None
        booster.set_param({"nthread": 1})     # inference: see predict_proba
        model.booster_ = booster
        model.threshold_ = threshold
        model.class_counts_ = dict(metadata.get("class_counts") or {})
        model.metadata_ = {k: v for k, v in metadata.items()
                           if k not in ("format", "params", "labels", "features", "threshold",
                                        "class_counts", "files")}
        return model
