"""The local data lake: validated telemetry appended to CSV files partitioned by dataset, plant and day.

    lake/<dataset>/plant=<plant_id>/date=<YYYY-MM-DD>/<dataset>.csv
    lake/rejects/date=<YYYY-MM-DD>/rejects.jsonl

Hive-style `key=value` folders, as S3 data lakes (Athena, Glue) partition, so the layout carries
over to a bucket unchanged. Each CSV has the header `timestamp,flow,pressure,power,config,plant_id,seq`
(the plant simulator's columns first, so `edgeloop twin train --data` reads a partition directly).

Appends are safe across threads and processes: every row is one `write` of a whole line on a file
opened in append mode, under an exclusive `flock`; the header is written under the same lock only
when the file is empty. Bad messages never raise out of `ingest`: they are counted by reason and
kept in the rejects file with the topic and (truncated) payload so an operator can see what a device
sent.
"""

from __future__ import annotations

import csv
import fcntl
import io
import json
import math
import os
import re
import threading
from collections import Counter
from collections.abc import Collection, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from edgeloop.components.digital_twin import configurations as cfgs

DATASET = "telemetry"
COLUMNS = ("timestamp", "flow", "pressure", "power", "config", "plant_id", "seq")
NUMERIC = ("flow", "pressure", "power")
_PLANT_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MAX_REJECT_PAYLOAD = 4096


class Rejected(ValueError):
    """A message that cannot enter the lake; `reason` is a short category, str() the detail."""

    def __init__(self, reason: str, detail: str) -> None:
        self.reason = reason
        super().__init__(detail)


def _utc(text: Any) -> datetime:
    if not isinstance(text, str):
        raise Rejected("bad timestamp", f"timestamp must be an ISO-8601 string, got {text!r}")
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise Rejected("bad timestamp", f"timestamp {text!r} is not ISO-8601") from None
    if moment.tzinfo is None:
        raise Rejected("bad timestamp", f"timestamp {text!r} has no timezone (expected UTC, e.g. ...Z)")
    return moment.astimezone(UTC)


def parse_sample(payload: bytes | str, topic_plant: str | None,
                 known: Collection[str]) -> dict[str, Any]:
    """Validate one telemetry message; returns the lake row or raises Rejected naming the field."""
    try:
        message = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Rejected("bad JSON", f"payload is not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise Rejected("bad JSON", f"payload must be a JSON object, got {type(message).__name__}")
    missing = [f for f in ("plant_id", "timestamp", *NUMERIC, "config") if f not in message]
    if missing:
        raise Rejected("missing field", f"missing field(s): {', '.join(missing)}")
    plant = message["plant_id"]
    if not isinstance(plant, str) or not _PLANT_ID.match(plant):
        raise Rejected("bad plant_id", f"plant_id {plant!r} must be 1-64 of A-Z a-z 0-9 _ . -")
    if topic_plant is not None and plant != topic_plant:
        raise Rejected("bad plant_id", f"plant_id {plant!r} does not match the topic's {topic_plant!r}")
    row: dict[str, Any] = {"plant_id": plant}
    row["timestamp"] = _utc(message["timestamp"]).isoformat().replace("+00:00", "Z")
    for name in NUMERIC:
        value = message[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise Rejected("not a number", f"{name} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise Rejected("not finite", f"{name} is {value!r}, not a finite number")
        row[name] = float(value)
    config = message["config"]
    if config not in known:
        raise Rejected("unknown config", f"config {config!r} is not a known configuration")
    row["config"] = config
    seq = message.get("seq")
    if seq is not None and (isinstance(seq, bool) or not isinstance(seq, int) or seq < 0):
        raise Rejected("bad seq", f"seq must be a non-negative integer, got {seq!r}")
    row["seq"] = "" if seq is None else seq
    return row


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
        levels = topic.split("/")
        topic_plant = levels[2] if len(levels) == 4 and levels[:2] == ["dt", "compressor"] else None
        try:
            row = parse_sample(payload, topic_plant, self.known)
        except Rejected as exc:
            self.reject(topic, payload, exc.reason, str(exc))
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
