"""`edgeloop twin ...`: train, query and evaluate the compressed-air plant twin.

  edgeloop twin train --data FILE.csv --out DIR [--boundaries FILE.json] [--n-estimators N] ...
  edgeloop twin recommend --model DIR --event FILE|- [--seed N] [--json] [--plot FILE.png]
  edgeloop twin simulate --model DIR [--seed N] [--json]
  edgeloop twin evaluate --model DIR [--plant-seed N] [--seed N] [--json] [--plot FILE.png] [--check]

Exit codes: 0 done; 1 the model artifact was refused or evaluation missed its targets (--check);
2 bad input (CSV, boundaries, event, arguments) with a message naming the row/field.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from edgeloop.components.digital_twin.model import PowerModel
from edgeloop.components.digital_twin.optimizer import Optimizer
from edgeloop.components.digital_twin.request import parse_request
from edgeloop.components.errors import BoundariesError, TrainingDataError
from edgeloop.contracts.errors import RequestError
from edgeloop.errors import ArtifactError, CommandError
from edgeloop.jsonsafe import json_safe
from edgeloop.simulator.plant import Plant

from .evaluate import evaluate, reference_grid, simulate
from .plot import plot_evaluation, plot_request
from .progress import progress
from .train import train


def register(twin: argparse.ArgumentParser) -> None:
    """Fill the `twin` command group."""
    twin.description = "Train, query and evaluate the plant digital twin."
    commands = twin.add_subparsers(dest="twin_command", metavar="COMMAND", required=True)

    train = commands.add_parser("train", help="train power models from a telemetry CSV")
    train.add_argument("--data", required=True, metavar="FILE.csv",
                       help="telemetry: timestamp,flow,pressure,power,config")
    train.add_argument("--out", required=True, metavar="DIR", help="artifact directory to write")
    train.add_argument("--boundaries", metavar="FILE.json",
                       help="feasible flow range per configuration (default: the observed envelope)")
    train.add_argument("--n-estimators", type=int, default=200)
    train.add_argument("--max-depth", type=int, default=4)
    train.add_argument("--learning-rate", type=float, default=0.1)
    train.add_argument("--holdout", type=float, default=0.2,
                       help="fraction of each configuration's latest rows held out (default 0.2)")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--json", action="store_true", help="print the metadata summary as JSON")
    train.set_defaults(func=run_train)

    recommend = commands.add_parser("recommend", help="rank configurations for a request event")
    recommend.add_argument("--model", required=True, metavar="DIR")
    recommend.add_argument("--event", required=True, metavar="FILE|-",
                           help='the Lambda test event, e.g. {"flow": "[280, 300]", "pressure": "[69, 70]", ...}')
    recommend.add_argument("--seed", type=int, default=None)
    recommend.add_argument("--json", action="store_true", help='print only [{"c1c4": 54.2}, ...]')
    recommend.add_argument("--plot", metavar="FILE.png", help="draw energy curves and the recommendation")
    recommend.set_defaults(func=run_recommend)

    simulate = commands.add_parser("simulate", help="rank the reference's offline grid of requests")
    simulate.add_argument("--model", required=True, metavar="DIR")
    simulate.add_argument("--seed", type=int, default=0)
    simulate.add_argument("--json", action="store_true")
    simulate.set_defaults(func=run_simulate)

    evaluate = commands.add_parser("evaluate", help="score recommendations against the plant's oracle")
    evaluate.add_argument("--model", required=True, metavar="DIR")
    evaluate.add_argument("--plant-seed", type=int, default=0, help="seed of the simulated plant")
    evaluate.add_argument("--seed", type=int, default=0, help="seed of the Monte Carlo draws")
    evaluate.add_argument("--json", action="store_true")
    evaluate.add_argument("--plot", metavar="FILE.png")
    evaluate.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    evaluate.set_defaults(func=run_evaluate)


def _load(directory: str) -> Any:
    """The twin in `directory`; a refused artifact is exit code 1."""
    try:
        return PowerModel.load(directory)
    except ArtifactError as exc:
        raise CommandError(str(exc), 1) from None


def run_train(args: argparse.Namespace) -> int:

    params = {"n_estimators": args.n_estimators, "max_depth": args.max_depth,
              "learning_rate": args.learning_rate, "holdout_fraction": args.holdout, "seed": args.seed}
    try:
        with progress("training layouts", total=2) as advance:
            result = train(args.data, args.out, args.boundaries, params, advance)
    except (TrainingDataError, BoundariesError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    model = result.model
    if args.json:
        print(json.dumps(json_safe({"artifact": str(result.artifact), "chosen_layout": result.chosen_layout,
                                 "layout_comparison": result.comparison, "test_mae_kw": model.test_mae_,
                                 "untrained_configurations": model.metadata_["untrained_configurations"]}),
                         indent=2))
        return 0
    for layout, row in result.comparison.items():
        mark = "*" if layout == result.chosen_layout else " "
        print(f"{mark} layout {layout:10s} pooled holdout MAE {row['pooled_test_mae_kw']:.3f} kW")
    print(f"{'config':10s} {'train rows':>10s} {'test rows':>9s} {'test MAE kW':>11s}  boundary")
    for name in model.configurations_:
        lo, hi = model.boundaries_[name]
        print(f"{name:10s} {model.rows_[name]['train']:10d} {model.rows_[name]['test']:9d} "
              f"{model.test_mae_[name]:11.3f}  [{lo:g}, {hi:g}]")
    for name, why in model.metadata_.get("untrained_configurations", {}).items():
        print(f"warning: {name} not trained ({why}); it will never be recommended", file=sys.stderr)
    print(f"wrote {result.artifact}")
    return 0


def _read_event(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    return Path(source).read_text(encoding="utf-8")


def run_recommend(args: argparse.Namespace) -> int:
    try:
        text = _read_event(args.event)
    except OSError as exc:
        raise CommandError(f"{args.event}: cannot read: {exc.strerror or exc}") from None
    try:
        request = parse_request(text)
    except RequestError as exc:
        raise CommandError(f"bad event: {exc}") from None
    model = _load(args.model)
    ranking = Optimizer(model).rank(request, args.seed)
    if args.plot:
        plot_request(model, ranking, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    if args.json:
        print(json.dumps(ranking.answer()))
        return 0
    print(f"{'rank':>4s} {'config':10s} {'kW/sample':>9s} {'wins':>6s}   expected kW (95 % CI)")
    for rank, entry in enumerate(ranking.ranked, 1):
        est = ranking.estimates[entry.config]
        print(f"{rank:4d} {entry.config:10s} {entry.energy_per_sample:9.2f} {entry.wins:3d}/{entry.trials:<3d}"
              f"  {est.expected:.2f} [{est.low:.2f}, {est.high:.2f}]")
    for name, reason in ranking.excluded.items():
        print(f"     {name:10s} left out: {reason}")
    if not ranking.ranked:
        print("no configuration covers the requested flow range")
    print(json.dumps(ranking.answer()))
    return 0


def run_simulate(args: argparse.Namespace) -> int:
    model = _load(args.model)
    rankings = simulate(model, seed=args.seed)
    if args.json:
        print(json.dumps([{"flow": list(r.request.flow), "pressure": list(r.request.pressure),
                           "ranking": r.answer()} for r in rankings]))
        return 0
    for r in rankings:
        top = r.ranked[0] if r.ranked else None
        print(f"flow {r.request.flow[0]:g}-{r.request.flow[1]:g} pressure {r.request.pressure[0]:g}-"
              f"{r.request.pressure[1]:g}: " + (f"{top.config} {top.energy_per_sample:.1f} kW" if top else "none"))
    return 0


def run_evaluate(args: argparse.Namespace) -> int:

    model = _load(args.model)
    plant = Plant.default(args.plant_seed)
    requests = reference_grid()
    with progress("evaluating request ranges", total=len(requests)) as advance:
        result = evaluate(model, plant, requests, seed=args.seed, advance=advance)
    if args.plot:
        plot_evaluation(model, plant, result, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    summary = result.summary()
    if args.json:
        print(json.dumps(json_safe(summary), indent=2))
    else:
        met = result.meets_targets()
        print(f"requests evaluated        {summary['requests']}")
        print(f"mean regret vs oracle     {result.mean_regret_pct:.3f} %  (target <= 1 %)"
              f"  {'ok' if met['mean_regret_pct'] else 'MISSED'}")
        print(f"  best single config      {result.best_single_regret_pct:.3f} %  (structural part)")
        print(f"infeasible picks          {result.infeasible}  (target 0)"
              f"  {'ok' if met['infeasible'] else 'MISSED'}")
        print(f"savings capture           {100 * result.savings_capture:.1f} %  (target >= 90 %)"
              f"  {'ok' if met['savings_capture'] else 'MISSED'}")
        print(f"staging-rule waste        {result.baseline_savings_pct:.2f} % of baseline power")
    if args.check and not all(result.meets_targets().values()):
        return 1
    return 0
