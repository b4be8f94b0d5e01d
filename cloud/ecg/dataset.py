"""Feature matrices for training and evaluating the screener: simulated devices with ground truth,
and windows reviewed in the pathology archive.

A simulated window's class is `truth.window_label` of the device's labelled stream. Transition
windows (a few seconds of an episode's start or end, label None) never train the model; their
features are kept apart (`transition_X`) when asked, because evaluation reports what the screener
does with them. A window whose analysis fails is counted with its reason, never silently dropped.

Feature extraction (~25 ms a window) dominates the cost, so devices are spread over processes when
`workers > 1`. Each device's recording depends only on (seed, device_id), and results are put back
in device order, so the set is identical whatever `workers` is.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edgeloop.cloud.twin.progress import progress as bar
from edgeloop.components.ecg_prefilter.features import FEATURE_NAMES, analyse_window
from edgeloop.components.ecg_prefilter.filters import resample
from edgeloop.components.ecg_prefilter.strides import stride_starts
from edgeloop.components.errors import SignalError
from edgeloop.contracts.ecg import LABELS
from edgeloop.simulator.wearable import Mix, WearableSimulator, device_ids
from edgeloop.simulator.wearable.truth import window_label

from .archive import PathologyArchive

MODEL_FS = 250.0     # the rate the screener's features are computed at (the gateway's rate)
N_FEATURES = len(FEATURE_NAMES)


def _empty() -> np.ndarray:
    return np.empty((0, N_FEATURES), dtype=np.float64)


@dataclass
class WindowSet:
    """Labelled feature rows. `failures` lists (where, reason) of windows that could not be
    analysed; `transitions` counts transition windows, whose features are in `transition_X` only
    when they were asked for (else it has no rows)."""

    X: np.ndarray                                   # float64 [n, len(FEATURE_NAMES)]
    y: np.ndarray                                   # label strings (LABELS)
    device_ids: np.ndarray                          # str per row
    start_s: np.ndarray                             # float per row (NaN when unknown)
    transitions: int = 0
    transition_X: np.ndarray = field(default_factory=_empty)
    failures: list[tuple[str, str]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.y)

    def counts(self) -> dict[str, int]:
        """Windows per label, in LABELS order (zeros included)."""
        found = Counter(self.y.tolist())
        return {label: int(found.get(label, 0)) for label in LABELS}

    def failure_reasons(self) -> dict[str, int]:
        return dict(Counter(reason for _, reason in self.failures))

    def digest(self) -> str:
        """SHA-256 of the rows and labels as trained on: identifies the training data exactly."""
        h = hashlib.sha256()
        h.update(np.ascontiguousarray(self.X, dtype="<f8").tobytes())
        h.update("\n".join(self.y.tolist()).encode())
        return h.hexdigest()

    def describe(self) -> dict[str, Any]:
        return {"windows": len(self), "by_label": self.counts(), "transition_windows": self.transitions,
                "failed_windows": len(self.failures), "failure_reasons": self.failure_reasons()}

    @classmethod
    def concat(cls, sets: Iterable[WindowSet]) -> WindowSet:
        sets = list(sets)
        return cls(X=np.vstack([_empty(), *(s.X for s in sets)]),
                   y=np.concatenate([np.array([], dtype=str), *(s.y for s in sets)]).astype(str),
                   device_ids=np.concatenate([np.array([], dtype=str), *(s.device_ids for s in sets)]).astype(str),
                   start_s=np.concatenate([np.array([], dtype=float), *(s.start_s for s in sets)]),
                   transitions=sum(s.transitions for s in sets),
                   transition_X=np.vstack([_empty(), *(s.transition_X for s in sets)]),
                   failures=[f for s in sets for f in s.failures])


@dataclass(frozen=True)
class _DeviceTask:
    seed: int
    device_id: str
    minutes: float
    mix: Mix
    fs: float
    window_s: float
    hop_s: float
    keep_transitions: bool


def _device_windows(task: _DeviceTask) -> WindowSet:
    """Record one simulated device and analyse each of its windows (runs in a worker process)."""
    rec = WearableSimulator(fs=task.fs, seed=task.seed, mix=task.mix).record(task.minutes, device_id=task.device_id)
    width = round(task.window_s * task.fs)
    rows, labels, starts, transition_rows, failures = [], [], [], [], []
    transitions = 0
    for s in stride_starts(rec.ecg.size, task.fs, task.window_s, task.hop_s):
        start = s / task.fs
        label = window_label(rec.labels, start, start + task.window_s)
        if label is None:
            transitions += 1
            if not task.keep_transitions:
                continue
        try:
            vector = analyse_window(rec.ecg[s:s + width], task.fs).vector()
        except SignalError as exc:
            failures.append((f"{task.device_id}@{start:g}s", str(exc)))
            continue
        if label is None:
            transition_rows.append(vector)
        else:
            rows.append(vector)
            labels.append(label)
            starts.append(start)
    return WindowSet(X=np.array(rows, dtype=np.float64).reshape(-1, N_FEATURES), y=np.array(labels, dtype=str),
                     device_ids=np.array([task.device_id] * len(labels), dtype=str),
                     start_s=np.array(starts, dtype=np.float64), transitions=transitions,
                     transition_X=np.array(transition_rows, dtype=np.float64).reshape(-1, N_FEATURES),
                     failures=failures)


def simulated_windows(*, seed: int, devices: int, minutes: float, mix: Mix, fs: float = MODEL_FS,
                      window_s: float = 60.0, hop_s: float = 30.0, workers: int = 1,
                      progress: bool = True, keep_transitions: bool = False) -> WindowSet:
    """Windows of `devices` simulated wearables (`minutes` each, episodes drawn from `mix`)."""
    if devices < 1:
        raise ValueError(f"devices {devices!r}: need at least 1")
    if workers < 1:
        raise ValueError(f"workers {workers!r}: need at least 1")
    stride_starts(0, fs, window_s, hop_s)                        # refuse a bad window/hop early
    tasks = [_DeviceTask(seed, d, minutes, mix, fs, window_s, hop_s, keep_transitions)
             for d in device_ids(devices)]
    with bar(f"simulating {devices} devices (seed {seed})", total=len(tasks), enabled=None if progress else False) as advance:
        if workers == 1:
            parts = []
            for task in tasks:
                parts.append(_device_windows(task))
                advance(task.device_id)
        else:
            with ProcessPoolExecutor(max_workers=min(workers, len(tasks))) as pool:
                parts = []
                for task, part in zip(tasks, pool.map(_device_windows, tasks), strict=True):
                    parts.append(part)
                    advance(task.device_id)
    return WindowSet.concat(parts)


def archive_windows(archive_root: str | Path) -> WindowSet:
    """Reviewed windows of the pathology archive (each at its reviewed label), resampled to 250 Hz
    when recorded at another rate. A window that cannot be read or analysed is counted in
    `failures`; a folder that is no archive raises ArchiveError (a ValueError)."""

    rows, labels, devices, starts, failures = [], [], [], [], []
    for item in PathologyArchive(archive_root, create=False).labelled():
        where = f"{item.device_id}/{item.window_id}"
        if item.label not in LABELS:
            failures.append((where, f"reviewed label {item.label!r} is not one of {LABELS}"))
            continue
        try:
            ecg, fs = np.asarray(item.ecg, dtype=np.float64), float(item.fs)
            if not math.isclose(fs, MODEL_FS):
                ecg, fs = resample(ecg, fs, MODEL_FS), MODEL_FS
            vector = analyse_window(ecg, fs).vector()
        except (SignalError, TypeError, ValueError, OSError) as exc:
            failures.append((where, str(exc)))
            continue
        rows.append(vector)
        labels.append(item.label)
        devices.append(str(item.device_id))
        start = getattr(item, "start", None)
        starts.append(math.nan if start is None else float(start))
    return WindowSet(X=np.array(rows, dtype=np.float64).reshape(-1, N_FEATURES), y=np.array(labels, dtype=str),
                     device_ids=np.array(devices, dtype=str), start_s=np.array(starts, dtype=np.float64),
                     failures=failures)
