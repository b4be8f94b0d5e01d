"""Reassembly of one wearable's chunks: duplicates, reordering, late chunks, gaps, restarts, windows.

Chunks carry a ramp (sample k of the device's signal has the value k / 1000 mV), so a window shows
exactly which samples it holds. 10 Hz, 1 s chunks of 10 samples, 5 s windows keep the numbers small.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgeloop.components.ecg_prefilter.reassembly import DeviceStream, StreamConfig
from edgeloop.contracts.ecg import Chunk

FS = 10.0
T0 = 1_700_000_000.0


def chunk(seq: int, t0: float = T0, offset: int = 0, n: int = 10) -> Chunk:
    """Chunk `seq` of a stream that started at `t0`; `offset` shifts the ramp (another stream)."""
    first = seq * n + offset
    ecg = np.arange(first, first + n) / 1000.0
    return Chunk("w-1", seq, t0 + seq * n / FS, FS, ecg, np.empty(0), None, 0)


def stream(reorder: int = 3, max_gap_s: float = 2.0, window_s: float = 5.0, hop_s: float = 5.0) -> DeviceStream:
    return DeviceStream("w-1", StreamConfig(FS, window_s, hop_s, reorder, max_gap_s))


def feed(s: DeviceStream, seqs, **kw) -> list:
    out = []
    for seq in seqs:
        out += s.offer(chunk(seq, **kw) if isinstance(seq, int) else seq)
    return out


def ramp(first: int, n: int = 50) -> np.ndarray:
    return np.arange(first, first + n) / 1000.0


def test_in_order_chunks_make_contiguous_windows_by_sample_count() -> None:
    s = stream()
    windows = feed(s, range(12))
    assert [w.start for w in windows] == [T0, T0 + 5]
    np.testing.assert_allclose(windows[0].ecg, ramp(0), atol=1e-7)
    np.testing.assert_allclose(windows[1].ecg, ramp(50), atol=1e-7)
    assert windows[0].window_id == f"w-1-{round(T0 * 1000)}" and windows[0].end == T0 + 5
    assert s.buffered_s == 2.0 and s.counts["windows"] == 2 and s.counts["chunks"] == 12
    assert all(w.gaps_s == 0 for w in windows)


def test_hop_shorter_than_the_window_overlaps_windows() -> None:
    windows = feed(stream(window_s=5, hop_s=2), range(10))
    assert [w.start - T0 for w in windows] == [0, 2, 4]
    np.testing.assert_allclose(windows[2].ecg, ramp(40), atol=1e-7)


def test_duplicates_are_dropped_and_counted() -> None:
    s = stream()
    windows = feed(s, [0, 1, 2, 2, 1, 4, 4, 3, 3, 5])   # 4 resent while held, 3 resent after placing
    assert s.counts["duplicates"] == 4
    assert len(windows) == 1
    np.testing.assert_allclose(windows[0].ecg, ramp(0), atol=1e-7)


def test_out_of_order_chunks_within_the_reorder_limit_are_placed() -> None:
    s = stream(reorder=3)
    windows = feed(s, [0, 2, 3, 1, 4, 6, 7, 8, 5, 9])   # 1 trails 2 chunks, 5 trails 3
    assert s.counts["reordered"] == 2 and s.counts["gaps"] == 0 and s.counts["late"] == 0
    np.testing.assert_allclose(np.concatenate([w.ecg for w in windows]), ramp(0, 100), atol=1e-7)


def test_a_chunk_trailing_too_far_is_late_and_its_gap_is_interpolated() -> None:
    s = stream(reorder=1)
    windows = feed(s, [0, 1, 3, 4, 2, 5])   # 2 is given up when 4 arrives
    assert (s.counts["gaps"], s.counts["missing_chunks"], s.counts["gaps_filled"], s.counts["late"]) == (1, 1, 1, 1)
    (w,) = windows
    assert w.gaps_s == 1.0 and w.start == T0
    np.testing.assert_allclose(w.ecg[:20], ramp(0, 20), atol=1e-7)
    np.testing.assert_allclose(w.ecg[30:], ramp(30, 20), atol=1e-7)
    # linear from the last sample before the gap (0.019) to the first after it (0.030)
    np.testing.assert_allclose(w.ecg[20:30], np.linspace(0.019, 0.030, 12)[1:-1], atol=1e-7)
    assert w.ecg.size == 50   # the gap keeps the window's length in time


def test_a_gap_longer_than_max_gap_restarts_the_window() -> None:
    s = stream(reorder=0, max_gap_s=2.0)
    windows = feed(s, [0, 1, 5, 6, 7, 8, 9, 10])   # 3 s missing
    assert (s.counts["gaps"], s.counts["gap_restarts"], s.counts["gaps_filled"]) == (1, 1, 0)
    assert s.counts["missing_chunks"] == 3 and s.counts["samples_discarded"] == 20
    (w,) = windows
    assert w.start == T0 + 5 and w.gaps_s == 0
    np.testing.assert_allclose(w.ecg, ramp(50), atol=1e-7)


def test_a_gap_is_sized_by_the_seq_count_when_timestamps_disagree() -> None:
    s = stream(reorder=0)
    odd = chunk(3)
    odd = Chunk(odd.device_id, odd.seq, odd.timestamp + 30, FS, odd.ecg, odd.ppg, None, 0)  # clock jumped
    windows = feed(s, [0, 1, 2, odd, 4])
    assert s.counts["clock_mismatches"] >= 1 and s.counts["gaps"] == 0   # seq 3 follows 2: nothing lost
    np.testing.assert_allclose(windows[0].ecg, ramp(0), atol=1e-7)


def test_a_device_restart_starts_a_fresh_stream() -> None:
    s = stream()
    feed(s, range(7))                                   # 2 s of the first stream waiting
    later = T0 + 100
    windows = feed(s, range(6), t0=later, offset=10_000)
    assert s.counts["restarts"] == 1 and s.counts["samples_discarded"] == 20
    assert s.counts["duplicates"] == 0 and s.counts["late"] == 0
    (w,) = windows
    assert w.start == later
    np.testing.assert_allclose(w.ecg, ramp(10_000), atol=1e-7)


def test_a_chunk_from_before_a_restart_is_late() -> None:
    s = stream()
    feed(s, range(3))
    feed(s, range(2), t0=T0 + 100, offset=10_000)
    feed(s, [chunk(3)])                               # the old stream's next chunk, arriving late
    assert s.counts["late"] == 1 and s.held == 0


def test_flush_places_held_chunks_across_the_gap() -> None:
    s = stream(reorder=5)
    feed(s, [0, 1, 2, 4])
    assert s.held == 1
    (w,) = s.flush()                                  # 3 s + 1 s filled + chunk 4 = one window
    assert s.held == 0 and s.counts["gaps_filled"] == 1 and w.gaps_s == 1.0
    np.testing.assert_allclose(w.ecg[40:], ramp(40, 10), atol=1e-7)


@pytest.mark.parametrize("kw", [{"window_s": 5, "hop_s": 6}, {"reorder_chunks": -1}, {"fs": 0}])
def test_an_impossible_stream_configuration_is_refused(kw: dict) -> None:
    base = {"fs": FS, "window_s": 5.0, "hop_s": 5.0, "reorder_chunks": 1, "max_gap_s": 1.0}
    with pytest.raises(ValueError):
        StreamConfig(**{**base, **kw})
