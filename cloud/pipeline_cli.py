"""`edgeloop pipeline ...`: run training pipelines and inspect their experiments.

  edgeloop pipeline run twin [--home DIR] [--data FILE.csv ...] [--plant-id ID] [--group G] [...]
  edgeloop pipeline run ecg [--home DIR] [--archive DIR] [--seed N] [--devices N] [--minutes M] [--group G]
  edgeloop pipeline list [--home DIR] [--json]
  edgeloop pipeline show RUN [--home DIR] [--json]

Exit codes: 0 done; 1 the run failed (recorded as Failed); 2 bad input or unknown run.
"""

from __future__ import annotations

import argparse
import json

from edgeloop.cloud.errors import PipelineError, RegistryError, UnknownRun
from edgeloop.errors import CommandError

from .ecg.pipeline import EcgParams, run_ecg_pipeline
from .experiments import ExperimentStore
from .home import CloudHome, add_home_argument
from .pipeline import TwinParams, run_twin_pipeline
from .registry import LocalRegistry
from .registry.cli import headline


def register(pipeline: argparse.ArgumentParser) -> None:
    """Fill the `pipeline` command group."""
    pipeline.description = "Run training pipelines; every run is a recorded experiment."
    commands = pipeline.add_subparsers(dest="pipeline_command", metavar="COMMAND", required=True)

    run = commands.add_parser("run", help="run a pipeline (twin: lake -> model -> registry; ecg: pathology "
                                          "archive + simulated wearables -> screener -> registry)")
    run.add_argument("name", choices=["twin", "ecg"], help="the pipeline")
    add_home_argument(run)
    run.add_argument("--data", nargs="+", metavar="FILE.csv",
                     help="train on these CSVs (timestamp,flow,pressure,power,config[,plant_id,seq]) "
                          "instead of the lake")
    run.add_argument("--plant-id", help="only this plant's rows")
    run.add_argument("--group", help="model package group (default edgeloop-twin / edgeloop-ecg)")
    run.add_argument("--boundaries", metavar="FILE.json",
                     help="feasible flow range per configuration (default: the simulated plant's design)")
    run.add_argument("--plant-seed", type=int, default=0, help="seed of the plant evaluated against")
    run.add_argument("--n-estimators", type=int, default=200)
    run.add_argument("--max-depth", type=int, default=4)
    run.add_argument("--learning-rate", type=float, default=0.1)
    run.add_argument("--holdout", type=float, default=0.2, help="time-split holdout fraction")
    run.add_argument("--seed", type=int, default=0, help="training seed")
    run.add_argument("--simulations", type=int, default=100, help="Monte Carlo draws per trial (evaluation)")
    run.add_argument("--trials", type=int, default=10, help="Monte Carlo trials per request (evaluation)")
    run.add_argument("--eval-seed", type=int, default=0)
    ecg = run.add_argument_group("ecg only")
    ecg.add_argument("--archive", metavar="DIR", help="pathology archive whose reviewed windows join the "
                                                      "training data (default: HOME/ecg-archive if present)")
    ecg.add_argument("--devices", type=int, default=None, help="simulated devices per set (default 40)")
    ecg.add_argument("--minutes", type=float, default=None, help="minutes per simulated device (default 20)")
    ecg.add_argument("--workers", type=int, default=None, help="processes building windows (default 2)")
    run.add_argument("--json", action="store_true", help="print the run record as JSON")
    run.set_defaults(func=run_pipeline)

    listing = commands.add_parser("list", help="recorded runs, newest first")
    add_home_argument(listing)
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=list_runs)

    show = commands.add_parser("show", help="one run: parameters, metrics, artifacts, lineage, steps")
    show.add_argument("run_id", metavar="RUN")
    add_home_argument(show)
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=show_run)


def run_pipeline(args: argparse.Namespace) -> int:
    if args.name == "ecg":
        return run_ecg(args)
    home = CloudHome.at(args.home)
    params = TwinParams(group=args.group or "edgeloop-twin", plant_id=args.plant_id, boundaries=args.boundaries,
                        plant_seed=args.plant_seed, n_estimators=args.n_estimators, max_depth=args.max_depth,
                        learning_rate=args.learning_rate, holdout_fraction=args.holdout, seed=args.seed,
                        simulations=args.simulations, no_of_trials=args.trials, eval_seed=args.eval_seed)
    for name, value in (("--n-estimators", args.n_estimators), ("--max-depth", args.max_depth),
                        ("--simulations", args.simulations), ("--trials", args.trials)):
        if value < 1:
            raise CommandError(f"{name} must be at least 1, got {value}")
    try:
        run = run_twin_pipeline(home, LocalRegistry(home.registry_db), params, args.data)
    except (PipelineError, RegistryError) as exc:
        raise CommandError(str(exc), 1) from None
    return _report(run, home, args.json, f"mean regret {run.metrics['mean_regret_pct']:.2f} %, "
                                         f"savings capture {100 * run.metrics['savings_capture']:.1f} %")


