"""The local data lake: validated telemetry appended to CSV files partitioned by dataset, plant and day.

    lake/<dataset>/plant=<plant_id>/date=<YYYY-MM-DD>/<dataset>.csv
    lake/rejects/date=<YYYY-MM-DD>/rejects.jsonl

Hive-style `key=value` folders, as S3 data lakes (Athena, Glue) partition, so the layout carries
over to a bucket unchanged. Each CSV has the header `timestamp,flow,pressure,power,config,plant_id,seq`
(the plant simulator's columns first, so `edgeloop twin train --data` reads a partition directly).

Appends are safe across threads and processes: every row is one `write` of a whole line on a file
opened in append mode, under an exclusive `flock`; the header is written under the same lock only
when the file is empty. Messages are checked by the plant telemetry contract
(edgeloop.contracts.plant: the same rules as the gateway's), plus the lake's known configurations.
Bad messages never raise out of `ingest`: they are counted by the contract error's reason and kept
in the rejects file with the topic and (truncated) payload so an operator can see what a device sent.
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import os
import threading
from collections import Counter
from collections.abc import Collection, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edgeloop.components.digital_twin import configurations as cfgs
from edgeloop.contracts.errors import TelemetryError
from edgeloop.contracts.plant import format_timestamp, parse_telemetry

DATASET = "telemetry"
COLUMNS = ("timestamp", "flow", "pressure", "power", "config", "plant_id", "seq")
MAX_REJECT_PAYLOAD = 4096


def lake_row(topic: str, payload: bytes | str, known: Collection[str]) -> dict[str, Any]:
    """The lake row of one telemetry message; raises the contract's TelemetryError naming the field."""
    sample = parse_telemetry(topic, payload, known)
    return {"timestamp": format_timestamp(sample.timestamp), "flow": sample.flow, "pressure": sample.pressure,
            "power": sample.power, "config": sample.config, "plant_id": sample.plant_id,
            "seq": "" if sample.seq is None else sample.seq}


def reject_detail(exc: TelemetryError) -> str:
    """One line for the rejects file: "missing field(s): power", "plant_id 'p3' does not match ..."."""
    return f"missing field(s): {exc.field}" if exc.reason == "missing field" else f"{exc.field} {exc.problem}"


def _locked_append(path: Path, text: str, header: str | None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8", newline="") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            if header is not None and os.fstat(handle.fileno()).st_size == 0:
                handle.write(header)
            handle.write(text)
            handle.flush()
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class Lake:
    """Appends validated rows and rejects under `root`; counts both."""

    def __init__(self, root: str | Path, known_configurations: Collection[str] | None = None) -> None:
        self.root = Path(root)
        self.known = frozenset(known_configurations or cfgs.standard_configurations())
        self.accepted = 0
        self.rejected: Counter[str] = Counter()
        self._lock = threading.Lock()

    def partition(self, plant_id: str, timestamp: str, dataset: str = DATASET) -> Path:
        day = timestamp[:10]
        return self.root / dataset / f"plant={plant_id}" / f"date={day}" / f"{dataset}.csv"

    def rejects_file(self, when: datetime) -> Path:
        return self.root / "rejects" / f"date={when:%Y-%m-%d}" / "rejects.jsonl"

    def ingest(self, topic: str, payload: bytes) -> dict[str, Any] | None:
        """Validate and store one message; returns the row, or None when it was rejected."""
        try:
            row = lake_row(topic, payload, self.known)
        except TelemetryError as exc:
            self.reject(topic, payload, exc.reason, reject_detail(exc))
            return None
        self.append(row)
        return row

    def append(self, row: dict[str, Any]) -> None:
        line = io.StringIO()
        csv.writer(line, lineterminator="\n").writerow([row[c] for c in COLUMNS])
        _locked_append(self.partition(row["plant_id"], row["timestamp"]), line.getvalue(),
                       ",".join(COLUMNS) + "\n")
        with self._lock:
            self.accepted += 1

    def reject(self, topic: str, payload: bytes, reason: str, detail: str) -> None:
        now = datetime.now(UTC)
        text = payload[:MAX_REJECT_PAYLOAD].decode("utf-8", errors="replace")
        record = {"received_at": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
                  "topic": topic, "reason": reason, "detail": detail, "payload": text,
                  "truncated": len(payload) > MAX_REJECT_PAYLOAD}
        _locked_append(self.rejects_file(now), json.dumps(record) + "\n", None)
        with self._lock:
            self.rejected[reason] += 1

    def files(self, dataset: str = DATASET, plant_id: str | None = None) -> Iterator[Path]:
        """The dataset's partition files in a stable order (plant, then day)."""
        plant = f"plant={plant_id}" if plant_id else "plant=*"
        yield from sorted((self.root / dataset).glob(f"{plant}/date=*/{dataset}.csv"))
