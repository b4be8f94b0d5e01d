"""The pathology archive: every window a gateway forwarded, kept for review and retraining.

    ROOT/
      archive.sqlite                      index: one row per window (+ reviews, an audit trail)
      windows/<gateway label>/<YYYY-MM-DD of start, UTC>/<device_id>/<window_id>/
        raw.npy                           the window, float32 mV
        spectrogram.png                   trace + full-resolution spectrogram, for a reviewer
        window.json                       everything the gateway sent but the raw samples, plus
                                          received_at, stored_at, fs, n and the latest review
      summaries.jsonl, errors.jsonl, rejects.jsonl    written by the receiver (receiver.py)

The folders follow the gateway's verdict (what arrived); a reviewer's label lives in the index (and
is mirrored into window.json so a copied folder still says it), so a review never moves files.

Storing is idempotent on (device_id, window_id): QoS 1 may deliver a window twice, and the second
copy is counted as a duplicate, not stored. Files are written into ROOT/tmp first and renamed into
place inside a BEGIN IMMEDIATE transaction that also inserts the index row, so a reader (a training
run in another process) never sees a row without its files, and two writers never both store a window.
Ids become path components, so they are checked (the device-id charset, never "." or "..") and the
final folder must lie inside ROOT.

The picture is drawn from the staged raw.npy by a renderer (render_pool.py): by default one
low-priority worker process, so a receiver's drawing yields the CPU to everything else on the
machine. store() waits for it; a window whose picture fails (RenderError) is not stored. The
worker starts with the first store and stops at close(); an archive that is only read never
starts one.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Self

import numpy as np

from edgeloop.cloud.errors import ArchiveError, UnknownWindowError, UnsafeIdError
from edgeloop.contracts.ecg import (
    LABELS,
    ForwardedWindow,
    valid_device_id,
)

from .. import sqlite
from .render_pool import Renderer, RenderPool

RAW_FILE = "raw.npy"
PNG_FILE = "spectrogram.png"
META_FILE = "window.json"
DB_FILE = "archive.sqlite"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# the device-id charset; longer, as a gateway's window id is "<device_id>-<start ms>" (a folder
# name may have 255 bytes)
_WINDOW_ID = re.compile(r"^[A-Za-z0-9._:-]{1,200}$")

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS windows (
        device_id TEXT NOT NULL, window_id TEXT NOT NULL,
        start REAL NOT NULL, end REAL NOT NULL, date TEXT NOT NULL,
        gateway_label TEXT NOT NULL, score REAL NOT NULL, model_version TEXT NOT NULL,
        fs REAL NOT NULL, n INTEGER NOT NULL, path TEXT NOT NULL,
        received_at REAL NOT NULL, stored_at REAL NOT NULL,
        reviewed_label TEXT, reviewer TEXT, reviewed_at REAL, review_note TEXT,
        PRIMARY KEY (device_id, window_id))""",
    "CREATE INDEX IF NOT EXISTS windows_by_id ON windows (window_id)",
    "CREATE INDEX IF NOT EXISTS windows_by_label ON windows (gateway_label, date)",
    """CREATE TABLE IF NOT EXISTS reviews (
        device_id TEXT NOT NULL, window_id TEXT NOT NULL, label TEXT NOT NULL,
        reviewer TEXT NOT NULL, note TEXT NOT NULL, reviewed_at REAL NOT NULL)""",
)


def _safe_name(value: Any, ok: bool, what: str, longest: int) -> str:
    if not ok or value in (".", ".."):
        raise UnsafeIdError(f"{what} {value!r:.80}: expected 1-{longest} letters, digits or ._:- "
                            "(and not '.' or '..')")
    return value


def check_device_id(value: Any) -> str:
    """A device id (messages.valid_device_id) that is also safe as one folder name."""
    return _safe_name(value, valid_device_id(value), "device_id", 128)


def check_window_id(value: Any) -> str:
    return _safe_name(value, isinstance(value, str) and bool(_WINDOW_ID.match(value)), "window_id", 200)


def check_label(label: Any) -> str:
    if label not in LABELS:
        raise ArchiveError(f"label {label!r:.40}: expected one of {', '.join(LABELS)}")
    return label


def check_date(date: Any) -> str:
    try:
        if not isinstance(date, str) or not _DATE.match(date):
            raise ValueError
        datetime.strptime(date, "%Y-%m-%d")
    except ValueError:
        raise ArchiveError(f"date {date!r:.40}: expected YYYY-MM-DD") from None
    return date


def utc_date(epoch_s: float) -> str:
    try:
        if not math.isfinite(epoch_s):
            raise ValueError
        return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%d")
    except (ValueError, OverflowError, OSError):
        raise ArchiveError(f"start {epoch_s!r}: not an epoch time in seconds") from None


