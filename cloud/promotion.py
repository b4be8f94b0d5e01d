"""Promotion: an approved registry version becomes the next version of its model component on the core.

This is the local stand-in for the reference's EventBridge rule -> deployment pipeline, one path for
every model line (cloud/lines.py: the twin's TwinModel, the ECG screener's EcgModel). One module owns
every step, in order:

  line     the registry version's model directory names its format, hence its line and component
  gate     the line's comparison with the model serving now (twin: mean regret %; ECG: sensitivity
           and normal windows forwarded), on the candidate's evaluation; refused unless forced
  build    next component version (1.0.0, then the next patch, node-semver) with the shared builder
           (components/packaging.py) into the component store HOME/components/{recipes,artifacts}
  deploy   through a PromotionTarget: the local core over IPC as aws.greengrass.Cli, merging
           {Component: version} with configuration RESET so the new defaults replace the old
  record   HOME/promotions.sqlite: registry version -> component and version, target, digests, the
           deployment and its outcome, and the seconds from approval to deployment SUCCEEDED

`rollback` redeploys the component version that served before the current one, marks the
rolled-back registry version Rejected (its approval description says when and why) and records it.

Targets are behind `PromotionTarget` so a Greengrass V2 cloud target (create_component_version +
create_deployment) can be added beside `LocalCoreTarget`.
"""

from __future__ import annotations

import base64
import hashlib
import sqlite3
import time
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import nodesemver
import yaml

from edgeloop.cloud.errors import PromotionError, PromotionRefused, RegistryError, UnknownModelLine
from edgeloop.components.errors import PackagingError
from edgeloop.components.packaging import build_model_component
from edgeloop.simulator.core.client import CoreClient
from edgeloop.simulator.core.deployment.records import FailurePolicy
from edgeloop.simulator.core.errors import CoreNotRunning
from edgeloop.simulator.core.paths import CorePaths
from edgeloop.simulator.core.status import read_status

from .experiments import utc_now
from .gate import GateResult
from .home import CloudHome
from .lines import ModelLine, line_of_model_dir
from .registry.base import APPROVED, REJECTED, ModelPackage, ModelRegistry, check_transition, parse_ref
from .sqlite import connect, initialise

COMPONENT = "com.edgeloop.TwinModel"   # the default line's component (the first one edgeloop had)
FIRST_VERSION = "1.0.0"

SCHEMA = """CREATE TABLE IF NOT EXISTS promotions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,                 -- promote | rollback
  component TEXT NOT NULL DEFAULT 'com.edgeloop.TwinModel',
  model_ref TEXT,                     -- GROUP/VERSION
  component_version TEXT NOT NULL,
  target TEXT,                        -- e.g. local-core:/path/to/root, or NULL (published only)
  artifact_sha256 TEXT,
  approved_at TEXT,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  deployment_id TEXT,
  status TEXT NOT NULL,               -- PromotionStatus
  detail TEXT NOT NULL DEFAULT '',
  seconds_to_serving REAL
)"""


class PromotionStatus(StrEnum):
    """A promotion record's status: published only (no target), deploying, or the deployment's outcome."""

    PUBLISHED = "PUBLISHED"
    DEPLOYING = "DEPLOYING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


# -- targets ------------------------------------------------------------------------------------

@dataclass
class DeploymentOutcome:
    deployment_id: str
    status: PromotionStatus             # SUCCEEDED, FAILED or CANCELED
    detail: str


class PromotionTarget(Protocol):
    name: str

    def deployed_version(self, component: str) -> str | None: ...
    def deploy(self, component: str, recipe_dir: Path, artifact_dir: Path, version: str,
               timeout_s: float) -> DeploymentOutcome: ...


class LocalCoreTarget:
    """edgeloop's local core (or any core whose Greengrass CLI IPC we can reach) under `root`."""

    def __init__(self, root: str | Path) -> None:
        self.paths = CorePaths.at(root)
        self.name = f"local-core:{self.paths.root}"

    def deployed_version(self, component: str) -> str | None:
        status = read_status(self.paths)
        if status is None:
            return None
        for entry in status.get("components", []):
            if entry["name"] == component:
                return entry["version"]
        return None

    def deploy(self, component: str, recipe_dir: Path, artifact_dir: Path, version: str,
               timeout_s: float) -> DeploymentOutcome:
        try:
            with CoreClient(self.paths) as client:
                deployment_id = client.create_deployment(
                    recipe_dir=str(recipe_dir), artifact_dir=str(artifact_dir), merge={component: version},
                    remove=[], configuration={component: {"RESET": [""]}}, failure_policy=FailurePolicy.ROLLBACK)
                result = client.wait_for_deployment(deployment_id, timeout_s=timeout_s, poll_s=0.1)
        except CoreNotRunning as exc:
            raise PromotionError(str(exc)) from None
        reported = result.get("status") or "UNKNOWN"
        details = result.get("deploymentStatusDetails") or {}
        detail = details.get("detailedDeploymentStatus", "")
        if details.get("deploymentFailureCause"):
            detail += f": {details['deploymentFailureCause']}"
        finished = (PromotionStatus.SUCCEEDED, PromotionStatus.FAILED, PromotionStatus.CANCELED)
        if reported in finished:
            return DeploymentOutcome(deployment_id, PromotionStatus(reported), detail)
        return DeploymentOutcome(deployment_id, PromotionStatus.FAILED,
                                 f"no outcome within {timeout_s:g} s (last status {reported})")


