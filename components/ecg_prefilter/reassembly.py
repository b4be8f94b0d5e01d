"""One wearable's chunks back into a continuous signal, cut into fixed windows by sample count.

Wearables publish 1 s chunks {seq, timestamp, ecg[]} over MQTT, so the gateway sees duplicates
(QoS 1 resends), chunks out of order, chunks missing, and devices that restart their sequence.
`DeviceStream.offer` takes one validated chunk and returns the windows it completed:

* seq is the order; the sample count is the clock. Windows are cut every `hop` samples (never by
  wall clock: simulators and buffered devices publish faster than real time), and a window's start
  time is its first chunk's timestamp plus samples / fs.
* A chunk ahead of the next expected seq is held; the missing one is still placed if it arrives
  before a chunk more than `reorder_chunks` ahead of it does (counted "reordered").
* After that the missing chunks are declared lost ("gaps", "missing_chunks"): a gap up to
  `max_gap_s` is filled by linear interpolation ("gaps_filled"; the window reports its filled
  seconds), a longer one drops the partial window and starts a new one at the next chunk
  ("gap_restarts", "samples_discarded").
* A chunk behind the next expected seq is a duplicate if it was placed, or "late" if it was declared
  lost (or precedes the stream's first chunk); either way it is dropped.
* Timestamps are checked against seq: a chunk behind the expected seq whose timestamp is clearly
  later than that seq's position is a device restart (its counter went back to 0): the old stream
  is flushed and a fresh one starts ("restarts"). A chunk ahead whose timestamp is clearly earlier
  than its position belongs to an older stream and is "late". A gap is sized by the timestamps when
  they agree with the seq count, else by the seq count ("clock_mismatches").

Samples are kept as float32 in one preallocated array per device (appends are slice copies, no
per-sample Python): at 250 Hz a 60 s window is 60 KB, so 1,000 wearables need about 60-80 MB.
float32 resolves far below the 1 uV of the forwarded window.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

COUNTERS = ("chunks", "duplicates", "reordered", "late", "gaps", "missing_chunks", "gaps_filled",
            "gap_restarts", "restarts", "clock_mismatches", "samples_discarded", "windows")


class ChunkLike(Protocol):
    """What reassembly needs of a chunk (contracts.ecg.Chunk has it)."""

    @property
    def seq(self) -> int: ...
    @property
    def timestamp(self) -> float: ...
    @property
    def ecg(self) -> np.ndarray: ...


@dataclass(frozen=True)
class StreamConfig:
    """Window geometry and tolerance of a device stream."""

    fs: float = 250.0
    window_s: float = 60.0
    hop_s: float = 60.0
    reorder_chunks: int = 3
    max_gap_s: float = 2.0

    def __post_init__(self) -> None:
        if not self.fs > 0 or not self.window_s > 0 or not 0 < self.hop_s <= self.window_s:
            raise ValueError(f"need fs > 0 and 0 < hop_s <= window_s, got fs {self.fs!r}, window_s "
                             f"{self.window_s!r}, hop_s {self.hop_s!r}")
        if self.reorder_chunks < 0 or self.max_gap_s < 0:
            raise ValueError(f"reorder_chunks {self.reorder_chunks!r} and max_gap_s {self.max_gap_s!r} "
                             "must be >= 0")

    @property
    def window_n(self) -> int:
        return round(self.window_s * self.fs)

    @property
    def hop_n(self) -> int:
        return round(self.hop_s * self.fs)

    @property
    def max_gap_n(self) -> int:
        return round(self.max_gap_s * self.fs)


@dataclass(frozen=True)
class StreamWindow:
    """A complete window of one device: `ecg` float64 mV, `gaps_s` of it filled by interpolation."""

    device_id: str
    start: float
    fs: float
    ecg: np.ndarray
    gaps_s: float

    @property
    def end(self) -> float:
        return self.start + self.ecg.size / self.fs

    @property
    def window_id(self) -> str:
        """Unique per device and start (ms): the same window is the same id in alerts and the archive."""
        return f"{self.device_id}-{round(self.start * 1000)}"


@dataclass
class DeviceStream:
    """Reassembly state of one device (see the module docstring); not thread-safe."""

    device_id: str
    config: StreamConfig = field(default_factory=StreamConfig)
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTERS, 0))

    def __post_init__(self) -> None:
        self._buf = np.empty(self.config.window_n + round(2 * self.config.fs), dtype=np.float32)
        self._n = 0                                   # valid samples in _buf
        self._start = 0.0                             # epoch time of _buf[0]
        self._gaps: list[tuple[int, int]] = []        # (offset, length) of filled samples in _buf
        self._reset_sequence()

    def _reset_sequence(self) -> None:
        self._next: int | None = None                 # the seq to place next
        self._first = 0                               # the first seq of this stream
        self._last_ts = 0.0                           # timestamp and duration of the last placed chunk
        self._last_dur = 1.0
        self._last_value = 0.0                        # its last sample (interpolation anchor)
        self._pending: dict[int, ChunkLike] = {}
        self._lost: deque[tuple[int, int]] = deque(maxlen=64)   # seq ranges declared lost
        self._fresh = True                            # the next placed chunk starts the buffer's clock

    # -- public ---------------------------------------------------------------------------------
    @property
    def buffered_s(self) -> float:
        """Seconds of signal waiting for the next window."""
        return self._n / self.config.fs

    @property
    def held(self) -> int:
        """Chunks held back waiting for a missing one."""
        return len(self._pending)

    def offer(self, chunk: ChunkLike) -> list[StreamWindow]:
        """Place one chunk; returns the windows it completed (usually none)."""
        self.counts["chunks"] += 1
        seq = chunk.seq
        if self._next is None:
            self._first = seq
            return self._place(chunk)
        if seq < self._next:
            if chunk.timestamp > self._expected_ts(seq) + self._tolerance(restart=True):
                return self._restart(chunk)
            lost = seq < self._first or any(lo <= seq <= hi for lo, hi in self._lost)
            self.counts["late" if lost else "duplicates"] += 1
            return []
        if seq in self._pending:
            self.counts["duplicates"] += 1
            return []
        if seq > self._next:
            if chunk.timestamp < self._expected_ts(seq) - self._tolerance(restart=True):
                self.counts["late"] += 1          # from before a restart: older than this stream
                return []
            self._pending[seq] = chunk
            out: list[StreamWindow] = []
            while self._pending and max(self._pending) - self._next > self.config.reorder_chunks:
                out += self._declare_lost()
            return out
        if self._pending:
            self.counts["reordered"] += 1
        if abs(chunk.timestamp - (self._last_ts + self._last_dur)) > self._tolerance():
            self.counts["clock_mismatches"] += 1      # contiguous by seq: the samples are the truth
        out = self._place(chunk)
        return out + self._drain()

    def flush(self) -> list[StreamWindow]:
        """Give up on every missing chunk and place the held ones (a restart, or a stream's end)."""
        out: list[StreamWindow] = []
        while self._pending:
            out += self._declare_lost()
        return out

    # -- sequence -------------------------------------------------------------------------------
    def _expected_ts(self, seq: int) -> float:
        """Where `seq` should start in time, extrapolated from the last placed chunk."""
        return self._last_ts + (seq - (self._next - 1)) * self._last_dur   # type: ignore[operator]

    def _tolerance(self, restart: bool = False) -> float:
        """Timestamp slack: half a chunk for contiguity, two chunks (>= 2 s) for stream identity."""
        return max(2 * self._last_dur, 2.0) if restart else max(0.5 * self._last_dur, 0.1)

    def _drain(self) -> list[StreamWindow]:
        out: list[StreamWindow] = []
        while self._next in self._pending:
            out += self._place(self._pending.pop(self._next))
        return out

    def _declare_lost(self) -> list[StreamWindow]:
        """The lowest held chunk follows a gap: size it, fill or restart the window, place it."""
        seq = min(self._pending)
        chunk = self._pending.pop(seq)
        missing = seq - self._next                    # type: ignore[operator]
        by_seq = missing * self._last_dur
        by_time = chunk.timestamp - (self._last_ts + self._last_dur)
        if abs(by_time - by_seq) <= self._tolerance():
            gap_s = max(by_time, 0.0)
        else:
            gap_s = by_seq
            self.counts["clock_mismatches"] += 1
        self._lost.append((self._next, seq - 1))      # type: ignore[arg-type]
        self.counts["gaps"] += 1
        self.counts["missing_chunks"] += missing
        gap_n = round(gap_s * self.config.fs)
        if gap_n <= self.config.max_gap_n:
            self.counts["gaps_filled"] += 1
            first = float(chunk.ecg[0])
            fill = np.linspace(self._last_value, first, gap_n + 2)[1:-1]
            self._gaps.append((self._n, gap_n))
            self._append(fill)
        else:
            self.counts["gap_restarts"] += 1
            self._discard()
        out = self._place(chunk)
        return out + self._drain()

    def _restart(self, chunk: ChunkLike) -> list[StreamWindow]:
        """The device restarted its sequence: finish the old stream, then start afresh."""
        out = self.flush()
        self.counts["restarts"] += 1
        self._discard()
        self._reset_sequence()
        self._first = chunk.seq
        return out + self._place(chunk)

    # -- samples --------------------------------------------------------------------------------
    def _discard(self) -> None:
        self.counts["samples_discarded"] += self._n
        self._n = 0
        self._gaps.clear()
        self._fresh = True

    def _append(self, samples: np.ndarray) -> None:
        k = samples.size
        if self._n + k > self._buf.size:
            grown = np.empty(max(2 * self._buf.size, self._n + k), dtype=np.float32)
            grown[:self._n] = self._buf[:self._n]
            self._buf = grown
        self._buf[self._n:self._n + k] = samples
        self._n += k

    def _place(self, chunk: ChunkLike) -> list[StreamWindow]:
        ecg = chunk.ecg
        if self._fresh:
            self._start = chunk.timestamp - self._n / self.config.fs
            self._fresh = False
        self._append(ecg)
        self._next = chunk.seq + 1
        self._last_ts = chunk.timestamp
        self._last_dur = ecg.size / self.config.fs
        self._last_value = float(ecg[-1])
        return self._cut()

    def _cut(self) -> list[StreamWindow]:
        width, hop, fs = self.config.window_n, self.config.hop_n, self.config.fs
        out: list[StreamWindow] = []
        while self._n >= width:
            filled = sum(min(off + length, width) - off for off, length in self._gaps if off < width)
            out.append(StreamWindow(self.device_id, self._start, fs, self._buf[:width].astype(np.float64),
                              filled / fs))
            keep = self._n - hop
            self._buf[:keep] = self._buf[hop:self._n]
            self._n = keep
            self._start += hop / fs
            self._gaps = [(off - hop, length) if off >= hop else (0, off + length - hop)
                          for off, length in self._gaps if off + length > hop]
            self.counts["windows"] += 1
        return out
