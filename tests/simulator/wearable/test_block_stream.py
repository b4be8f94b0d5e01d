"""The load generator's cheap path: block-generated chunks written as JSON a block at a time must
be what json.dumps would publish, join seamlessly across blocks and keep the ground truth."""

from __future__ import annotations

import json

import numpy as np
from scipy.signal import butter, find_peaks, sosfiltfilt

from edgeloop.simulator.wearable import Episode, Mix, WearableSimulator
from edgeloop.simulator.wearable.encoding import decimal_texts, encodable
from edgeloop.simulator.wearable.simulator import chunk_blocks, labels_of, stream_json

FS = 250.0


def test_block_text_is_what_json_dumps_writes() -> None:
    rng = np.random.default_rng(1)
    values = np.round(np.r_[rng.normal(0, 2, 3000), [0.0, -0.0, -0.00004, 0.00005, 0.99995, 1.0,
                                                     -999.9999, 12.5, -3e-9]], 4)
    assert encodable(values)
    ends = np.array([250, 2999, values.size])
    texts = decimal_texts(values, ends)
    for text, run in zip(texts, np.split(values, ends[:-1]), strict=False):
        assert b"[" + text + b"]" == json.dumps(run.tolist()).encode()
    assert not encodable(np.array([1.0, 1000.0])) and not encodable(np.array([np.nan]))


def test_json_stream_equals_json_dumps_of_the_payloads_and_keeps_seq() -> None:
    sim = WearableSimulator(FS, seed=2, mix=Mix(normal=0.5, af=0.2, pvc=0.2, noisy=0.1))
    fast = stream_json(sim.device("w-3"), "w-3", 1.0, 1_700_000_000.0, block_chunks=30,
                       first_block_chunks=7)
    slow = chunk_blocks(sim.device("w-3"), 1.0, block_chunks=30, first_block_chunks=7)
    expected = [json.dumps({"device_id": "w-3", "seq": b.first_seq + j,
                            "timestamp": round(1_700_000_000.0 + t0, 3), "fs": FS,
                            "ecg": b.ecg[j].tolist(), "ppg": b.ppg[j].tolist(), "bpm": b.bpm[j]}).encode()
                for b in (next(slow), next(slow), next(slow)) for j, t0 in enumerate(b.starts)]
    got = [next(fast) for _ in expected]
    assert got == expected
    payloads = [json.loads(p) for p in got]
    assert [p["seq"] for p in payloads] == list(range(67))
    assert [p["timestamp"] for p in payloads] == [1_700_000_000.0 + i for i in range(67)]
    assert all(len(p["ecg"]) == len(p["ppg"]) == 250 for p in payloads)


def test_blocks_join_seamlessly_and_labels_stay_true() -> None:
    """Beats crossing block borders (at 7 s and 37 s) are neither lost nor doubled; the labels
    follow the rhythm plan whatever the block size; bpm follows the beats."""
    plan = [Episode("sinus", 40, hr=66), Episode("af", 40, hr=110)]
    gen = WearableSimulator(FS, seed=6).device("w-7", plan)
    blocks = chunk_blocks(gen, 1.0, block_chunks=30, first_block_chunks=7)
    chunks = [next(blocks) for _ in range(3)]  # 7 + 30 + 30 s
    ecg = np.concatenate([b.ecg.ravel() for b in chunks])
    ecg = sosfiltfilt(butter(2, 0.5, btype="highpass", fs=FS, output="sos"), ecg)  # baseline wander
    peaks = find_peaks(ecg, height=0.6 * np.percentile(ecg, 99.9), distance=int(0.25 * FS))[0]
    rr = np.diff(peaks[peaks < 40 * FS]) / FS
    assert abs(len(rr) + 1 - 44) <= 3 and np.all(np.abs(np.diff(rr)) < 0.25 * rr[1:])
    assert labels_of(gen, 67.0) == [(0.0, 40.0, "normal"), (40.0, 67.0, "af")]
    bpm = [v for b in chunks for v in b.bpm]
    assert all(55 < v < 80 for v in bpm[5:38])
