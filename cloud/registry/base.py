"""The registry interface, its record type and the approval rules all backends share.

Semantics follow the SageMaker Model Registry: a model package group holds versions numbered 1, 2,
3 ... in creation order; each version has a ModelDataUrl-like artifact location, metrics, a
ModelApprovalStatus (PendingManualApproval on creation, Approved or Rejected later), an approval
description and the run that produced it.

Transitions (`check_transition`): SageMaker's UpdateModelPackage accepts any status change. We keep
its states and names but guard the two changes that usually mean a mistake, because approval
deploys to devices here:
  Pending  -> Approved | Rejected   always
  Approved -> Rejected              always (e.g. found bad after deployment; rollback does this)
  Approved -> Approved              refused (it is already approved and promoted) unless force
  Rejected -> Approved              refused (someone said no, with a reason) unless force
  Rejected -> Rejected              refused (nothing to change)
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from edgeloop.cloud.errors import RegistryError


class ApprovalStatus(StrEnum):
    """A model package's approval status, as SageMaker's ModelApprovalStatus spells it."""

    PENDING = "PendingManualApproval"
    APPROVED = "Approved"
    REJECTED = "Rejected"


PENDING, APPROVED, REJECTED = ApprovalStatus
STATUSES = tuple(ApprovalStatus)
# SageMaker's ModelPackageGroupName pattern.
GROUP_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$")


@dataclass
class ModelPackage:
    group: str
    version: int
    arn: str
    status: str
    created_at: str
    model_data_url: str
    metrics: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    description: str = ""
    approval_description: str = ""
    updated_at: str | None = None

    @property
    def ref(self) -> str:
        return f"{self.group}/{self.version}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ref": self.ref}


class ModelRegistry(Protocol):
    """What pipelines and promotion need from a registry (local SQLite or SageMaker)."""

    def ensure_group(self, group: str, description: str = "") -> None: ...
    def create_version(self, group: str, model_data_url: str, metrics: dict[str, Any],
                       run_id: str | None, description: str = "") -> ModelPackage: ...
    def get(self, group: str, version: int) -> ModelPackage: ...
    def list(self, group: str | None = None) -> list[ModelPackage]: ...
    def set_status(self, group: str, version: int, status: str, description: str = "",
                   force: bool = False) -> ModelPackage: ...


def check_group_name(group: str) -> str:
    if not isinstance(group, str) or not GROUP_NAME.match(group):
        raise RegistryError(f"model package group name {group!r}: use 1-63 letters, digits and "
                            "hyphens, starting with a letter or digit (SageMaker's rule)")
    return group


def parse_ref(text: str) -> tuple[str, int]:
    """`GROUP/VERSION` -> (group, version)."""
    group, sep, version = text.rpartition("/")
    if not sep or not group or not version.isdigit() or int(version) < 1:
        raise RegistryError(f"{text!r}: expected GROUP/VERSION, e.g. edgeloop-twin/3")
    return check_group_name(group), int(version)


def check_transition(package: ModelPackage, status: str, force: bool) -> None:
    """Raise RegistryError when `package` may not move to `status` (see the module docstring)."""
    if status not in STATUSES:
        raise RegistryError(f"approval status must be one of {', '.join(STATUSES)}, got {status!r}")
    current = package.status
    note = f" ({package.approval_description})" if package.approval_description else ""
    if status == PENDING and current != PENDING:
        raise RegistryError(f"{package.ref} is {current}; a decided version cannot go back to {PENDING}")
    if current == APPROVED and status == APPROVED and not force:
        raise RegistryError(f"{package.ref} is already Approved since {package.updated_at}{note}; "
                            "pass --force to approve and promote it again")
    if current == REJECTED and status == APPROVED and not force:
        raise RegistryError(f"{package.ref} was Rejected on {package.updated_at}{note}; "
                            "register a new version, or pass --force to approve it anyway")
    if current == REJECTED and status == REJECTED:
        raise RegistryError(f"{package.ref} is already Rejected{note}")
