"""Experiment tracking: every pipeline run, its parameters, metrics, artifacts, lineage and step timings.

One SQLite table (`runs`), one row per run, structured fields as JSON columns: a run is read and
written whole, and JSON keeps the schema stable while pipelines add metrics. WAL mode lets
`edgeloop pipeline list` read while a run writes. The shape follows what MLflow / SageMaker
Experiments record, so an AWS backend can map it field by field later.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from edgeloop.cloud.errors import UnknownRun

from .sqlite import connect, initialise

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
  run_id TEXT PRIMARY KEY,
  pipeline TEXT NOT NULL,
  status TEXT NOT NULL,
  created_at TEXT NOT NULL,
  finished_at TEXT,
  parameters TEXT NOT NULL,
  metrics TEXT NOT NULL,
  artifacts TEXT NOT NULL,
  lineage TEXT NOT NULL,
  steps TEXT NOT NULL,
  error TEXT
)"""
class RunStatus(StrEnum):
    """A pipeline run's status, and each of its steps' (SageMaker Pipelines' words)."""

    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"


STATUSES = tuple(RunStatus)


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Run:
    run_id: str
    pipeline: str
    status: RunStatus
    created_at: str
    parameters: dict[str, Any]
    finished_at: str | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    artifacts: dict[str, Any] = field(default_factory=dict)
    lineage: dict[str, Any] = field(default_factory=dict)
    steps: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class ExperimentStore:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        initialise(self.path, SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return connect(self.path)

    def start(self, pipeline: str, parameters: dict[str, Any]) -> Run:
        """A new run in status Running; the id sorts by creation time."""
        now = datetime.now(UTC)
        run = Run(run_id=f"{pipeline}-{now:%Y%m%d-%H%M%S}-{secrets.token_hex(3)}", pipeline=pipeline,
                  status=RunStatus.RUNNING, created_at=utc_now(), parameters=parameters)
        self.save(run)
        return run

    def save(self, run: Run) -> None:
        if run.status not in STATUSES:
            raise ValueError(f"run status must be one of {STATUSES}, got {run.status!r}")
        with self._connect() as db:
            db.execute("INSERT OR REPLACE INTO runs VALUES (?,?,?,?,?,?,?,?,?,?,?)", (
                run.run_id, run.pipeline, run.status, run.created_at, run.finished_at,
                json.dumps(run.parameters), json.dumps(run.metrics), json.dumps(run.artifacts),
                json.dumps(run.lineage), json.dumps(run.steps), run.error))

    @staticmethod
    def _run(row: sqlite3.Row) -> Run:
        return Run(run_id=row["run_id"], pipeline=row["pipeline"], status=RunStatus(row["status"]),
                   created_at=row["created_at"], finished_at=row["finished_at"],
                   parameters=json.loads(row["parameters"]), metrics=json.loads(row["metrics"]),
                   artifacts=json.loads(row["artifacts"]), lineage=json.loads(row["lineage"]),
                   steps=json.loads(row["steps"]), error=row["error"])

    def get(self, run_id: str) -> Run:
        with self._connect() as db:
            row = db.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
        if row is None:
            raise UnknownRun(f"no run {run_id!r} in {self.path} (see `edgeloop pipeline list`)")
        return self._run(row)

    def list(self, pipeline: str | None = None, limit: int = 50) -> list[Run]:
        """Newest first."""
        query = "SELECT * FROM runs" + (" WHERE pipeline = ?" if pipeline else "") + \
                " ORDER BY created_at DESC, run_id DESC LIMIT ?"
        with self._connect() as db:
            rows = db.execute(query, ((pipeline, limit) if pipeline else (limit,))).fetchall()
        return [self._run(r) for r in rows]
