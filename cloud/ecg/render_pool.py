"""Archive pictures drawn in a low-priority child process, off the receiving process's CPU.

Drawing is batch work. At 1,000 wearables 4-5 windows a second are forwarded, and on the 2-core
laptop where gateway and cloud run together, drawing them at normal priority in the receiver took
the CPU the gateway needed and its alerts arrived tens of seconds late. So `RenderPool` hands each
window to one worker process (a ProcessPoolExecutor with max_workers=1) that has raised its
niceness to RENDER_NICENESS: the kernel gives it the CPU nobody else wants. When the machine is
saturated, windows wait at the broker (QoS 1, persistent session) instead of alerts waiting for
pictures; alerts have their own MQTT session and never wait for a window.

The child is handed only strings and numbers: the raw.npy the archive already wrote to its staging
folder, fs, the PNG's path and the title. It reads the samples with np.load(allow_pickle=False):
they came over a network, and nothing from a network is unpickled.

Workers start with "spawn": a fresh interpreter inherits neither threads nor held locks from the
receiver (paho's network threads), whether the receiver itself was started with fork or spawn.
The pool starts on the first window, and again on the next window after close(). A worker that
dies (killed, out of memory) costs one window: the one it was drawing, or the next one if it died
in between, gets RenderError, and the window after that has a new worker.

`InProcessRenderer` draws in the calling thread at its priority instead: for tests and tools that
store a few windows, where starting a process costs more than the pictures.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Self

import numpy as np

from edgeloop.cloud.errors import RenderError

from .render import check_available, render_window_png

RENDER_NICENESS = 15


@dataclass(frozen=True)
class Rendered:
    """A picture written, the process that drew it and that process's niceness."""

    path: Path
    pid: int
    niceness: int


class Renderer(Protocol):
    """What PathologyArchive draws with: `render` writes the PNG or raises RenderError."""

    def render(self, raw_path: str | Path, fs: float, png_path: str | Path, title: str) -> Rendered: ...

    def close(self) -> None: ...


def render_raw(raw_path: str, fs: float, png_path: str, title: str) -> Rendered:
    """Draw the picture of a raw.npy (float32 mV, as the archive writes it)."""
    ecg = np.load(raw_path, allow_pickle=False)
    return Rendered(render_window_png(ecg, fs, png_path, title), os.getpid(), os.nice(0))


def _start_worker(niceness: int) -> None:
    """Worker initializer: import what drawing needs at the parent's priority, then lower it for
    good. The imports are about 2 s of CPU, once; at nice 15 on a saturated machine (a few per cent
    of a core) they would take a minute while the receiver's windows thread, and with it that MQTT
    session's keepalive, waits for the first picture."""
    check_available()
    # lazy: warms the worker at its start (see the docstring)
    from PIL import PngImagePlugin  # noqa: F401
    from scipy import signal  # noqa: F401

    os.nice(max(0, niceness - os.nice(0)))


class RenderPool:
    """One low-priority worker process, started on the first render (about 3 s of CPU: a fresh
    interpreter importing numpy, scipy and matplotlib), then about 40 ms of its CPU per window;
    thread-safe."""

    def __init__(self, niceness: int = RENDER_NICENESS) -> None:
        self.niceness = niceness
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None

    def render(self, raw_path: str | Path, fs: float, png_path: str | Path, title: str) -> Rendered:
        """Draw in the worker and wait for it. RenderError if the samples cannot be drawn or the
        worker died (the next render starts a new one); OSError if the PNG cannot be written.
        Renders from several threads take turns, as one worker would make them anyway."""
        with self._lock:
            executor = self._running()
            try:
                return executor.submit(render_raw, str(raw_path), float(fs), str(png_path), str(title)).result()
            except BrokenProcessPool as exc:
                self._executor = None
                executor.shutdown(wait=True)          # broken already: this only reaps
                raise RenderError(f"{title}: the renderer process died before it drew this window ({exc}); "
                                  "the next window starts a new one") from None

    def _running(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_start_worker, initargs=(self.niceness,))
        return self._executor

    def close(self) -> None:
        """Stop the worker (after the picture in hand); a later render starts a new one."""
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=True)
                self._executor = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class InProcessRenderer:
    """Draws in the calling thread, at the caller's priority."""

    def render(self, raw_path: str | Path, fs: float, png_path: str | Path, title: str) -> Rendered:
        return render_raw(str(raw_path), float(fs), str(png_path), title)

    def close(self) -> None:
        """Nothing runs between renders."""
