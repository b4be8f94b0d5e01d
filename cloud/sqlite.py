"""The local cloud's SQLite files (experiments, registry, promotions): opened one way everywhere.

WAL lets the CLI read while a pipeline or promotion writes; the busy timeout makes a second writer
wait instead of failing at once.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def connect(path: Path, *, autocommit: bool = False) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=10.0, isolation_level=None if autocommit else "DEFERRED")
    db.row_factory = sqlite3.Row
    return db


def initialise(path: Path, *statements: str) -> None:
    """Create the file (and its folder) in WAL mode with `statements` (CREATE ... IF NOT EXISTS)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with connect(path) as db:
        db.execute("PRAGMA journal_mode=WAL")
        for statement in statements:
            db.execute(statement)


@contextmanager
def write_transaction(path: Path) -> Iterator[sqlite3.Connection]:
    """A transaction that takes the write lock at once (BEGIN IMMEDIATE), so a read-then-write such
    as "next version number" stays consistent when two processes write; commits or rolls back."""
    db = connect(path, autocommit=True)
    try:
        db.execute("BEGIN IMMEDIATE")
        yield db
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    finally:
        db.close()
