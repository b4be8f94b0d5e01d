"""Cost of the archive's picture per window (cloud/ecg/render.py) on this machine.

  python bench/ecg_render_bench.py [--windows 30] [--seed 5] [--repeats 3] [--keep DIR]

Windows: --windows simulated 60 s, 250 Hz wearables (WearableSimulator(seed).record(1.0), one device
each, a mix rich in AF, PVCs and artifacts). Measured in the same run, best of --repeats passes
(the machine is shared; the best pass is the least disturbed one), in CPU ms of this process per
window:
  - render_window_png: the current renderer (cached templates, blitting, PIL text and PNG), warmed
    with one pass first as a running receiver has its templates;
  - baseline_render: the full-figure code it replaced (a new Figure, subplots, colour bar and savefig
    per window), copied here so the comparison survives;
  - the renderer process: PathologyArchive's default path (RenderPool), the receiving process's CPU
    per window (writing raw.npy, handing over its path) and the niced worker's, from /proc.
--keep DIR writes each path's picture of the first three windows there to compare by eye.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from machine import cpu_seconds, describe

from edgeloop.cloud.ecg.render import MAX_FREQ_HZ, fit_trace, render_window_png
from edgeloop.cloud.ecg.render_pool import RenderPool
from edgeloop.simulator.wearable.mix import Mix
from edgeloop.simulator.wearable.simulator import WearableSimulator

FS = 250.0
MIX = Mix(normal=0.55, af=0.2, pvc=0.15, noisy=0.1)
TITLE = "{device}  {device}-1709294400000  gateway: af (0.91, model 1.0.3)  2024-03-01 12:00:00 UTC"
TARGET_MS = 50.0
WINDOWS_PER_S_1000 = 4.5          # forwarded at 1,000 wearables (docs/BENCHMARKS.md, the gateway bench)

Render = Callable[[np.ndarray, float, Path, str], object]


def baseline_render(ecg_mv: np.ndarray, fs: float, path: str | Path, title: str) -> Path:
    """render_window_png before the template redesign: its body, with the matplotlib import inlined
    and ValueError for RenderError."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from scipy import signal

    x = np.asarray(ecg_mv, dtype=np.float64)
    if x.ndim != 1 or x.size < 2 or not np.isfinite(x).all():
        raise ValueError(f"{title}: expected a 1-D finite ECG with at least 2 samples, got shape {x.shape}")
    if not (np.isfinite(fs) and fs > 0):
        raise ValueError(f"{title}: fs {fs!r} is not a sampling rate")
    nperseg = int(min(x.size, max(16, round(fs))))           # about 1 s: 1 Hz bins, R-R visible
    freqs, _, power = signal.spectrogram(x, fs=fs, nperseg=nperseg, noverlap=nperseg * 3 // 4,
                                             detrend="constant", scaling="density")
    band = freqs <= MAX_FREQ_HZ
    db = 10.0 * np.log10(power[band] + 1e-12)
    duration = x.size / fs

    fig = Figure(figsize=(10, 5), dpi=100)      # fixed margins: a layout engine doubles the time
    FigureCanvasAgg(fig)
    trace, spec = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [1, 1.2]})
    fig.subplots_adjust(left=0.07, right=0.92, top=0.94, bottom=0.1, hspace=0.08)
    trace.plot(np.arange(x.size) / fs, x, color="#1f4e79", linewidth=0.5)
    trace.set_ylabel("ECG (mV)")
    trace.set_title(title, fontsize=10, loc="left")
    trace.grid(True, linewidth=0.3, alpha=0.5)
    top = float(freqs[band][-1]) if band.any() else MAX_FREQ_HZ
    image = spec.imshow(db, aspect="auto", origin="lower", cmap="magma", interpolation="nearest",
                        extent=(0.0, duration, 0.0, top),
                        vmin=float(np.percentile(db, 5)), vmax=float(db.max()))
    spec.set_xlim(0.0, duration)
    spec.set_ylabel("Hz")
    spec.set_xlabel(f"seconds (fs {fs:g} Hz, {nperseg}-sample segments)")
    bar = spec.inset_axes((1.005, 0.0, 0.012, 1.0))     # beside the axes: both panels keep one width
    fig.colorbar(image, cax=bar, label="dB (mV²/Hz)")
    path = Path(path)
    fig.savefig(path, format="png", pil_kwargs={"compress_level": 3})
    return path