def _finite(value: Any) -> Any:
    """JSON-safe copy: a NaN or infinity a gateway sent in some field becomes null (the window is
    still worth keeping; the fields the index needs are checked before this)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


@dataclass
class ArchivedWindow:
    """One archived window. `label` is the reviewer's label (None until reviewed); `gateway_label`
    is the verdict the gateway forwarded it with. `ecg` reads raw.npy on first use."""

    device_id: str
    window_id: str
    start: float
    end: float
    date: str
    fs: float
    n: int
    gateway_label: str
    score: float
    model_version: str
    path: Path
    received_at: float
    stored_at: float
    label: str | None = None
    reviewer: str | None = None
    reviewed_at: float | None = None
    note: str | None = None
    duplicate: bool = field(default=False, compare=False)   # store(): this copy was already there

    @property
    def reviewed(self) -> bool:
        return self.label is not None

    @property
    def raw_path(self) -> Path:
        return self.path / RAW_FILE

    @property
    def png_path(self) -> Path:
        return self.path / PNG_FILE

    @property
    def meta_path(self) -> Path:
        return self.path / META_FILE

    @cached_property
    def ecg(self) -> np.ndarray:
        return np.load(self.raw_path, allow_pickle=False)

    def metadata(self) -> dict[str, Any]:
        return json.loads(self.meta_path.read_text())

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: index fields and file paths."""
        return {"device_id": self.device_id, "window_id": self.window_id, "start": self.start,
                "end": self.end, "date": self.date, "fs": self.fs, "n": self.n,
                "gateway_label": self.gateway_label, "score": self.score,
                "model_version": self.model_version, "label": self.label, "reviewer": self.reviewer,
                "reviewed_at": self.reviewed_at, "note": self.note, "received_at": self.received_at,
                "stored_at": self.stored_at, "path": str(self.path), "raw": str(self.raw_path),
                "png": str(self.png_path), "metadata": str(self.meta_path)}