def run_ecg(args: argparse.Namespace) -> int:
    home = CloudHome.at(args.home)
    defaults = EcgParams()
    params = EcgParams(group=args.group or defaults.group, seed=args.seed,
                       devices=defaults.devices if args.devices is None else args.devices,
                       minutes=defaults.minutes if args.minutes is None else args.minutes,
                       workers=defaults.workers if args.workers is None else args.workers,
                       archive=args.archive)
    try:
        run = run_ecg_pipeline(home, LocalRegistry(home.registry_db), params)
    except (PipelineError, RegistryError) as exc:
        raise CommandError(str(exc), 1) from None
    return _report(run, home, args.json, f"held-out sensitivity {run.metrics['sensitivity_non_normal']:.4f}, "
                                         f"normal windows forwarded "
                                         f"{100 * run.metrics['normal_forwarded_fraction']:.2f} %")


def _report(run, home: CloudHome, as_json: bool, quality: str) -> int:
    """A succeeded run: the run record as JSON, or what was registered, its quality and how to approve it."""
    if as_json:
        print(json.dumps(run.to_dict(), indent=2))
        return 0
    package = run.artifacts["model_package"]
    print(f"run {run.run_id} Succeeded: registered {package['ref']} ({package['status']}); {quality}")
    print(f"approve it with: edgeloop registry approve {package['ref']} --home {home.root}")
    return 0


def list_runs(args: argparse.Namespace) -> int:
    runs = ExperimentStore(CloudHome.at(args.home).experiments_db).list()
    if args.json:
        print(json.dumps([r.to_dict() for r in runs], indent=2))
        return 0
    if not runs:
        print("no runs yet (edgeloop pipeline run twin)")
        return 0
    print(f"{'RUN':34s} {'PIPELINE':8s} {'STATUS':10s} {'CREATED':25s} {'QUALITY':26s} MODEL")
    for r in runs:
        print(f"{r.run_id:34s} {r.pipeline:8s} {r.status:10s} {r.created_at:25s} {headline(r.metrics):26s} "
              f"{r.artifacts.get('model_package', {}).get('ref', r.error or '')}")
    return 0


def show_run(args: argparse.Namespace) -> int:
    try:
        run = ExperimentStore(CloudHome.at(args.home).experiments_db).get(args.run_id)
    except UnknownRun as exc:
        raise CommandError(str(exc)) from None
    if args.json:
        print(json.dumps(run.to_dict(), indent=2))
        return 0
    print(f"run {run.run_id}  pipeline {run.pipeline}  {run.status}")
    print(f"created {run.created_at}  finished {run.finished_at or '-'}")
    if run.error:
        print(f"error: {run.error}")
    print("steps:")
    for s in run.steps:
        print(f"  {s['name']:10s} {s['status']:9s} {s.get('seconds', 0):7.2f} s  {s.get('detail', '')}")
    print("parameters: " + json.dumps({k: v for k, v in run.parameters.items() if k != "data"}))
    print("metrics: " + json.dumps(run.metrics))
    lin = run.lineage
    if lin and run.pipeline == "ecg":
        print("lineage: " + json.dumps(lin))
    elif lin:
        print(f"lineage: {lin['rows']} rows ({lin['rows_read']} read, {lin['duplicates_dropped']} duplicates, "
              f"{lin['rows_invalid']} invalid), {lin['time_range'][0]} .. {lin['time_range'][1]}, "
              f"plants {lin['plants']}")
        for f in lin["inputs"]:
            print(f"  input {f['path']}  {f['rows']} rows  sha256 {f['sha256']}")
    for name, f in run.artifacts.get("files", {}).items():
        print(f"  artifact {name}  sha256 {f['sha256']}")
    if "model_package" in run.artifacts:
        print(f"model package: {run.artifacts['model_package']['ref']}")
    return 0