def simulated_windows(n: int, seed: int) -> list[tuple[str, np.ndarray]]:
    sim = WearableSimulator(FS, seed=seed, mix=MIX)
    return [(device, sim.record(1.0, device_id=device).ecg)
            for device in (f"wearable-{i:04d}" for i in range(n))]


def best_cpu_ms(render: Render, windows: list[tuple[str, np.ndarray]], folder: Path, repeats: int) -> float:
    """Best pass's CPU time of this process per window, ms."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        for device, ecg in windows:
            render(ecg, FS, folder / f"{device}.png", TITLE.format(device=device))
        best = min(best, (time.process_time() - start) / len(windows))
    return best * 1000


def pool_cpu_ms(windows: list[tuple[str, np.ndarray]], folder: Path) -> tuple[float, float, int]:
    """(receiver's CPU ms, worker's CPU ms) per window through a RenderPool, and the worker's
    niceness; the worker is started and warmed by one window first."""
    with RenderPool() as pool:
        def one(device: str, ecg: np.ndarray) -> tuple[int, int]:
            raw = folder / f"{device}.npy"
            np.save(raw, np.asarray(ecg, dtype=np.float32), allow_pickle=False)
            drawn = pool.render(raw, FS, folder / f"{device}.png", TITLE.format(device=device))
            return drawn.pid, drawn.niceness

        pid, niceness = one(*windows[0])
        for device, ecg in windows:                   # every template the windows need
            one(device, ecg)
        worker, start = cpu_seconds(pid), time.process_time()
        for device, ecg in windows:
            one(device, ecg)
        receiver = time.process_time() - start
        worker = cpu_seconds(pid) - worker
    return 1000 * receiver / len(windows), 1000 * worker / len(windows), niceness


def keep_pictures(windows: list[tuple[str, np.ndarray]], folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for device, ecg in windows[:3]:
        title = TITLE.format(device=device)
        render_window_png(ecg, FS, folder / f"{device}-current.png", title)
        baseline_render(ecg, FS, folder / f"{device}-baseline.png", title)
    print(f"pictures of the first 3 windows (current, baseline) in {folder}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--windows", type=int, default=30)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", type=Path, metavar="DIR", help="write sample pictures of both renderers here")
    args = parser.parse_args()
    print(f"machine: {describe()}")
    windows = simulated_windows(args.windows, args.seed)
    scales = Counter(fit_trace(ecg.astype(np.float64)).scale_mv for _, ecg in windows)
    print(f"{len(windows)} simulated windows of 60 s at {FS:g} Hz (mix {MIX}); trace scales "
          + ", ".join(f"±{scale:g} mV x{n}" for scale, n in sorted(scales.items())))
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        best_cpu_ms(render_window_png, windows, folder, 1)          # templates built, as in a receiver
        new_ms = best_cpu_ms(render_window_png, windows, folder, args.repeats)
        old_ms = best_cpu_ms(baseline_render, windows, folder, args.repeats)
        receiver_ms, worker_ms, niceness = pool_cpu_ms(windows, folder)
    print(f"{'path':52s} {'CPU ms/window':>14s} {'1,000 wearables':>16s}")
    for name, ms in (("render_window_png (current)", new_ms), ("baseline_render (full figure per window)", old_ms),
                     ("renderer process: the receiving process", receiver_ms),
                     (f"renderer process: the worker (nice {niceness})", worker_ms)):
        print(f"{name:52s} {ms:14.1f} {ms * WINDOWS_PER_S_1000 / 1000:13.3f} core")
    print(f"baseline / current: {old_ms / new_ms:.1f}x; target <= {TARGET_MS:g} ms per window: "
          f"{'met' if new_ms <= TARGET_MS else 'NOT met'} ({new_ms:.1f} ms)")
    if args.keep:
        keep_pictures(windows, args.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())
