"""SQLite registry backend (HOME/registry.sqlite).

Version numbers are allocated inside one `BEGIN IMMEDIATE` transaction, so two pipelines finishing
at once still get 1, 2, 3 ... without gaps or duplicates. ARNs are local look-alikes of SageMaker's
(`arn:edgeloop:local:model-package/<group>/<version>`) so tools that print ARNs work unchanged.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from edgeloop.cloud.errors import RegistryError
from edgeloop.cloud.experiments import utc_now

from ..sqlite import connect, initialise, write_transaction
from .base import PENDING, ModelPackage, check_group_name, check_transition

SCHEMA = (
    """CREATE TABLE IF NOT EXISTS groups (
         name TEXT PRIMARY KEY, description TEXT NOT NULL, created_at TEXT NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS packages (
         group_name TEXT NOT NULL REFERENCES groups(name), version INTEGER NOT NULL,
         status TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT,
         model_data_url TEXT NOT NULL, metrics TEXT NOT NULL, run_id TEXT,
         description TEXT NOT NULL, approval_description TEXT NOT NULL,
         PRIMARY KEY (group_name, version))""",
)


class LocalRegistry:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        initialise(self.path, *SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return connect(self.path, autocommit=True)

    @staticmethod
    def _package(row: sqlite3.Row) -> ModelPackage:
        return ModelPackage(
            group=row["group_name"], version=row["version"],
            arn=f"arn:edgeloop:local:model-package/{row['group_name']}/{row['version']}",
            status=row["status"], created_at=row["created_at"], updated_at=row["updated_at"],
            model_data_url=row["model_data_url"], metrics=json.loads(row["metrics"]),
            run_id=row["run_id"], description=row["description"],
            approval_description=row["approval_description"])

    def ensure_group(self, group: str, description: str = "") -> None:
        check_group_name(group)
        with self._connect() as db:
            db.execute("INSERT OR IGNORE INTO groups VALUES (?,?,?)", (group, description, utc_now()))

    def groups(self) -> list[str]:
        with self._connect() as db:
            return [r["name"] for r in db.execute("SELECT name FROM groups ORDER BY name")]

    def create_version(self, group: str, model_data_url: str, metrics: dict[str, Any],
                       run_id: str | None, description: str = "") -> ModelPackage:
        """Register the next version of `group` as PendingManualApproval (the group must exist)."""
        check_group_name(group)
        with write_transaction(self.path) as db:
            if db.execute("SELECT 1 FROM groups WHERE name = ?", (group,)).fetchone() is None:
                raise RegistryError(f"model package group {group!r} does not exist")
            version = db.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM packages WHERE group_name = ?",
                                 (group,)).fetchone()[0]
            db.execute("INSERT INTO packages VALUES (?,?,?,?,?,?,?,?,?,?)", (
                group, version, PENDING, utc_now(), None, model_data_url, json.dumps(metrics), run_id,
                description, ""))
        return self.get(group, version)

    def get(self, group: str, version: int) -> ModelPackage:
        with self._connect() as db:
            row = db.execute("SELECT * FROM packages WHERE group_name = ? AND version = ?",
                             (group, version)).fetchone()
            if row is None:
                known = db.execute("SELECT MAX(version) FROM packages WHERE group_name = ?", (group,)).fetchone()[0]
        if row is None:
            hint = (f"group {group!r} has versions 1..{known}" if known
                    else f"there is no model package group {group!r}")
            raise RegistryError(f"no model package {group}/{version}: {hint}")
        return self._package(row)

    def list(self, group: str | None = None) -> list[ModelPackage]:
        """Every version, by group then version."""
        query = "SELECT * FROM packages" + (" WHERE group_name = ?" if group else "") + \
                " ORDER BY group_name, version"
        with self._connect() as db:
            rows = db.execute(query, (group,) if group else ()).fetchall()
        if group and not rows and group not in self.groups():
            raise RegistryError(f"there is no model package group {group!r}")
        return [self._package(r) for r in rows]

    def set_status(self, group: str, version: int, status: str, description: str = "",
                   force: bool = False) -> ModelPackage:
        """UpdateModelPackage(ModelApprovalStatus, ApprovalDescription), with base.check_transition."""
        with write_transaction(self.path) as db:
            package = self.get(group, version)
            check_transition(package, status, force)
            db.execute("UPDATE packages SET status = ?, approval_description = ?, updated_at = ? "
                       "WHERE group_name = ? AND version = ?", (status, description, utc_now(), group, version))
        return self.get(group, version)
