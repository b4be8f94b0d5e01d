"""`edgeloop registry ...`: model package groups and versions; approval promotes to the core.

  edgeloop registry list [--group G] [--home DIR] [--json]
  edgeloop registry show GROUP/VERSION [--home DIR] [--json]
  edgeloop registry approve GROUP/VERSION [--force] [--core-root DIR] [--description TEXT]
  edgeloop registry reject GROUP/VERSION --reason TEXT
  edgeloop registry rollback [--core-root DIR]

`approve` without --core-root publishes the component into HOME/components only (deploy it with
`edgeloop core deploy`); with it, it deploys and waits. `rollback` defaults to the core the last
promotion deployed to.

Exit codes: 0 done; 1 refused (worse model, unknown version, bad transition) or the deployment
failed; 2 bad arguments (list/show of something unknown, no core to roll back).
"""

from __future__ import annotations

import argparse
import json

from edgeloop.cloud.errors import PromotionError, PromotionRefused, RegistryError
from edgeloop.cloud.home import CloudHome, add_home_argument
from edgeloop.cloud.promotion import LocalCoreTarget, Promoter, PromotionStatus, last_component, last_target_root
from edgeloop.errors import CommandError

from .base import REJECTED, parse_ref
from .local import LocalRegistry


def register(registry: argparse.ArgumentParser) -> None:
    """Fill the `registry` command group."""
    registry.description = ("Model package groups and versions (SageMaker Model Registry semantics); "
                            "approval deploys to the core.")
    commands = registry.add_subparsers(dest="registry_command", metavar="COMMAND", required=True)

    listing = commands.add_parser("list", help="model package versions")
    listing.add_argument("--group", help="only this model package group")
    add_home_argument(listing)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=run_list)

    show = commands.add_parser("show", help="one version: status, metrics, artifact, run, promotions")
    show.add_argument("ref", metavar="GROUP/VERSION")
    add_home_argument(show)
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=run_show)

    approve = commands.add_parser("approve", help="approve a version and promote it to the core")
    approve.add_argument("ref", metavar="GROUP/VERSION")
    add_home_argument(approve)
    approve.add_argument("--core-root", metavar="DIR", help="deploy to the local core under DIR")
    approve.add_argument("--force", action="store_true",
                         help="approve even if it is worse than the serving model, rejected or already approved")
    approve.add_argument("--description", default="", help="approval description")
    approve.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for the deployment")
    approve.set_defaults(func=run_approve)

    reject = commands.add_parser("reject", help="reject a version")
    reject.add_argument("ref", metavar="GROUP/VERSION")
    reject.add_argument("--reason", required=True, help="why (kept as the approval description)")
    add_home_argument(reject)
    reject.set_defaults(func=run_reject)

    rollback = commands.add_parser("rollback", help="redeploy the previous version of a model component")
    add_home_argument(rollback)
    rollback.add_argument("--component", help="model component (default: the one promoted last, e.g. "
                                              "com.edgeloop.TwinModel or com.edgeloop.EcgModel)")
    rollback.add_argument("--core-root", metavar="DIR", help="the core (default: the last promotion's)")
    rollback.add_argument("--timeout", type=float, default=300.0)
    rollback.set_defaults(func=run_rollback)


def _open(args: argparse.Namespace, core_root: str | None = None):

    home = CloudHome.at(args.home)
    registry = LocalRegistry(home.registry_db)
    target = LocalCoreTarget(core_root) if core_root else None
    return home, registry, Promoter(home, registry, target, deploy_timeout_s=getattr(args, "timeout", 300.0))


def run_list(args: argparse.Namespace) -> int:
    _, registry, promoter = _open(args)
    try:
        packages = registry.list(args.group)
    except RegistryError as exc:
        raise CommandError(str(exc)) from None
    components: dict[str, str] = {}
    for record in promoter.log.all():
        if record.kind == "promote" and record.model_ref:
            components[record.model_ref] = f"{record.component} {record.component_version} {record.status}"
    if args.json:
        print(json.dumps([{**p.to_dict(), "component": components.get(p.ref)} for p in packages], indent=2))
        return 0
    if not packages:
        print("no model packages yet (edgeloop pipeline run twin|ecg)")
        return 0
    print(f"{'MODEL':22s} {'STATUS':22s} {'CREATED':25s} {'QUALITY':26s} COMPONENT")
    for p in packages:
        print(f"{p.ref:22s} {p.status:22s} {p.created_at:25s} {headline(p.metrics):26s} "
              f"{components.get(p.ref, '')}")
    return 0


