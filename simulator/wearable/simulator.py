"""WearableSimulator: labelled recordings and live 1 s chunks of any number of wearables."""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from edgeloop.contracts.ecg import chunk_message

from . import encoding
from .device import DeviceGenerator
from .mix import Mix
from .rhythm import Episode, intervals

Interval = tuple[float, float, str]  # [start_s, end_s), label


@dataclass
class SimulatedRecording:
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
               device_id: str = "wearable-0000") -> SimulatedRecording:
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
        return SimulatedRecording(ecg, ppg, labels, times[keep], kinds[keep])

    def stream(self, device_id: str, chunk_s: float = 1.0,
               start_time: float | None = None) -> Iterator[dict]:
        """Endless payloads {device_id, seq, timestamp, fs, ecg, ppg, bpm}; `timestamp` is the
        epoch seconds of the chunk's first sample, start_time + seq * chunk_s."""
        gen = self.device(device_id)
        yield from stream_payloads(gen, device_id, chunk_s,
                                   time.time() if start_time is None else start_time)


@dataclass(frozen=True)
class ChunkBlock:
    """`len(bpm)` consecutive chunks generated at once: sample values rounded to 4 decimals as
    published (ecg, ppg: float64, one row per chunk), each chunk's start (s) and displayed bpm."""

    first_seq: int
    starts: list[float]
    ecg: np.ndarray
    ppg: np.ndarray
    bpm: list[float]


def chunk_blocks(gen: DeviceGenerator, chunk_s: float, block_chunks: int = 1,
                 first_block_chunks: int | None = None) -> Iterator[ChunkBlock]:
    """The device's chunks, generated `block_chunks` at a time (the first block may be shorter,
    so that many devices do not all generate in the same second).

    Rendering cost is mostly per call, so 30 s blocks cost ~10x less per chunk than 1 s ones. With
    block_chunks=1 the chunks are exactly those of a chunk-at-a-time stream; larger blocks give
    the same device (traits, rhythm plan, labels) with other random draws (noise, beat jitter).
    """
    n = round(chunk_s * gen.fs)
    if n < 1:
        raise ValueError(f"chunk_s {chunk_s!r}: shorter than one sample")
    if block_chunks < 1 or (first_block_chunks is not None and first_block_chunks < 1):
        raise ValueError(f"block_chunks {block_chunks!r} / {first_block_chunks!r}: must be >= 1")
    seq, k = 0, first_block_chunks or block_chunks
    while True:
        t0 = gen.t
        ecg, ppg = gen.block(n * k)
        ends = [t0 + ((j + 1) * n) / gen.fs for j in range(k - 1)]
        bpm = gen.bpms(ends)
        starts = [t0, *ends]
        gen.forget_past()
        bpm.append(gen.bpm())
        block = ChunkBlock(seq, starts, np.round(ecg.astype(float), 4).reshape(k, n),
                           np.round(ppg.astype(float), 4).reshape(k, n), bpm)
        del ecg, ppg  # a live stream holds one block per device: keep only what it publishes
        yield block
        seq += k
        k = block_chunks


def stream_payloads(gen: DeviceGenerator, device_id: str, chunk_s: float,
                    start_time: float, block_chunks: int = 1) -> Iterator[dict]:
    """Chunks of a device generator as gateway payloads (ground truth stays in gen.episodes)."""
    for block in chunk_blocks(gen, chunk_s, block_chunks):
        yield from _payloads(block, device_id, gen.fs, start_time)


def _payloads(block: ChunkBlock, device_id: str, fs: float, start_time: float) -> Iterator[dict]:
    for j, t0 in enumerate(block.starts):
        yield chunk_message(device_id=device_id, seq=block.first_seq + j, timestamp=round(start_time + t0, 3),
                            fs=fs, ecg=block.ecg[j].tolist(), ppg=block.ppg[j].tolist(), bpm=block.bpm[j])


def stream_json(gen: DeviceGenerator, device_id: str, chunk_s: float, start_time: float,
                block_chunks: int = 1, first_block_chunks: int | None = None) -> Iterator[bytes]:
    """The same payloads as `stream_payloads` (the contract's chunk_message), as the bytes
    json.dumps(payload) would give, written a block at a time by `encoding` (~10x cheaper than
    json.dumps per chunk)."""
    head = json.dumps({"device_id": device_id})[:-1].encode() + b', "seq": '
    fs = repr(gen.fs).encode()
    for block in chunk_blocks(gen, chunk_s, block_chunks, first_block_chunks):
        k, n = block.ecg.shape
        if not (encoding.encodable(block.ecg) and encoding.encodable(block.ppg)):
            # values outside the tables: the general path
            yield from (json.dumps(p).encode() for p in _payloads(block, device_id, gen.fs, start_time))
            continue
        ends = np.arange(1, k + 1) * n
        ecg = encoding.decimal_texts(block.ecg.ravel(), ends)
        ppg = encoding.decimal_texts(block.ppg.ravel(), ends)
        first, starts, bpm = block.first_seq, block.starts, block.bpm
        del block  # only the texts are kept while the block's chunks go out
        for j, t0 in enumerate(starts):
            yield b"".join((head, str(first + j).encode(), b', "timestamp": ',
                            repr(round(start_time + t0, 3)).encode(), b', "fs": ', fs,
                            b', "ecg": [', ecg[j], b'], "ppg": [', ppg[j], b'], "bpm": ',
                            repr(float(bpm[j])).encode(), b"}"))


def labels_of(gen: DeviceGenerator, until_s: float) -> list[Interval]:
    """Ground-truth intervals of a device generator up to `until_s` seconds of signal."""
    return [(a, min(b, until_s), lab) for a, b, lab in
            intervals([ep for _, ep in gen.episodes]) if a < until_s]
