"""The ECG wire formats: chunk validation names the bad field; raw windows survive the round trip."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from edgeloop.contracts.ecg import (
    alert_message,
    decode_samples,
    encode_samples,
    error_message,
    parse_chunk,
    parse_window,
    summary_message,
    window_message,
)
from edgeloop.contracts.errors import ChunkError, WindowFormatError

TOPIC = "dt/sensor/w-7"


def good(**change) -> dict:
    body = {"device_id": "w-7", "seq": 4, "timestamp": 1_700_000_004.0, "fs": 250,
            "ecg": [0.01 * i for i in range(250)], "ppg": [0.5] * 250, "bpm": 71.5}
    body.update(change)
    return {k: v for k, v in body.items() if v is not ...}


def test_a_good_chunk_is_parsed_with_its_size() -> None:
    payload = json.dumps(good()).encode()
    chunk = parse_chunk(TOPIC, payload, expected_fs=250)
    assert (chunk.device_id, chunk.seq, chunk.fs, chunk.bpm, chunk.size) == ("w-7", 4, 250.0, 71.5, len(payload))
    assert chunk.ecg.dtype == np.float64 and chunk.ecg.size == 250 and chunk.duration_s == 1.0
    assert parse_chunk(TOPIC, good(ppg=..., bpm=None)).ppg.size == 0   # ppg and bpm are optional


@pytest.mark.parametrize("payload, field, words", [
    (b"{not json", "payload", "not JSON"),
    (b"\xff\xfe", "payload", "UTF-8"),
    (json.dumps([1, 2]), "payload", "JSON object"),
    (good(device_id=...), "device_id", "None"),
    (good(device_id="w-8"), "device_id", "does not match the topic"),
    (good(device_id="a/b"), "device_id", "letters, digits"),
    (good(seq=-1), "seq", "non-negative integer"),
    (good(seq="4"), "seq", "non-negative integer"),
    (good(seq=True), "seq", "non-negative integer"),
    (good(timestamp="now"), "timestamp", "expected a number"),
    (good(fs=500), "fs", "500 Hz but this gateway screens 250 Hz"),
    (good(fs=None), "fs", "expected a number"),
    (good(ecg=[]), "ecg", "no samples"),
    (good(ecg="0.1,0.2"), "ecg", "list of numbers"),
    (good(ecg=[0.1, "x"]), "ecg", "got str"),
    (good(ecg=[0.1, True]), "ecg", "boolean"),
    (good(ecg=["0.1"] * 250), "ecg", "got str '0.1'"),      # numpy alone would read these as numbers
    (good(ecg=[[0.1], [0.2]]), "ecg", "got list"),
    (good(ecg=[10**400]), "ecg", "expected numbers"),
    (good(ecg=[0.0] * 2600, ppg=...), "ecg", "at most 10 s per chunk"),
    (good(ppg=[0.5] * 10), "ppg", "10 samples but ecg has 250"),
    (good(bpm="fast"), "bpm", "expected a number"),
])
def test_a_malformed_chunk_is_refused_naming_the_field(payload, field: str, words: str) -> None:
    with pytest.raises(ChunkError) as refused:
        parse_chunk(TOPIC, payload if isinstance(payload, (bytes, str)) else json.dumps(payload), expected_fs=250)
    assert refused.value.field == field
    assert words in refused.value.problem and str(refused.value).startswith(f"{field}: ")


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_samples_are_refused_with_their_position(bad: float) -> None:
    ecg = [0.1] * 250
    ecg[17] = bad
    with pytest.raises(ChunkError, match="first at index 17") as refused:
        parse_chunk(TOPIC, good(ecg=ecg))   # a decoded dict: NaN cannot reach strict JSON text
    assert refused.value.field == "ecg"
    with pytest.raises(ChunkError) as in_text:    # Python's json writes NaN; the gateway still refuses it
        parse_chunk(TOPIC, json.dumps(good(ecg=ecg)))
    assert in_text.value.field == "ecg"


def test_raw_samples_round_trip_within_one_microvolt() -> None:
    rng = np.random.default_rng(3)
    ecg = np.cumsum(rng.normal(0, 0.02, 15_000)) + np.sin(np.arange(15_000) / 40.0)
    encoded = encode_samples(ecg)
    back = decode_samples(encoded, ecg.size)
    assert np.max(np.abs(back - ecg)) <= 0.0005 + 1e-12      # 1 uV steps: within half a uV
    assert len(encoded) < ecg.size * 8 / 3                    # far smaller than the float64 bytes
    with pytest.raises(WindowFormatError, match="15000 samples, the message says 16000"):
        decode_samples(encoded, 16_000)
    with pytest.raises(WindowFormatError, match="inflates beyond 20 bytes"):   # more than the message says
        decode_samples(encoded, 10)
    with pytest.raises(WindowFormatError, match="cannot decode"):
        decode_samples("i2:!!notbase64")


def test_a_step_larger_than_int16_still_round_trips() -> None:
    ecg = np.array([-30.0, 30.0, -30.0, 0.001])   # deltas of 60 mV do not fit int16 microvolts
    np.testing.assert_allclose(decode_samples(encode_samples(ecg)), ecg, atol=5e-4)


def test_a_window_message_decodes_to_what_was_sent() -> None:
    rng = np.random.default_rng(1)
    ecg = rng.normal(0, 0.3, 2500)
    summary = rng.normal(-3, 1, (16, 12)).astype(np.float16)
    body = window_message(device_id="w-7", window_id="w-7-1", start=100.0, fs=250.0, ecg_mv=ecg, label="af",
                          score=0.93, probabilities={"normal": 0.07, "af": 0.9, "other": 0.02, "noisy": 0.01},
                          model_version="edgeloop-ecg/2", features={"hr_mean_bpm": 112.0, "sampen": math.nan},
                          summary=summary, gaps_s=1.0)
    text = json.dumps(body, allow_nan=False)           # strict JSON: a NaN feature is null
    window = parse_window(text)
    assert (window.device_id, window.label, window.end, window.model_version) == ("w-7", "af", 110.0, "edgeloop-ecg/2")
    assert np.max(np.abs(window.ecg - ecg)) <= 0.0005 + 1e-12
    assert window.spectrogram.shape == (16, 12) and body["features"]["sampen"] is None
    with pytest.raises(WindowFormatError, match="label"):
        parse_window({**body, "label": "sick"})


def test_alert_summary_and_error_bodies_are_strict_json() -> None:
    alert = alert_message(device_id="w-7", window_id="w-7-1", start=0, end=60, label="af", score=0.9,
                          model_version="m/1", hr_bpm=math.nan, quality=0.8)
    summary = summary_message(device_id="w-7", start=0, end=300, model_version="m/1", windows=5, forwarded=1,
                              unscreened=0, failed=1, labels={"normal": 3, "af": 1, "other": 0, "noisy": 0},
                              bpm=[60.0, 70.0, math.nan], quality=[0.9, 0.7, 0.8], gaps_s=1.5,
                              chunks={"chunks": 300, "duplicates": 2})
    error = error_message(device_id="w-7", field="fs", problem="500 Hz", errors={"fs": 3, "ecg": 1}, total=9,
                          since=1.0, timestamp=5.0)
    for body in (alert, summary, error):
        json.dumps(body, allow_nan=False)
    assert alert["hr_bpm"] is None
    assert summary["bpm"] == {"mean": 65.0, "min": 60.0, "max": 70.0} and summary["normal"] == 3
    assert summary["labels"] == {"normal": 3, "af": 1}
    assert error["errors"] == {"fs": 3, "ecg": 1} and error["total"] == 9
