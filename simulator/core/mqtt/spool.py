"""The durable, bounded spool of IoT Core messages waiting for a connection (one SQLite file).

Greengrass spools in memory by default (`spooler.maxSizeInBytes` 2.5 MB); edgeloop keeps the spool on
disk so messages survive a restart of the core. SQLite in WAL mode with synchronous=NORMAL survives a
crash of the process. Size is counted as topic + payload + properties bytes. When a new message does
not fit, the oldest QoS 0 messages are dropped (and counted) to make room; a QoS 1 message that still
does not fit is refused with CoreError, and a QoS 0 message that does not fit is dropped (counted).
"""

from __future__ import annotations

import base64
import json
import sqlite3
import threading
from pathlib import Path

from edgeloop.simulator.core.errors import CoreError, SpoolFull

from ..ipc.core_api import IotMessage

# Greengrass nucleus's default spooler size.
DEFAULT_MAX_BYTES = 2_621_440

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    props TEXT NOT NULL,
    size INTEGER NOT NULL
)
"""


def _props(msg: IotMessage) -> str:
    return json.dumps({
        "retain": msg.retain,
        "userProperties": [list(p) for p in msg.user_properties],
        "contentType": msg.content_type,
        "correlationData": base64.b64encode(msg.correlation_data).decode() if msg.correlation_data else None,
        "responseTopic": msg.response_topic,
        "payloadFormat": msg.payload_format,
        "messageExpiryIntervalSeconds": msg.message_expiry_interval_seconds,
    }, separators=(",", ":"))


def _message(topic: str, payload: bytes, qos: int, props: str) -> IotMessage:
    p = json.loads(props)
    corr = p.get("correlationData")
    return IotMessage(topic=topic, payload=bytes(payload), qos=qos, retain=p.get("retain", False),
                      user_properties=[(k, v) for k, v in p.get("userProperties", [])],
                      content_type=p.get("contentType"),
                      correlation_data=base64.b64decode(corr) if corr else None,
                      response_topic=p.get("responseTopic"), payload_format=p.get("payloadFormat"),
                      message_expiry_interval_seconds=p.get("messageExpiryIntervalSeconds"))


class Spool:
    """Thread-safe FIFO of IotMessages in SQLite at `path` (created with its folder if missing)."""

    def __init__(self, path: str | Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_bytes <= 0:
            raise ValueError(f"spool max_bytes must be positive, got {max_bytes}")
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.dropped = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
            row = self._db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM messages").fetchone()
        except sqlite3.DatabaseError as exc:
            raise CoreError(f"cannot open the IoT Core spool {self.path}: {exc}") from exc
        self._count, self._bytes = int(row[0]), int(row[1])

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return self._count

    def put(self, msg: IotMessage) -> bool:
        """Append `msg`; False if it was a QoS 0 message dropped for lack of room. Raises SpoolFull."""
        props = _props(msg)
        size = len(msg.topic.encode()) + len(msg.payload) + len(props)
        with self._lock:
            if self._bytes + size > self.max_bytes:
                self._evict_qos0(self._bytes + size - self.max_bytes)
            if self._bytes + size > self.max_bytes:
                if msg.qos == 0:
                    self.dropped += 1
                    return False
                raise SpoolFull(
                    f"the IoT Core spool {self.path} is full ({self._bytes} of {self.max_bytes} bytes used by "
                    f"{self._count} messages waiting for the connection); the QoS 1 message to "
                    f"{msg.topic!r} ({size} bytes) was not accepted")
            self._db.execute("INSERT INTO messages (topic, payload, qos, props, size) VALUES (?, ?, ?, ?, ?)",
                             (msg.topic, msg.payload, msg.qos, props, size))
            self._count += 1
            self._bytes += size
            return True

    def _evict_qos0(self, need: int) -> None:
        freed, ids = 0, []
        for row_id, size in self._db.execute("SELECT id, size FROM messages WHERE qos = 0 ORDER BY id"):
            if freed >= need:
                break
            ids.append(row_id)
            freed += size
        if freed < need:
            return  # dropping every QoS 0 message would not make room: keep them
        self._delete(ids)
        self.dropped += len(ids)

    def peek(self, limit: int) -> list[tuple[int, IotMessage]]:
        """The oldest `limit` messages with their ids, without removing them."""
        with self._lock:
            rows = self._db.execute("SELECT id, topic, payload, qos, props FROM messages ORDER BY id LIMIT ?",
                                    (limit,)).fetchall()
        return [(row[0], _message(row[1], row[2], row[3], row[4])) for row in rows]

    def remove(self, ids: list[int]) -> None:
        """Forget messages that were delivered."""
        if ids:
            with self._lock:
                self._delete(ids)

    def _delete(self, ids: list[int]) -> None:
        total = count = 0
        self._db.execute("BEGIN")
        for start in range(0, len(ids), 500):  # stay far below SQLite's bound-parameter limit
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            row = self._db.execute(f"SELECT COALESCE(SUM(size), 0), COUNT(*) FROM messages WHERE id IN ({marks})",
                                   chunk).fetchone()
            self._db.execute(f"DELETE FROM messages WHERE id IN ({marks})", chunk)
            total, count = total + int(row[0]), count + int(row[1])
        self._db.execute("COMMIT")
        self._bytes -= total
        self._count -= count

    def close(self) -> None:
        with self._lock:
            self._db.close()
