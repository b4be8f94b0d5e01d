"""Plant telemetry for training: the CSV format, its validation, and the in-memory frame.

Format (the plant simulator's contract): header `timestamp,flow,pressure,power,config`; timestamp
ISO-8601 with a timezone (optional column: without it file order is time order), flow cfm, pressure
psig, power kW, config a configuration name. Extra columns are ignored. Each cell is checked by the
same per-field rule as live telemetry (edgeloop.contracts.plant), so a row trains only if the gateway
would have accepted it as a message. Every problem names the file line and the column, because a
training job that dies on "could not convert string to float" wastes a night.
The csv module is enough here; pandas would be a 60 MB dependency for one reader.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgeloop.components.errors import TrainingDataError
from edgeloop.contracts.errors import TelemetryError
from edgeloop.contracts.plant import READINGS, check_config, parse_timestamp, reading_from_text

REQUIRED_COLUMNS = ("flow", "pressure", "power", "config")
NUMERIC_COLUMNS = READINGS


@dataclass(frozen=True)
class TelemetryFrame:
    """Column arrays of equal length. `time` is POSIX seconds (float64), or row order when absent."""

    time: np.ndarray
    flow: np.ndarray
    pressure: np.ndarray
    power: np.ndarray
    config: np.ndarray  # dtype object (str)

    def __post_init__(self) -> None:
        lengths = {len(self.time), len(self.flow), len(self.pressure), len(self.power), len(self.config)}
        if len(lengths) != 1:
            raise ValueError(f"telemetry columns differ in length: {sorted(lengths)}")

    def __len__(self) -> int:
        return len(self.flow)

    @classmethod
    def from_arrays(cls, flow: Sequence[float], pressure: Sequence[float], power: Sequence[float],
                    config: Sequence[str], time: Sequence[float] | None = None) -> TelemetryFrame:
        flow_a = np.asarray(flow, dtype=np.float64)
        time_a = (np.arange(len(flow_a), dtype=np.float64) if time is None
                  else np.asarray(time, dtype=np.float64))
        return cls(time=time_a, flow=flow_a, pressure=np.asarray(pressure, dtype=np.float64),
                   power=np.asarray(power, dtype=np.float64), config=np.asarray(list(config), dtype=object))

    @classmethod
    def from_rows(cls, rows: Sequence[dict]) -> TelemetryFrame:
        """From dict rows as `Plant.history` yields them (timestamp a datetime or ISO string)."""
        times = [_to_seconds(r["timestamp"]) for r in rows] if rows and "timestamp" in rows[0] else None
        return cls.from_arrays([r["flow"] for r in rows], [r["pressure"] for r in rows],
                               [r["power"] for r in rows], [r["config"] for r in rows], times)

    def select(self, mask: np.ndarray) -> TelemetryFrame:
        return TelemetryFrame(self.time[mask], self.flow[mask], self.pressure[mask], self.power[mask],
                              self.config[mask])

    def configurations(self) -> set[str]:
        return set(self.config.tolist())


def _to_seconds(value: object) -> float:
    """POSIX seconds of a timestamp under the contract's rule (TelemetryError if it breaks it)."""
    return parse_timestamp(value).timestamp()


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_csv(path: str | Path, known_configurations: Collection[str]) -> TelemetryFrame:
    """Parse and validate a telemetry CSV. Raises TrainingDataError naming the line and column."""
    source = str(path)
    try:
        handle = open(path, newline="", encoding="utf-8")
    except OSError as exc:
        raise TrainingDataError(source, None, None, f"cannot read: {exc.strerror or exc}") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise TrainingDataError(source, None, None, "empty file (no header)") from None
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise TrainingDataError(source, 1, missing[0],
                                 f"missing column (header has {', '.join(header) or 'nothing'}; "
                                 f"need {', '.join(REQUIRED_COLUMNS)} and optionally timestamp)")
        index = {name: header.index(name) for name in (*REQUIRED_COLUMNS, "timestamp") if name in header}
        known = set(known_configurations)
        columns: dict[str, list] = {name: [] for name in index}
        for row in reader:
            line = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) < len(header):
                absent = header[len(row)]
                raise TrainingDataError(source, line, absent, f"row has {len(row)} fields, header has {len(header)}")
            try:
                for name in NUMERIC_COLUMNS:
                    columns[name].append(reading_from_text(name, row[index[name]]))
                columns["config"].append(check_config(row[index["config"]].strip(), known))
                if "timestamp" in index:
                    columns["timestamp"].append(_to_seconds(row[index["timestamp"]]))
            except TelemetryError as exc:
                raise TrainingDataError(source, line, exc.field, exc.problem) from None
    if not columns["flow"]:
        raise TrainingDataError(source, None, None, "no data rows")
    return TelemetryFrame.from_arrays(columns["flow"], columns["pressure"], columns["power"],
                                      columns["config"], columns.get("timestamp"))