class PathologyArchive:
    """Forwarded windows on disk plus an SQLite index; safe for a receiver and readers in other
    processes at once (WAL, one BEGIN IMMEDIATE transaction per store or review). `renderer` draws
    the pictures (default: a RenderPool, a low-priority worker process); close() stops it."""

    def __init__(self, root: str | Path, *, create: bool = True, renderer: Renderer | None = None) -> None:
        self.root = Path(root).expanduser().resolve()
        self.db_path = self.root / DB_FILE
        if not create and not self.db_path.exists():
            raise ArchiveError(f"no pathology archive at {self.root} (no {DB_FILE})")
        self.windows_dir = self.root / "windows"
        self.tmp_dir = self.root / "tmp"
        for folder in (self.windows_dir, self.tmp_dir):
            folder.mkdir(parents=True, exist_ok=True)
        sqlite.initialise(self.db_path, *_SCHEMA)
        self._lock = threading.Lock()
        self.renderer = renderer if renderer is not None else RenderPool()
        self.stored = 0          # by this instance (the index holds the total)
        self.duplicates = 0

    def close(self) -> None:
        """Stop the renderer's worker process. The archive stays usable: the next store starts one."""
        self.renderer.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing ---------------------------------------------------------------------------------

    def folder_for(self, gateway_label: str, date: str, device_id: str, window_id: str) -> Path:
        folder = self.windows_dir / check_label(gateway_label) / check_date(date) \
            / check_device_id(device_id) / check_window_id(window_id)
        if not folder.resolve().is_relative_to(self.windows_dir):
            raise UnsafeIdError(f"window {window_id!r}: its folder {folder} would leave {self.windows_dir}")
        return folder

    def store(self, window: ForwardedWindow, received_at: float | None = None) -> ArchivedWindow:
        """Archive one forwarded window; a window already archived (same device and window id) is
        returned with `duplicate=True` and left as it was. ArchiveError for unsafe ids or times;
        RenderError if the picture cannot be drawn; OSError if the disk refuses."""
        received_at = time.time() if received_at is None else float(received_at)
        device_id, window_id = check_device_id(window.device_id), check_window_id(window.window_id)
        for name in ("end", "score"):
            if not math.isfinite(getattr(window, name)):
                raise ArchiveError(f"window {window_id!r}: {name} {getattr(window, name)!r} is not finite")
        if window.end < window.start:
            raise ArchiveError(f"window {window_id!r}: end {window.end} is before start {window.start}")
        existing = self._get(device_id, window_id)
        if existing is not None:
            return self._count_duplicate(existing)
        date = utc_date(window.start)
        folder = self.folder_for(window.label, date, device_id, window_id)
        staging = Path(tempfile.mkdtemp(prefix=f"{window_id}.", dir=self.tmp_dir))
        try:
            staging.chmod(0o755)                # mkdtemp's 0700 would hide the window from other users
            self._write_files(staging, window, received_at)
            with sqlite.write_transaction(self.db_path) as db:
                row = db.execute("SELECT * FROM windows WHERE device_id = ? AND window_id = ?",
                                 (device_id, window_id)).fetchone()
                if row is not None:             # another writer got there while we rendered
                    return self._count_duplicate(self._from_row(row))
                if folder.exists():             # left by a crash between rename and commit
                    shutil.rmtree(folder)
                folder.parent.mkdir(parents=True, exist_ok=True)
                os.rename(staging, folder)
                stored_at = time.time()
                db.execute("INSERT INTO windows (device_id, window_id, start, end, date, gateway_label,"
                           " score, model_version, fs, n, path, received_at, stored_at)"
                           " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (device_id, window_id, window.start, window.end, date, window.label,
                            window.score, window.model_version, window.fs, int(window.ecg.size),
                            str(folder.relative_to(self.root)), received_at, stored_at))
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        with self._lock:
            self.stored += 1
        return ArchivedWindow(device_id, window_id, window.start, window.end, date, window.fs,
                              int(window.ecg.size), window.label, window.score, window.model_version,
                              folder, received_at, stored_at)

    def _count_duplicate(self, existing: ArchivedWindow) -> ArchivedWindow:
        with self._lock:
            self.duplicates += 1
        existing.duplicate = True
        return existing

    def _write_files(self, folder: Path, window: ForwardedWindow, received_at: float) -> None:
        np.save(folder / RAW_FILE, np.asarray(window.ecg, dtype=np.float32), allow_pickle=False)
        title = (f"{window.device_id}  {window.window_id}  gateway: {window.label} "
                 f"({window.score:.2f}, model {window.model_version})  "
                 f"{datetime.fromtimestamp(window.start, UTC):%Y-%m-%d %H:%M:%S} UTC")
        self.renderer.render(folder / RAW_FILE, window.fs, folder / PNG_FILE, title)
        meta = {k: v for k, v in window.body.items() if k != "raw"}
        meta["raw"] = {k: v for k, v in window.body.get("raw", {}).items() if k != "data"}
        meta.update(received_at=received_at, fs=window.fs, n=int(window.ecg.size),
                    files={"raw": RAW_FILE, "png": PNG_FILE}, review=None)
        (folder / META_FILE).write_text(json.dumps(_finite(meta), indent=1, allow_nan=False))

    def review(self, window_id: str, label: str, reviewer: str, note: str = "", *,
               device_id: str | None = None) -> ArchivedWindow:
        """Record a reviewer's label (one of LABELS). A window id that two devices share needs
        `device_id`. Earlier reviews stay in the `reviews` table (audit trail)."""
        check_label(label)
        if not isinstance(reviewer, str) or not reviewer.strip():
            raise ArchiveError("reviewer: a name is required")
        reviewed_at = time.time()
        with sqlite.write_transaction(self.db_path) as db:
            row = self._find(db, window_id, device_id)
            db.execute("UPDATE windows SET reviewed_label = ?, reviewer = ?, reviewed_at = ?, review_note = ?"
                       " WHERE device_id = ? AND window_id = ?",
                       (label, reviewer.strip(), reviewed_at, note, row["device_id"], window_id))
            db.execute("INSERT INTO reviews VALUES (?, ?, ?, ?, ?, ?)",
                       (row["device_id"], window_id, label, reviewer.strip(), note, reviewed_at))
            window = self._from_row(db.execute("SELECT * FROM windows WHERE device_id = ? AND window_id = ?",
                                               (row["device_id"], window_id)).fetchone())
        self._mirror_review(window)
        return window

    def _mirror_review(self, window: ArchivedWindow) -> None:
        meta = window.metadata()
        meta["review"] = {"label": window.label, "reviewer": window.reviewer,
                          "reviewed_at": window.reviewed_at, "note": window.note}
        tmp = window.meta_path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(meta, indent=1, allow_nan=False))
        os.replace(tmp, window.meta_path)

    # -- reading ---------------------------------------------------------------------------------

    def get(self, window_id: str, device_id: str | None = None) -> ArchivedWindow:
        """The window with this id (UnknownWindowError if none; ArchiveError if ambiguous)."""
        with sqlite.connect(self.db_path) as db:
            return self._from_row(self._find(db, window_id, device_id))

    def _find(self, db, window_id: str, device_id: str | None):
        if device_id is None:
            rows = db.execute("SELECT * FROM windows WHERE window_id = ?", (window_id,)).fetchall()
        else:
            rows = db.execute("SELECT * FROM windows WHERE window_id = ? AND device_id = ?",
                              (window_id, device_id)).fetchall()
        if not rows:
            where = f" of device {device_id!r}" if device_id else ""
            raise UnknownWindowError(f"no archived window {window_id!r}{where} in {self.root}")
        if len(rows) > 1:
            devices = ", ".join(sorted(r["device_id"] for r in rows))
            raise ArchiveError(f"window id {window_id!r} belongs to several devices ({devices}): name the device")
        return rows[0]

    def _get(self, device_id: str, window_id: str) -> ArchivedWindow | None:
        with sqlite.connect(self.db_path) as db:
            row = db.execute("SELECT * FROM windows WHERE device_id = ? AND window_id = ?",
                             (device_id, window_id)).fetchone()
        return None if row is None else self._from_row(row)

    def _from_row(self, row) -> ArchivedWindow:
        return ArchivedWindow(row["device_id"], row["window_id"], row["start"], row["end"], row["date"],
                              row["fs"], row["n"], row["gateway_label"], row["score"], row["model_version"],
                              self.root / row["path"], row["received_at"], row["stored_at"],
                              row["reviewed_label"], row["reviewer"], row["reviewed_at"], row["review_note"])

    def windows(self, label: str | None = None, device: str | None = None, date: str | None = None,
                reviewed: bool | None = None, *, gateway_label: str | None = None) -> list[ArchivedWindow]:
        """Archived windows in start order. `label` matches the best-known label (the review if
        there is one, else the gateway's verdict); `gateway_label` only the gateway's verdict."""
        where, params = [], []
        if label is not None:
            where.append("COALESCE(reviewed_label, gateway_label) = ?")
            params.append(check_label(label))
        if gateway_label is not None:
            where.append("gateway_label = ?")
            params.append(check_label(gateway_label))
        if device is not None:
            where.append("device_id = ?")
            params.append(device)
        if date is not None:
            where.append("date = ?")
            params.append(check_date(date))
        if reviewed is not None:
            where.append("reviewed_label IS NOT NULL" if reviewed else "reviewed_label IS NULL")
        sql = "SELECT * FROM windows" + (" WHERE " + " AND ".join(where) if where else "") \
            + " ORDER BY start, device_id, window_id"
        with sqlite.connect(self.db_path) as db:
            rows = db.execute(sql, params).fetchall()
        return [self._from_row(row) for row in rows]

    def labelled(self) -> Iterator[ArchivedWindow]:
        """Reviewed windows (label = the reviewer's), for training."""
        yield from self.windows(reviewed=True)

    def __len__(self) -> int:
        with sqlite.connect(self.db_path) as db:
            return db.execute("SELECT COUNT(*) FROM windows").fetchone()[0]

    def stats(self) -> dict[str, Any]:
        """Counts by gateway verdict, reviews, and how often reviewers agreed with the gateway
        (`confusion[gateway][reviewed]`)."""
        with sqlite.connect(self.db_path) as db:
            rows = db.execute("SELECT gateway_label, reviewed_label, COUNT(*) AS n, COUNT(DISTINCT device_id)"
                              " AS devices FROM windows GROUP BY gateway_label, reviewed_label").fetchall()
            totals = db.execute("SELECT COUNT(*), COUNT(DISTINCT device_id), MIN(date), MAX(date)"
                                " FROM windows").fetchone()
        by_gateway = dict.fromkeys(LABELS, 0)
        by_review = dict.fromkeys(LABELS, 0)
        confusion: dict[str, dict[str, int]] = {}
        agree = reviewed = 0
        for row in rows:
            by_gateway[row["gateway_label"]] = by_gateway.get(row["gateway_label"], 0) + row["n"]
            if row["reviewed_label"] is None:
                continue
            reviewed += row["n"]
            by_review[row["reviewed_label"]] = by_review.get(row["reviewed_label"], 0) + row["n"]
            confusion.setdefault(row["gateway_label"], {})[row["reviewed_label"]] = row["n"]
            agree += row["n"] if row["gateway_label"] == row["reviewed_label"] else 0
        return {"root": str(self.root), "windows": totals[0], "devices": totals[1],
                "first_date": totals[2], "last_date": totals[3],
                "by_gateway_label": by_gateway, "reviewed": reviewed, "unreviewed": totals[0] - reviewed,
                "by_reviewed_label": by_review,
                "agreement": {"reviewed": reviewed, "agree": agree,
                              "rate": round(agree / reviewed, 4) if reviewed else None,
                              "confusion": confusion}}