# -- records ------------------------------------------------------------------------------------

@dataclass
class Promotion:
    id: int
    kind: str
    component: str
    model_ref: str | None
    component_version: str
    target: str | None
    artifact_sha256: str | None
    approved_at: str | None
    started_at: str
    finished_at: str | None
    deployment_id: str | None
    status: PromotionStatus
    detail: str
    seconds_to_serving: float | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Promotion:
        fields = dict(row)
        return cls(**{**fields, "status": PromotionStatus(fields["status"])})

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class PromotionLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        initialise(self.path, SCHEMA)
        with self._connect() as db:   # files written before the ECG line had one component only
            columns = {row["name"] for row in db.execute("PRAGMA table_info(promotions)")}
            if "component" not in columns:
                db.execute(f"ALTER TABLE promotions ADD COLUMN component TEXT NOT NULL DEFAULT '{COMPONENT}'")

    def _connect(self) -> sqlite3.Connection:
        return connect(self.path)

    def add(self, **fields: Any) -> int:
        names = ", ".join(fields)
        with self._connect() as db:
            cursor = db.execute(f"INSERT INTO promotions ({names}) VALUES ({', '.join('?' * len(fields))})",
                                tuple(fields.values()))
            if cursor.lastrowid is None:
                raise sqlite3.DatabaseError("the promotion record was not inserted")
            return cursor.lastrowid

    def update(self, promotion_id: int, **fields: Any) -> None:
        with self._connect() as db:
            db.execute(f"UPDATE promotions SET {', '.join(f'{k} = ?' for k in fields)} WHERE id = ?",
                       (*fields.values(), promotion_id))

    def get(self, promotion_id: int) -> Promotion:
        with self._connect() as db:
            return Promotion.from_row(db.execute("SELECT * FROM promotions WHERE id = ?", (promotion_id,)).fetchone())

    def all(self, component: str | None = None) -> list[Promotion]:
        """Oldest first; only `component`'s when given."""
        with self._connect() as db:
            rows = db.execute("SELECT * FROM promotions ORDER BY id")
            return [Promotion.from_row(r) for r in rows if component is None or r["component"] == component]


# -- the component store ------------------------------------------------------------------------

def model_dir_of(package: ModelPackage) -> Path:
    """The model directory a registry version's ModelDataUrl (file://...) points at."""
    url = urlsplit(package.model_data_url)
    if url.scheme != "file":
        raise PromotionError(f"{package.ref}: ModelDataUrl {package.model_data_url!r} is not a local "
                             "file:// location; the local promotion path needs the model on this machine")
    path = Path(unquote(url.path))
    if not path.is_dir():
        raise PromotionError(f"{package.ref}: model directory {path} is missing")
    return path


def store_versions(home: CloudHome, component: str = COMPONENT) -> list[str]:
    """`component` versions present in the component store, ascending (semver)."""
    prefix = f"{component}-"
    found = []
    for path in home.recipe_dir.glob(f"{prefix}*"):
        version = path.stem[len(prefix):]
        if nodesemver.valid(version, loose=False):
            found.append(version)
    return nodesemver.sort(found, loose=False)


def next_version(known: list[str]) -> str:
    """1.0.0 for the first, then the next patch after the highest known version."""
    if not known:
        return FIRST_VERSION
    return nodesemver.inc(nodesemver.max_satisfying(known, "*", loose=False), "patch", loose=False)


def recipe_artifact(recipe_path: Path, archive: str) -> dict[str, Any]:
    """The `archive` artifact entry of a built model component recipe."""
    recipe = yaml.safe_load(recipe_path.read_text(encoding="utf-8"))
    for manifest in recipe.get("Manifests", []):
        for artifact in manifest.get("Artifacts", []):
            if str(artifact.get("URI", "")).endswith(f"/{archive}"):
                return artifact
    raise PromotionError(f"{recipe_path}: no {archive} artifact in the recipe")