def headline(metrics: dict) -> str:
    """The numbers a gate looks at: mean regret for the twin, sensitivity / normal forwarded for ECG."""
    if metrics.get("mean_regret_pct") is not None:
        return f"regret {metrics['mean_regret_pct']:.3f} %"
    sens, fwd = metrics.get("sensitivity_non_normal"), metrics.get("normal_forwarded_fraction")
    if sens is not None and fwd is not None:
        return f"sens {sens:.3f} normal fwd {fwd:.3f}"
    return ""


def run_show(args: argparse.Namespace) -> int:
    _, registry, promoter = _open(args)
    try:
        package = registry.get(*parse_ref(args.ref))
    except RegistryError as exc:
        raise CommandError(str(exc)) from None
    promotions = [r.to_dict() for r in promoter.log.all() if r.model_ref == package.ref]
    if args.json:
        print(json.dumps({**package.to_dict(), "promotions": promotions}, indent=2))
        return 0
    print(f"{package.ref}  {package.status}")
    print(f"arn             {package.arn}")
    print(f"created         {package.created_at}   updated {package.updated_at or '-'}")
    print(f"model data url  {package.model_data_url}")
    print(f"run             {package.run_id}")
    print(f"description     {package.description}")
    print(f"approval        {package.approval_description or '-'}")
    print("metrics         " + json.dumps(package.metrics))
    for r in promotions:
        print(f"promotion       {r['kind']} -> {r['component']} {r['component_version']} "
              f"{r['status']} on {r['target'] or 'component store only'} {r['finished_at'] or ''} {r['detail']}")
    return 0


def _report(record) -> None:
    print(f"{record.kind}: {record.model_ref} -> {record.component} {record.component_version} "
          f"{record.status}" + (f" on {record.target}" if record.target else " (published to the component store)"))
    if record.deployment_id:
        print(f"deployment {record.deployment_id}" + (f": {record.detail}" if record.detail else ""))
    if record.seconds_to_serving is not None:
        what = "approval" if record.kind == "promote" else "rollback"
        print(f"time from {what} to the new model serving: {record.seconds_to_serving:.1f} s")


def run_approve(args: argparse.Namespace) -> int:

    home, _, promoter = _open(args, args.core_root)
    try:
        record = promoter.approve(args.ref, force=args.force, description=args.description)
    except (PromotionRefused, RegistryError) as exc:
        raise CommandError(str(exc), 1) from None
    except PromotionError as exc:
        raise CommandError(f"{args.ref} is approved but was not promoted: {exc}", 1) from None
    _report(record)
    if record.target is None:
        print(f"deploy with: edgeloop core deploy --root ROOT --recipe-dir {home.recipe_dir} "
              f"--artifact-dir {home.artifact_dir} --merge {record.component}={record.component_version}")
    return 0 if record.status in (PromotionStatus.SUCCEEDED, PromotionStatus.PUBLISHED) else 1


def run_reject(args: argparse.Namespace) -> int:
    _, registry, promoter = _open(args)
    try:
        group, version = parse_ref(args.ref)
        package = registry.set_status(group, version, REJECTED, args.reason)
    except RegistryError as exc:
        raise CommandError(str(exc), 1) from None
    print(f"{package.ref} Rejected: {args.reason}")
    serving = [r for r in promoter.log.all() if r.model_ref == package.ref and r.status == PromotionStatus.SUCCEEDED]
    if serving:
        print(f"note: it was deployed as {serving[-1].component} {serving[-1].component_version} on "
              f"{serving[-1].target}; if it still serves there, run `edgeloop registry rollback`")
    return 0


def run_rollback(args: argparse.Namespace) -> int:
    home = CloudHome.at(args.home)
    component = args.component or last_component(home)
    if component is None:
        raise CommandError("nothing was promoted from this home; nothing to roll back")
    root = args.core_root or last_target_root(home, component)
    if root is None:
        raise CommandError("no core to roll back: nothing was deployed from this home; give --core-root")
    _, _, promoter = _open(args, root)
    try:
        record = promoter.rollback(component)
    except PromotionError as exc:
        raise CommandError(str(exc), 1) from None
    _report(record)
    return 0 if record.status == PromotionStatus.SUCCEEDED else 1
