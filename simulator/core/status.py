"""What `edgeloop core status` shows: written by the running core on every change, read by the CLI."""

from __future__ import annotations

import json
import os
import time
from typing import Any

from .deployment.records import DeploymentRecords
from .paths import CorePaths


def write_status(paths: CorePaths, status: dict[str, Any]) -> None:
    tmp = paths.services_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(status, indent=1))
    os.replace(tmp, paths.services_file)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def read_status(paths: CorePaths, deployments: int = 10) -> dict[str, Any] | None:
    if not paths.services_file.exists():
        return None
    status = json.loads(paths.services_file.read_text())
    status["running"] = _alive(status.get("pid")) and status.get("stopped_at") is None
    records = DeploymentRecords(paths.deployments).all()[-deployments:]
    status["deployments"] = [{
        "deploymentId": r.deployment_id, "status": r.status, "detailedStatus": r.detailed_status,
        "createdOn": r.created_on, "finishedOn": r.finished_on, "failureCause": r.failure_cause,
        "merge": r.request.merge, "remove": r.request.remove} for r in records]
    return status


def render_status(status: dict[str, Any]) -> str:
    lines = [f"core {'RUNNING' if status['running'] else 'STOPPED'}  thing={status.get('thing_name')}  "
             f"root={status.get('root')}"]
    if status.get("mqtt_url"):
        lines.append(f"client devices: {status['mqtt_url']}    cloud: {status.get('cloud') or 'not configured'}")
    lines.append("")
    lines.append(f"{'COMPONENT':44} {'VERSION':12} STATE")
    for comp in status.get("components", []):
        note = f"   ({comp['last_error']})" if comp.get("last_error") and comp["state"] in ("ERRORED", "BROKEN") else ""
        lines.append(f"{comp['name']:44} {comp['version']:12} {comp['state']}{note}")
    if status.get("deployments"):
        lines.append("")
        lines.append("RECENT DEPLOYMENTS")
        for d in status["deployments"]:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(d["createdOn"]))
            what = ", ".join(f"{k}={v}" for k, v in d["merge"].items()) or ""
            if d["remove"]:
                what += (" " if what else "") + "remove " + ", ".join(d["remove"])
            lines.append(f"{when}  {d['deploymentId'][:8]}  {d['status']:11} {what}")
            if d.get("failureCause"):
                lines.append(f"    {d['detailedStatus']}: {d['failureCause']}")
    return "\n".join(lines)