def zip_digest(path: Path) -> str:
    """Greengrass's artifact digest: base64 of the SHA-256 of the file."""
    return base64.b64encode(hashlib.sha256(path.read_bytes()).digest()).decode("ascii")


# -- promotion ----------------------------------------------------------------------------------

class Promoter:
    """Approve, promote and roll back registry versions of any model line (see the module docstring).

    `tolerance` loosens each line's gate in that line's units (regret percentage points for the twin,
    fractions of windows for the ECG screener)."""

    def __init__(self, home: CloudHome, registry: ModelRegistry, target: PromotionTarget | None = None,
                 *, deploy_timeout_s: float = 300.0, tolerance: float = 0.0) -> None:
        self.home = home
        self.registry = registry
        self.target = target
        self.log = PromotionLog(home.promotions_db)
        self.deploy_timeout_s = deploy_timeout_s
        self.tolerance = tolerance

    @staticmethod
    def line_of(package: ModelPackage) -> ModelLine:
        try:
            return line_of_model_dir(model_dir_of(package))
        except UnknownModelLine as exc:
            raise PromotionError(f"{package.ref}: {exc}") from None

    # serving model --------------------------------------------------------------------------
    def serving(self, component: str = COMPONENT) -> tuple[str | None, ModelPackage | None]:
        """(component version, registry version) serving now: on the target, else last published."""
        records = self.log.all(component)
        if self.target is not None:
            version = self.target.deployed_version(component)
            if version is None:
                return None, None
            mine = [r for r in records if r.component_version == version and r.model_ref]
        else:
            mine = [r for r in records if r.status in (PromotionStatus.PUBLISHED, PromotionStatus.SUCCEEDED) and r.model_ref]
            version = mine[-1].component_version if mine else None
        if not mine:
            return version, None
        return version, self.registry.get(*parse_ref(str(mine[-1].model_ref)))

    def gate(self, candidate: ModelPackage) -> GateResult:
        """The candidate's line compares it with the model serving now (nothing serving: allowed)."""
        line = self.line_of(candidate)
        problem = line.requirements(candidate) if line.requirements else None
        if problem:
            return GateResult(False, problem)
        version, serving = self.serving(line.component)
        if serving is None:
            note = (f"{line.component} {version} on {self.target.name} was not promoted from this registry; "
                    "nothing to compare with" if version and self.target else "no model is serving yet")
            return GateResult(True, note)
        if serving.ref == candidate.ref:
            return GateResult(True, f"{candidate.ref} is the serving model", serving.ref)
        try:
            serving_dir = model_dir_of(serving)
        except PromotionError as exc:
            return GateResult(False, f"cannot compare with serving {serving.ref}: {exc}", serving.ref)
        where = f"{line.component} {version}" + (f" on {self.target.name}" if self.target else "")
        return line.compare(candidate, serving, serving_dir, self.tolerance, where)

    # approve + promote ----------------------------------------------------------------------
    def approve(self, ref: str, *, force: bool = False, description: str = "") -> Promotion:
        """Gate, approve in the registry, build the next component version and deploy it."""
        group, version = parse_ref(ref)
        candidate = self.registry.get(group, version)
        check_transition(candidate, APPROVED, force)   # a wrong state is a clearer answer than the gate's
        gate = self.gate(candidate)
        if not gate.allowed and not force:
            raise PromotionRefused(f"refusing to approve {candidate.ref}: {gate.message}; "
                                   "pass --force to deploy it anyway")
        approved = self.registry.set_status(group, version, APPROVED,
                                            description or f"approved; gate: {gate.message}"
                                            + (" (forced)" if not gate.allowed else ""), force=force)
        return self.promote(approved, time.monotonic())

    def promote(self, package: ModelPackage, approved_clock: float) -> Promotion:
        """Build and deploy an Approved version; `approved_clock` is time.monotonic() at approval."""

        if package.status != APPROVED:
            raise PromotionError(f"{package.ref} is {package.status}; only Approved versions are promoted")
        line = self.line_of(package)
        component = line.component
        model_dir = model_dir_of(package)
        version = next_version(sorted(set(store_versions(self.home, component))
                                      | {r.component_version for r in self.log.all(component)}))
        metrics = {k: package.metrics.get(k) for k in line.config_metrics}
        try:
            recipe = build_model_component(line.kind, model_dir, version, self.home.recipe_dir,
                                           self.home.artifact_dir, model_version=package.ref,
                                           extra_config={"metrics": metrics})
        except PackagingError as exc:
            raise PromotionError(f"{package.ref}: {exc}") from None
        archive = self.home.artifact_dir / component / version / line.kind.archive
        digest = zip_digest(archive)
        declared = recipe_artifact(Path(recipe), line.kind.archive).get("Digest")
        if declared != digest:
            raise PromotionError(f"{recipe}: recipe digest {declared} does not match {archive} ({digest})")
        record = self.log.add(kind="promote", component=component, model_ref=package.ref,
                              component_version=version, target=self.target.name if self.target else None,
                              artifact_sha256=hashlib.sha256(archive.read_bytes()).hexdigest(),
                              approved_at=package.updated_at, started_at=utc_now(),
                              status=PromotionStatus.PUBLISHED if self.target is None else PromotionStatus.DEPLOYING,
                              detail=f"built {recipe}")
        if self.target is None:
            self.log.update(record, finished_at=utc_now())
            return self.log.get(record)
        return self._deploy(record, component, version, approved_clock)

    def _deploy(self, record: int, component: str, version: str, clock: float) -> Promotion:
        assert self.target is not None
        try:
            outcome = self.target.deploy(component, self.home.recipe_dir, self.home.artifact_dir, version,
                                         self.deploy_timeout_s)
        except PromotionError as exc:
            self.log.update(record, status=PromotionStatus.FAILED, finished_at=utc_now(), detail=str(exc))
            raise
        seconds = round(time.monotonic() - clock, 3) if outcome.status == PromotionStatus.SUCCEEDED else None
        self.log.update(record, status=outcome.status, deployment_id=outcome.deployment_id,
                        finished_at=utc_now(), detail=outcome.detail, seconds_to_serving=seconds)
        return self.log.get(record)

    # rollback -------------------------------------------------------------------------------
    def rollback(self, component: str = COMPONENT) -> Promotion:
        """Redeploy the version that served before the current one; mark the current one Rejected."""
        if self.target is None:
            raise PromotionError("rollback redeploys to a core: give --core-root")
        current = self.target.deployed_version(component)
        if current is None:
            raise PromotionError(f"{component} is not deployed on {self.target.name}; nothing to roll back")
        history = [r for r in reversed(self.log.all(component))
                   if r.target == self.target.name and r.status == PromotionStatus.SUCCEEDED]
        current_ref = next((r.model_ref for r in history if r.component_version == current), None)
        previous = None
        for r in history:
            if r.component_version == current or r.model_ref is None:
                continue
            if self.registry.get(*parse_ref(r.model_ref)).status == REJECTED:
                continue
            if not (self.home.recipe_dir / f"{component}-{r.component_version}.yaml").exists():
                continue
            previous = r
            break
        if previous is None:
            raise PromotionError(f"no earlier {component} version that is not rejected was deployed to "
                                 f"{self.target.name}; {current} stays")
        clock = time.monotonic()
        record = self.log.add(kind="rollback", component=component, model_ref=previous.model_ref,
                              component_version=previous.component_version, target=self.target.name,
                              artifact_sha256=previous.artifact_sha256, started_at=utc_now(), status=PromotionStatus.DEPLOYING,
                              detail=f"from {current} ({current_ref or 'unknown model'})")
        result = self._deploy(record, component, previous.component_version, clock)
        if result.status == PromotionStatus.SUCCEEDED and current_ref:
            package = self.registry.get(*parse_ref(current_ref))
            if package.status == APPROVED:
                self.registry.set_status(package.group, package.version, REJECTED,
                                         f"rolled back on {utc_now()}: {self.target.name} went back to "
                                         f"{component} {previous.component_version} ({previous.model_ref})")
        self.log.update(record, detail=f"from {current} ({current_ref or 'unknown model'}) to "
                                       f"{previous.component_version} ({previous.model_ref})"
                                       + (f"; {result.detail}" if result.detail else ""))
        return self.log.get(record)


def last_component(home: CloudHome) -> str | None:
    """The model component of the latest promotion or rollback this home recorded."""
    records = PromotionLog(home.promotions_db).all()
    return records[-1].component if records else None


def last_target_root(home: CloudHome, component: str | None = None) -> str | None:
    """The core root of the latest deployment this home made (of `component`): rollback's default target."""
    for record in reversed(PromotionLog(home.promotions_db).all(component)):
        if record.target and record.target.startswith("local-core:"):
            return record.target[len("local-core:"):]
    return None


__all__ = ["COMPONENT", "DeploymentOutcome", "GateResult", "LocalCoreTarget", "Promoter", "Promotion",
           "PromotionError", "PromotionLog", "PromotionRefused", "PromotionTarget", "RegistryError",
           "last_component", "last_target_root", "next_version", "store_versions", "zip_digest"]
