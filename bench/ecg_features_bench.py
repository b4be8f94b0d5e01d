"""Speed of the ECG pre-filter's window analysis (features.analyse_window) on this machine.

  python bench/ecg_features_bench.py [--repeats 7] [--baseline-commit 527c895]

Windows: the 14 simulated 60 s, 250 Hz windows of tests/components/ecg_prefilter/data/features_reference.npz (sinus
35-175 bpm, AF, PVCs, bigeminy, every artifact, a rhythm change, a lead coming off).
Measured in the same run, best of --repeats passes (the machine is shared; the best pass is the
least disturbed one):
  - analyse_window: the current path (one validation and one 0.5-40 Hz band-pass per window,
    shared by QRS, quality and spectrum);
  - per-module calls: detect_r_peaks, spectrogram_features, rr_features and signal_quality called
    one after another on the raw samples, each validating and filtering for itself;
  - the original code: the same analyse_window at --baseline-commit (before the speed-up), loaded
    from git into a temporary package; skipped when git or that commit is not available;
  - the scipy floor: one sosfiltfilt plus one spectrogram per window, which any design pays.
It also checks that the original and current outputs agree and prints what 1,000 wearables need:
one 60 s window per device per minute = 16.7 windows/s.
"""

from __future__ import annotations

import argparse
import importlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import signal as sps

sys.path.insert(0, str(Path(__file__).parent))
from machine import describe

from edgeloop.components.ecg_prefilter.features import FEATURE_NAMES, analyse_window
from edgeloop.components.ecg_prefilter.qrs import detect_r_peaks
from edgeloop.components.ecg_prefilter.quality import signal_quality
from edgeloop.components.ecg_prefilter.rhythm import rr_features
from edgeloop.components.ecg_prefilter.spectral import (
    spectrogram_features,
    spectrogram_summary,
)

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "components" / "ecg_prefilter" / "data" / "features_reference.npz"
MODULES = ("filters", "qrs", "rhythm", "spectral", "quality", "features")
FS = 250.0
WINDOWS_PER_S_1000 = 1000 / 60.0


def load_windows() -> list[tuple[str, np.ndarray]]:
    ref = np.load(FIXTURE)
    return [(str(n), np.cumsum(ref[f"{n}/ecg"].astype(np.int64)) * 1e-3) for n in ref["names"]]


def original_analyse(commit: str, tmp: Path) -> Callable | None:
    """analyse_window as it was at `commit`, imported from a temporary package; None if unavailable."""
    pkg = tmp / "ecg_at_baseline"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for module in MODULES:
        path = f"components/ecg_prefilter/{module}.py"
        done = subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:{path}"],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            print(f"original code: not available ({done.stderr.strip() or 'git show failed'})")
            return None
        (pkg / f"{module}.py").write_text(done.stdout)
    sys.path.insert(0, str(tmp))
    return importlib.import_module("ecg_at_baseline.features").analyse_window


def per_module(x: np.ndarray) -> None:
    """The path a caller takes with the public functions alone (each validates and filters)."""
    peaks = detect_r_peaks(x, FS)
    spec, freqs, times, spectral = spectrogram_features(x, FS)
    {**rr_features(peaks, FS), **spectral, **signal_quality(x, FS, peaks)}
    spectrogram_summary(spec, freqs, times, x.size / FS)


FLOOR_SOS = sps.butter(4, [0.5, 40.0], btype="bandpass", fs=FS, output="sos")


def scipy_floor(x: np.ndarray) -> None:
    sps.sosfiltfilt(FLOOR_SOS, x)
    sps.spectrogram(x, fs=FS, window="hann", nperseg=500, noverlap=250)


def best_ms(fn: Callable[[np.ndarray], object], windows: list[tuple[str, np.ndarray]], repeats: int) -> float:
    """Best pass's mean time per window, ms."""
    for _, x in windows[:2]:
        fn(x)  # warm caches (filter designs, summary plan) as a running gateway has them
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        for _, x in windows:
            fn(x)
        best = min(best, (time.perf_counter() - start) / len(windows))
    return best * 1000


def compare(old: Callable, windows: list[tuple[str, np.ndarray]]) -> str:
    worst, same_peaks, same_summary = 0.0, 0, 0
    for _, x in windows:
        a, b = old(x, FS), analyse_window(x, FS)
        same_peaks += np.array_equal(a.peaks, b.peaks)
        same_summary += np.array_equal(a.summary, b.summary)
        va, vb = a.vector(), b.vector()
        vb = vb[:va.size]  # features added since the baseline are appended: compare the shared ones
        both = np.isfinite(va) & np.isfinite(vb)
        rel = np.abs(va[both] - vb[both]) / np.maximum(np.abs(va[both]), 1e-300)
        worst = max(worst, float(rel.max(initial=0.0)))
    return (f"original vs current: R peaks identical in {same_peaks}/{len(windows)} windows, summary in "
            f"{same_summary}/{len(windows)}, largest relative feature difference {worst:.1e} "
            f"(the baseline's features; {len(FEATURE_NAMES)} now)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--baseline-commit", default="527c895",
                        help="commit whose analyse_window is the 'original' baseline")
    args = parser.parse_args()
    print(f"machine: {describe()}")
    windows = load_windows()
    print(f"{len(windows)} windows of 60 s at {FS:g} Hz ({', '.join(n for n, _ in windows)})")
    rows: list[tuple[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        old = original_analyse(args.baseline_commit, Path(tmp))
        new_ms = best_ms(lambda x: analyse_window(x, FS), windows, args.repeats)
        rows.append(("analyse_window (current)", new_ms))
        rows.append(("per-module public calls", best_ms(per_module, windows, args.repeats)))
        if old is not None:
            rows.append((f"analyse_window at {args.baseline_commit} (original)",
                         best_ms(lambda x: old(x, FS), windows, args.repeats)))
        rows.append(("scipy floor: 1 sosfiltfilt + 1 spectrogram", best_ms(scipy_floor, windows, args.repeats)))
        if old is not None:
            print(compare(old, windows))
    print(f"{'path':48s} {'ms/window':>10s} {'x current':>10s} {'1,000 wearables':>16s}")
    for name, ms in rows:
        print(f"{name:48s} {ms:10.2f} {ms / new_ms:10.2f} {ms * WINDOWS_PER_S_1000 / 1000:13.3f} core")
    print(f"target <= 10 ms/window: {'met' if new_ms <= 10 else 'NOT met'} ({new_ms:.2f} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
