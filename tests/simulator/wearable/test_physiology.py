"""What a cardiologist-engineer checks in simulated ECG/PPG: rate, rhythm, morphology, artifacts."""

from __future__ import annotations

import itertools
import time

import numpy as np
import pytest
from scipy.signal import butter, find_peaks, sosfiltfilt, welch

from edgeloop.simulator.wearable import Episode, Mix, WearableSimulator, label_for
from edgeloop.simulator.wearable.beats import PVC, SINUS
from edgeloop.simulator.wearable.rhythm import LABELS

FS = 250


HIGH_PASS = butter(2, 0.5, btype="highpass", fs=FS, output="sos")


def r_peaks(ecg: np.ndarray) -> np.ndarray:
    """A plain R-peak detector: local maxima above 60 % of the R amplitude, 250 ms refractory.

    The baseline wanders by a few tenths of a mV (as on any wearer), so the signal is high-passed
    first, and the R amplitude is the median of 1.5 s maxima (one tall beat does not set it)."""
    x = sosfiltfilt(HIGH_PASS, ecg)
    block = int(1.5 * FS)
    r_amp = np.median(x[: x.size // block * block].reshape(-1, block).max(axis=1))
    return find_peaks(x, height=0.6 * r_amp, distance=int(0.25 * FS))[0]


def rmssd_ratio(peaks: np.ndarray) -> float:
    rr = np.diff(peaks) / FS
    return float(np.sqrt(np.mean(np.diff(rr) ** 2)) / rr.mean())


@pytest.mark.parametrize("hr", [48, 72, 95, 135])
@pytest.mark.parametrize("seed", [0, 7])
def test_r_peak_count_matches_intended_rate(hr: float, seed: int) -> None:
    rec = WearableSimulator(seed=seed).record(1, [Episode("sinus", 60, hr=hr)])
    assert abs(len(r_peaks(rec.ecg)) - hr) <= 0.05 * hr
    assert rec.labels == [(0.0, 60.0, "normal")]


def test_af_is_irregular_and_sinus_is_not() -> None:
    sim = WearableSimulator(seed=3)
    rec = sim.record(2, [Episode("sinus", 60, hr=85), Episode("af", 60, hr=100)])
    sinus, af = rec.ecg[: 60 * FS], rec.ecg[60 * FS:]
    ratio_sinus, ratio_af = rmssd_ratio(r_peaks(sinus)), rmssd_ratio(r_peaks(af))
    assert ratio_sinus < 0.08 and ratio_af > 0.15
    assert rec.labels == [(0.0, 60.0, "normal"), (60.0, 120.0, "af")]
    # No P wave in the R-aligned average, but beat-to-beat 4-9 Hz activity before each QRS.
    p_sinus, f_sinus = pre_qrs(sinus)
    p_af, f_af = pre_qrs(af)
    assert p_sinus > 0.15 and p_af < 0.4 * p_sinus
    assert f_af > 3 * f_sinus


def pre_qrs(ecg: np.ndarray) -> tuple[float, float]:
    """(P-wave bump of the R-aligned average 250-90 ms before R, mean across-beat std there of
    the 4-9 Hz band-passed signal): P waves are phase-locked to R, f-waves are not."""
    peaks = r_peaks(ecg)
    peaks = peaks[(peaks > FS) & (peaks < len(ecg) - FS)]
    window = np.arange(-int(0.25 * FS), -int(0.09 * FS))
    beats = ecg[peaks[:, None] + window]
    average = beats.mean(axis=0)
    bump = float(average.max() - min(average[0], average[-1]))
    band = sosfiltfilt(butter(2, [4, 9], btype="band", fs=FS, output="sos"), ecg)
    return bump, float(band[peaks[:, None] + window].std(axis=0).mean())


def qrs_width_s(ecg: np.ndarray, t_beat: float) -> float:
    """Width at half amplitude of the largest deflection (either polarity) near the beat time,
    on the high-passed signal."""
    x = sosfiltfilt(HIGH_PASS, ecg)
    i0 = round(float(t_beat) * FS)
    lo, hi = max(i0 - 25, 0), min(i0 + 25, len(x))
    i = lo + int(np.argmax(np.abs(x[lo:hi])))
    y = x * np.sign(x[i])
    half = y[i] / 2
    a = i
    while a > 0 and y[a] > half:
        a -= 1
    b = i
    while b < len(y) - 1 and y[b] > half:
        b += 1
    return (b - a) / FS


def pvc_runs(kinds: np.ndarray) -> list[tuple[int, int]]:
    """[first, last] beat indices of each PVC run that has two sinus beats before it and one after."""
    runs, k = [], 2
    while k < len(kinds) - 1:
        if kinds[k] == PVC and kinds[k - 1] == SINUS and kinds[k - 2] == SINUS:
            end = k
            while end + 1 < len(kinds) and kinds[end + 1] == PVC:
                end += 1
            if end + 1 < len(kinds):
                runs.append((k, end))
            k = end + 1
        else:
            k += 1
    return runs


def complexes(ecg: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Unit-length, centred -100..+160 ms segments of the high-passed ECG around each beat."""
    x = sosfiltfilt(HIGH_PASS, ecg)
    idx = np.round(times * FS).astype(int)[:, None] + np.arange(-25, 40)
    seg = x[np.clip(idx, 0, len(x) - 1)]
    seg = seg - seg.mean(axis=1, keepdims=True)
    return seg / np.linalg.norm(seg, axis=1, keepdims=True)


def test_pvc_episodes_vary_like_real_ectopy() -> None:
    """PVCs are wide and come early (up to end-diastolic), singly or in couplets; after them a
    fully compensatory pause, an interpolated beat or a reset sinus node; burden differs between
    episodes, and some wearers have several PVC morphologies, each recurring."""
    burdens, coupling, after, couplets, multiform = [], [], [], 0, 0
    for device in range(8):
        hr = 55.0 + 5 * device    # interpolated PVCs need a slow sinus rate
        rec = WearableSimulator(seed=5).record(2, [Episode("pvc", 120, hr=hr)], device_id=f"w-{device}")
        kinds, times = rec.beat_kinds, rec.beat_times
        assert rec.labels == [(0.0, 120.0, "other")]
        burdens.append(float(np.mean(kinds == PVC)))
        for first, last in pvc_runs(kinds):
            sinus_rr = times[first - 1] - times[first - 2]
            coupling.append((times[first] - times[first - 1]) / sinus_rr)
            assert times[last + 1] - times[last] >= 0.32                    # ventricle recovered
            after.append((times[last + 1] - times[first - 1]) / sinus_rr)  # 2 = compensatory
            couplets += last > first
        sinus = np.flatnonzero(kinds == SINUS)[1:-1]
        pvc = np.flatnonzero(kinds == PVC)
        pvc = pvc[(pvc > 0) & (pvc < len(kinds) - 1)]
        if pvc.size >= 4:
            early = [k for k in pvc if kinds[k - 1] == SINUS and times[k] - times[k - 1] < 0.85 * (60 / hr)]
            w_pvc = np.median([qrs_width_s(rec.ecg, times[k]) for k in early])
            w_sinus = np.median([qrs_width_s(rec.ecg, times[k]) for k in sinus])
            assert w_sinus < 0.04 and w_pvc > 2 * w_sinus
            corr = complexes(rec.ecg, times[pvc]) @ complexes(rec.ecg, times[pvc]).T
            recurring = np.sort(corr, axis=1)[:, -2] > 0.9       # best match other than itself
            multiform += bool(corr.min() < 0.5 and recurring.mean() > 0.8)
    assert min(burdens) >= 0.02 and max(burdens) <= 0.6 and max(burdens) - min(burdens) > 0.15
    # early, from clearly premature to end-diastolic (within the sinus rate's own variability)
    assert max(coupling) < 1.03 and min(coupling) < 0.6 and 0.5 < np.median(coupling) < 0.9
    after = np.array(after)
    assert np.any(np.abs(after - 2) < 0.1) and np.any(after < 1.2)  # compensatory and interpolated
    assert couplets > 0 and multiform >= 2


def test_mains_hum_shows_at_50_or_60_hz_in_noisy_segments() -> None:
    rec = WearableSimulator(seed=11).record(1, [Episode("sinus", 30, hr=70),
                                                Episode("sinus", 30, hr=70, artifact="hum")])
    f, clean = welch(rec.ecg[: 30 * FS], FS, nperseg=1024)
    _, noisy = welch(rec.ecg[30 * FS:], FS, nperseg=1024)
    high = f > 40
    peak = f[high][np.argmax(noisy[high])]
    assert min(abs(peak - 50), abs(peak - 60)) < 1.0
    k = np.argmin(abs(f - peak))
    assert noisy[k] > 100 * clean[k]
    assert rec.labels == [(0.0, 30.0, "normal"), (30.0, 60.0, "noisy")]


def test_lead_off_is_a_flat_line_while_the_ppg_keeps_pulsing() -> None:
    rec = WearableSimulator(seed=2).record(1, [Episode("sinus", 20, hr=70),
                                               Episode("sinus", 20, hr=70, artifact="lead_off"),
                                               Episode("sinus", 20, hr=70)])
    off = slice(20 * FS, 40 * FS)
    assert np.ptp(rec.ecg[off]) == 0.0
    assert np.ptp(rec.ecg[: 20 * FS]) > 0.5 and np.ptp(rec.ecg[40 * FS:]) > 0.5
    assert rec.ppg[off].std() > 0.1
    assert abs(len(find_peaks(rec.ppg[off], prominence=0.4, distance=int(0.3 * FS))[0]) - 70 / 3) <= 3


def test_ppg_pulse_follows_each_beat_after_an_arrival_delay() -> None:
    rec = WearableSimulator(seed=4).record(1, [Episode("sinus", 60, hr=66)])
    ecg_peaks = r_peaks(rec.ecg) / FS
    ppg_peaks = find_peaks(rec.ppg, prominence=0.4, distance=int(0.3 * FS))[0] / FS
    assert abs(len(ppg_peaks) - len(ecg_peaks)) <= 1
    delays = [p - ecg_peaks[ecg_peaks < p].max() for p in ppg_peaks if p > ecg_peaks[0]]
    assert 0.2 < np.median(delays) < 0.5


def test_label_policy_of_the_four_class_screener() -> None:
    assert label_for("sinus", 130) == label_for("sinus", 45) == "normal"   # tachy / brady
    assert label_for("sinus", 170) == label_for("sinus", 35) == "other"    # extreme rates
    assert label_for("pvc", 70) == label_for("bigeminy", 70) == "other"
    assert label_for("af", 110) == "af"
    assert label_for("af", 110, artifact="motion") == "noisy"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_labels_cover_the_record_without_gaps_or_overlaps(seed: int) -> None:
    mix = Mix(normal=0.4, af=0.2, pvc=0.2, noisy=0.2)
    ecg, ppg, labels = WearableSimulator(seed=seed, mix=mix).record(10)
    assert len(ecg) == len(ppg) == 10 * 60 * FS and ecg.dtype == np.float32
    assert labels[0][0] == 0.0 and labels[-1][1] == 600.0
    for (_, end, label), (start, _, next_label) in itertools.pairwise(labels):
        assert end == start and label != next_label
    assert all(a < b and lab in LABELS for a, b, lab in labels)
    assert len({lab for _, _, lab in labels}) >= 2  # episodes start and stop inside the stream


def test_deterministic_per_seed_and_device() -> None:
    a = WearableSimulator(seed=9).record(0.5, device_id="w-1")
    b = WearableSimulator(seed=9).record(0.5, device_id="w-1")
    c = WearableSimulator(seed=9).record(0.5, device_id="w-2")
    assert np.array_equal(a.ecg, b.ecg) and a.labels == b.labels
    assert not np.array_equal(a.ecg, c.ecg)


def test_stream_chunks_join_seamlessly() -> None:
    """Beats crossing 1 s chunk borders are neither lost nor doubled."""
    sim = WearableSimulator(seed=6, mix=Mix(normal=1.0, af=0.0, pvc=0.0, noisy=0.0))
    stream = sim.stream("w-7", chunk_s=1.0, start_time=1000.0)
    chunks = [next(stream) for _ in range(60)]
    assert [c["seq"] for c in chunks] == list(range(60))
    assert [c["timestamp"] for c in chunks] == [1000.0 + i for i in range(60)]
    ecg = np.concatenate([c["ecg"] for c in chunks])
    rr = np.diff(r_peaks(ecg)) / FS
    assert np.all(np.abs(np.diff(rr)) < 0.25 * rr[1:])
    assert abs(chunks[-1]["bpm"] - 60 / rr[-8:].mean()) < 0.1 * chunks[-1]["bpm"]


def test_ten_minutes_of_twenty_devices_take_seconds() -> None:
    sim = WearableSimulator(seed=0)
    start = time.perf_counter()
    for i in range(20):
        sim.record(10, device_id=f"wearable-{i:04d}")
    assert time.perf_counter() - start < 10.0
