"""The record of every deployment and its outcome, kept under ROOT/deployments (one JSON file each)."""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any


class DeploymentStatus(StrEnum):
    """A local deployment's status, as the IPC API's DeploymentStatus (strings on the wire and on disk)."""

    QUEUED = "QUEUED"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class DetailedStatus(StrEnum):
    """Greengrass's detailed deployment statuses (DeploymentStatusDetails.detailedDeploymentStatus)."""

    SUCCESSFUL = "SUCCESSFUL"
    FAILED_NO_STATE_CHANGE = "FAILED_NO_STATE_CHANGE"
    FAILED_ROLLBACK_NOT_REQUESTED = "FAILED_ROLLBACK_NOT_REQUESTED"
    FAILED_ROLLBACK_COMPLETE = "FAILED_ROLLBACK_COMPLETE"
    FAILED_UNABLE_TO_ROLLBACK = "FAILED_UNABLE_TO_ROLLBACK"
    REJECTED = "REJECTED"


class FailurePolicy(StrEnum):
    """What a failed deployment does (CreateLocalDeployment's failureHandlingPolicy)."""

    ROLLBACK = "ROLLBACK"
    DO_NOTHING = "DO_NOTHING"


@dataclass
class DeploymentRequest:
    """A local deployment, in the terms of CreateLocalDeploymentRequest / `greengrass-cli deployment create`."""

    recipe_dir: str | None = None
    artifact_dir: str | None = None
    merge: dict[str, str] = field(default_factory=dict)           # root component -> version
    remove: list[str] = field(default_factory=list)
    configuration: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {"MERGE": {}, "RESET": []}
    failure_policy: str = FailurePolicy.ROLLBACK                  # checked by DeploymentHandler.submit
    group_name: str = "LOCAL_DEPLOYMENT"

    @classmethod
    def from_ipc(cls, payload: dict[str, Any]) -> DeploymentRequest:
        return cls(
            recipe_dir=payload.get("recipeDirectoryPath"),
            artifact_dir=payload.get("artifactsDirectoryPath"),
            merge=dict(payload.get("rootComponentVersionsToAdd") or {}),
            remove=list(payload.get("rootComponentsToRemove") or []),
            configuration=dict(payload.get("componentToConfiguration") or {}),
            failure_policy=payload.get("failureHandlingPolicy") or FailurePolicy.ROLLBACK,
            group_name=payload.get("groupName") or "LOCAL_DEPLOYMENT")


@dataclass
class DeploymentRecord:
    deployment_id: str
    request: DeploymentRequest
    created_on: float = field(default_factory=time.time)
    status: DeploymentStatus = DeploymentStatus.QUEUED
    detailed_status: DetailedStatus | None = None
    failure_cause: str | None = None
    error_stack: list[str] = field(default_factory=list)
    error_types: list[str] = field(default_factory=list)
    finished_on: float | None = None

    @classmethod
    def new(cls, request: DeploymentRequest) -> DeploymentRecord:
        return cls(deployment_id=str(uuid.uuid4()), request=request)

    def to_ipc(self) -> dict[str, Any]:
        """The LocalDeployment shape of the IPC API."""
        details: dict[str, Any] = {}
        if self.detailed_status:
            details["detailedDeploymentStatus"] = self.detailed_status
        if self.failure_cause:
            details["deploymentFailureCause"] = self.failure_cause
            details["deploymentErrorStack"] = self.error_stack
            details["deploymentErrorTypes"] = self.error_types
        out: dict[str, Any] = {"deploymentId": self.deployment_id, "status": self.status,
                               "createdOn": str(int(self.created_on * 1000))}
        if details:
            out["deploymentStatusDetails"] = details
        return out


class DeploymentRecords:
    def __init__(self, folder: Path) -> None:
        self._folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def save(self, record: DeploymentRecord) -> None:
        path = self._folder / f"{record.deployment_id}.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(record), indent=1))
        os.replace(tmp, path)

    def get(self, deployment_id: str) -> DeploymentRecord | None:
        path = self._folder / f"{deployment_id}.json"
        if "/" in deployment_id or not path.exists():
            return None
        return self._load(path)

    def all(self) -> list[DeploymentRecord]:
        records = [self._load(p) for p in self._folder.glob("*.json")]
        return sorted(records, key=lambda r: r.created_on)

    @staticmethod
    def _load(path: Path) -> DeploymentRecord:
        raw = json.loads(path.read_text())
        raw["request"] = DeploymentRequest(**raw["request"])
        raw["status"] = DeploymentStatus(raw["status"])
        if raw.get("detailed_status") is not None:
            raw["detailed_status"] = DetailedStatus(raw["detailed_status"])
        return DeploymentRecord(**raw)
