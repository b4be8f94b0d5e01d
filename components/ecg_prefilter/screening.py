"""Where a window is analysed and classified: in the calling thread, or in analysis processes.

The pre-filter's worker owns every device's stream; a completed window is handed to a screener,
which returns a Future of its `Screened` result (features, spectrogram summary, verdict):

* `InlineScreener` analyses in the calling thread, so the future is done on return (tests,
  `analysisProcesses: 0`, gateways with one core);
* `ProcessScreener` analyses in separate processes (`analysisProcesses`, default 1). Measured at
  1,000 wearables on a 2-core gateway: with analysis in the component's one interpreter, IPC
  receive, chunk parsing, reassembly and window analysis shared one GIL, and in bursts of windows
  (33 a second when wearables switched on over 30 s) the worker fell seconds behind (alert p99
  3.4 s). In its own process the analysis runs on the other core, and the interpreter that reads IPC
  only parses and reassembles.

What crosses to an analysis process: the window's samples (a float64 array the worker built from
validated chunks, never bytes from the network), fs, and the path and SHA-256 of the verified
model directory. The process loads that model itself (metadata.json checked against the SHA-256,
then every model file against metadata.json) and keeps it until another directory is named, so a
hot-swapped model reaches it with the first window screened with it. Results are in submission
order for the caller to collect. A process that dies costs the windows it held (their futures
raise ScreenerError) and the next window starts new processes.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from edgeloop.components.errors import ScreenerError
from edgeloop.model_component import verify_metadata

from .classifier import EcgClassifier, Verdict
from .features import WindowAnalysis, analyse_window


@dataclass(frozen=True)
class Screened:
    """One window's analysis and the classifier's verdict on it."""

    analysis: WindowAnalysis
    verdict: Verdict


@dataclass(frozen=True)
class ModelRef:
    """A verified model: its classifier (for in-thread use) and where it came from (for processes)."""

    classifier: EcgClassifier
    directory: Path
    sha256: str


def screen(ecg: np.ndarray, fs: float, classifier: EcgClassifier) -> Screened:
    """Analyse one window and classify it (SignalError if the samples cannot be analysed)."""
    analysis = analyse_window(ecg, fs)
    return Screened(analysis, classifier.decide(analysis.vector())[0])


class Screener(Protocol):
    def submit(self, ecg: np.ndarray, fs: float, model: ModelRef) -> Future[Screened]: ...

    def close(self) -> None: ...


class InlineScreener:
    """Screens in the calling thread: the returned future is already done."""

    def submit(self, ecg: np.ndarray, fs: float, model: ModelRef) -> Future[Screened]:
        future: Future[Screened] = Future()
        try:
            future.set_result(screen(ecg, fs, model.classifier))
        except Exception as exc:  # noqa: BLE001 - handed to the caller through the future
            future.set_exception(exc)
        return future

    def close(self) -> None:
        """Nothing runs between windows."""


# -- in an analysis process -------------------------------------------------------------------------
_loaded: tuple[str, str, EcgClassifier] | None = None     # (directory, sha256, classifier) of this process


def _warm_up() -> None:
    """Process initializer: import what analysis needs before the first window arrives."""
    # lazy: warms each analysis process before its first window
    import xgboost  # noqa: F401
    from scipy import signal  # noqa: F401


def _ready() -> None:
    """A first task: the process pool starts its processes with the first submission."""


def _screen_in_process(ecg: np.ndarray, fs: float, directory: str, sha256: str) -> Screened:
    global _loaded
    if _loaded is None or _loaded[:2] != (directory, sha256):
        verify_metadata(Path(directory), sha256, f"model in {directory}")
        _loaded = (directory, sha256, EcgClassifier.load(directory))
    return screen(ecg, fs, _loaded[2])


class ProcessScreener:
    """Screens in `processes` spawned processes; `on_done` is called (from a pool thread) each
    time a window's result is ready, so the caller can collect it."""

    def __init__(self, processes: int = 1, on_done: Callable[[], None] = lambda: None) -> None:
        if processes < 1:
            raise ValueError(f"processes {processes!r}: at least 1 (use InlineScreener for none)")
        self.processes = processes
        self.on_done = on_done
        self.restarts = 0
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None

    def start(self) -> ProcessScreener:
        """Start the processes and wait until each has imported numpy, scipy and XGBoost (1-2 s of
        CPU each), so the first windows do not wait for that."""
        with self._lock:
            executor = self._running()
        for ready in [executor.submit(_ready) for _ in range(self.processes)]:
            ready.result()
        return self

    def _running(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # spawn: a fresh interpreter inherits none of the IPC client's threads or locks
            self._executor = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_warm_up)
        return self._executor

    def submit(self, ecg: np.ndarray, fs: float, model: ModelRef) -> Future[Screened]:
        with self._lock:
            executor = self._running()
            try:
                inner = executor.submit(_screen_in_process, ecg, float(fs), str(model.directory), model.sha256)
            except BrokenProcessPool:     # died since the last window: start again, once
                self._replace(executor)
                inner = self._running().submit(_screen_in_process, ecg, float(fs), str(model.directory),
                                               model.sha256)
        outer: Future[Screened] = Future()
        inner.add_done_callback(lambda done: self._finish(executor, done, outer))
        return outer

    def _finish(self, executor: ProcessPoolExecutor, done: Future, outer: Future) -> None:
        try:
            outer.set_result(done.result())
        except BrokenProcessPool as exc:
            with self._lock:
                if self._executor is executor:
                    self._replace(executor)
            outer.set_exception(ScreenerError(f"the analysis process died ({exc}); the next window "
                                              "starts a new one"))
        except Exception as exc:  # noqa: BLE001 - SignalError, a refused model: the window's own failure
            outer.set_exception(exc)
        self.on_done()

    def _replace(self, executor: ProcessPoolExecutor) -> None:
        """Drop a broken pool (the next submit starts another); call with the lock held."""
        self._executor = None
        self.restarts += 1
        executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        """Finish the windows in hand and stop the processes."""
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
