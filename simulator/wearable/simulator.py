"""WearableSimulator: labelled recordings and live 1 s chunks of any number of wearables."""

from __future__ import annotations

import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from .device import DeviceGenerator
from .mix import Mix
from .rhythm import Episode, intervals

Interval = tuple[float, float, str]  # [start_s, end_s), label


@dataclass
class Recording:
    """ECG (mV) and PPG as float32, ground-truth label intervals, and the R-wave times/kinds
    (0 sinus, 1 PVC, 2 AF) for evaluation. Unpacks as `ecg, ppg, labels = recording`."""

    ecg: np.ndarray
    ppg: np.ndarray
    labels: list[Interval]
    beat_times: np.ndarray = field(repr=False)
    beat_kinds: np.ndarray = field(repr=False)

    def __iter__(self) -> Iterator:
        return iter((self.ecg, self.ppg, self.labels))


def device_ids(n: int) -> list[str]:
    return [f"wearable-{i:04d}" for i in range(n)]


class WearableSimulator:
    """Deterministic for (seed, device_id): the same device has the same traits (gain, mains
    frequency, breathing rate, HRV) in a record and a stream; episodes are drawn from `mix`."""

    def __init__(self, fs: float = 250.0, seed: int = 0, mix: Mix | None = None) -> None:
        if not 100 <= fs <= 2000:
            raise ValueError(f"fs {fs!r}: expected 100..2000 Hz")
        self.fs = float(fs)
        self.seed = seed
        self.mix = mix or Mix()

    def device(self, device_id: str, plan: list[Episode] | None = None) -> DeviceGenerator:
        rng = np.random.default_rng([self.seed, zlib.crc32(device_id.encode())])
        return DeviceGenerator(self.fs, rng, mix=None if plan else self.mix, plan=plan)

    def record(self, minutes: float, rhythm_plan: list[Episode] | None = None,
               device_id: str = "wearable-0000") -> Recording:
        """`minutes` of one device; episodes from `rhythm_plan` (must cover the record) or the mix."""
        if not minutes > 0:
            raise ValueError(f"minutes {minutes!r}: must be positive")
        gen = self.device(device_id, rhythm_plan)
        n = round(minutes * 60 * self.fs)
        ecg, ppg = gen.block(n)
        duration = n / self.fs
        labels = [(a, min(b, duration), lab) for a, b, lab in
                  intervals([ep for _, ep in gen.episodes]) if a < duration]
        times, kinds, _ = gen.beats.arrays()
        keep = (times >= 0) & (times < duration)
        return Recording(ecg, ppg, labels, times[keep], kinds[keep])

    def stream(self, device_id: str, chunk_s: float = 1.0,
               start_time: float | None = None) -> Iterator[dict]:
        """Endless payloads {device_id, seq, timestamp, fs, ecg, ppg, bpm}; `timestamp` is the
        epoch seconds of the chunk's first sample, start_time + seq * chunk_s."""
        gen = self.device(device_id)
        yield from stream_payloads(gen, device_id, chunk_s,
                                   time.time() if start_time is None else start_time)


def stream_payloads(gen: DeviceGenerator, device_id: str, chunk_s: float,
                    start_time: float) -> Iterator[dict]:
    """Chunks of a device generator as gateway payloads (ground truth stays in gen.episodes)."""
    n = round(chunk_s * gen.fs)
    if n < 1:
        raise ValueError(f"chunk_s {chunk_s!r}: shorter than one sample")
    seq = 0
    while True:
        t0 = gen.t
        ecg, ppg = gen.block(n)
        gen.forget_past()
        yield {"device_id": device_id, "seq": seq, "timestamp": round(start_time + t0, 3),
               "fs": gen.fs, "ecg": np.round(ecg.astype(float), 4).tolist(),
               "ppg": np.round(ppg.astype(float), 4).tolist(),
               "bpm": gen.bpm()}
        seq += 1


def labels_of(gen: DeviceGenerator, until_s: float) -> list[Interval]:
    """Ground-truth intervals of a device generator up to `until_s` seconds of signal."""
    return [(a, min(b, until_s), lab) for a, b, lab in
            intervals([ep for _, ep in gen.episodes]) if a < until_s]
