"""The twin training pipeline: lake (or CSV files) -> preprocess -> train -> simulate -> evaluate -> register.

Each run is an experiment (experiments.py) recording parameters, metrics, artifacts with digests,
data lineage and per-step timings; a run that fails is recorded as Failed with the step and reason.

Step order: the reference's offline grid ("simulate") runs before "evaluate" because the
evaluation scores exactly those rankings against the plant's oracle; computing them once keeps the
two outputs consistent and halves the Monte Carlo work.

Preprocessing: rows from every input are validated (the plant telemetry contract's per-field rules,
as at ingestion and on the gateway: timestamps need a timezone, readings are finite and >= 0), deduplicated by
(plant_id, timestamp) - QoS 1 may deliver a sample twice, and a plant cannot have two samples at one
instant, while `seq` restarts when a device restarts so it is not a key - and written time-ordered
to one training CSV. Rows that fail validation are dropped, counted by reason, and the first few are
named (file, line, problem) in the lineage and on stderr.
"""

from __future__ import annotations

import csv
import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from edgeloop.cloud.errors import PipelineError
from edgeloop.cloud.twin.evaluate import evaluate, reference_grid, simulate
from edgeloop.cloud.twin.progress import progress
from edgeloop.cloud.twin.train import train
from edgeloop.components.digital_twin import configurations as cfgs
from edgeloop.components.errors import BoundariesError, TrainingDataError
from edgeloop.contracts.errors import TelemetryError
from edgeloop.contracts.plant import READINGS, check_config, check_plant_id, parse_timestamp, reading_from_text
from edgeloop.jsonsafe import json_safe
from edgeloop.simulator.plant import Plant

from .experiments import ExperimentStore, Run, RunStatus, utc_now
from .home import CloudHome
from .lake import COLUMNS, Lake
from .registry.base import ModelRegistry

PIPELINE = "twin"
DEFAULT_GROUP = "edgeloop-twin"
REQUIRED = ("timestamp", "flow", "pressure", "power", "config")
MAX_EXAMPLES = 5


@dataclass
class TwinParams:
    """Everything a twin run depends on; recorded as the run's parameters."""

    group: str = DEFAULT_GROUP
    plant_id: str | None = None
    boundaries: str | None = None
    plant_seed: int = 0
    n_estimators: int = 200
    max_depth: int = 4
    learning_rate: float = 0.1
    holdout_fraction: float = 0.2
    seed: int = 0
    simulations: int = 100
    no_of_trials: int = 10
    train_error_weight: float = 1.0
    eval_seed: int = 0

    def training(self) -> dict[str, Any]:
        return {"n_estimators": self.n_estimators, "max_depth": self.max_depth,
                "learning_rate": self.learning_rate, "holdout_fraction": self.holdout_fraction,
                "seed": self.seed}

    def evaluation(self) -> dict[str, Any]:
        """Identifies an evaluation: two models are comparable only on equal specs."""
        return {"grid": "reference", "plant_seed": self.plant_seed, "simulations": self.simulations,
                "no_of_trials": self.no_of_trials, "train_error_weight": self.train_error_weight,
                "seed": self.eval_seed}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# -- preprocess -------------------------------------------------------------------------------

@dataclass
class Prepared:
    path: Path
    lineage: dict[str, Any] = field(default_factory=dict)


def _row_problem(row: dict[str, str], known: frozenset[str]) -> tuple[str, str] | tuple[None, float]:
    """(reason, detail) when the row breaks the telemetry contract, else (None, epoch seconds)."""
    try:
        for name in READINGS:
            reading_from_text(name, row.get(name) or "")
        check_config((row.get("config") or "").strip(), known)
        moment = parse_timestamp((row.get("timestamp") or "").strip())
        plant = (row.get("plant_id") or "").strip()
        if plant:
            check_plant_id(plant)
    except TelemetryError as exc:
        return exc.reason, f"{exc.field} {exc.problem}"
    return None, moment.timestamp()


def preprocess(inputs: Sequence[Path], out: Path, known: frozenset[str],
               plant_id: str | None = None) -> Prepared:
    """Validate, deduplicate and time-order `inputs` into one training CSV at `out`."""
    if not inputs:
        raise PipelineError("no input data: the lake has no telemetry (run `edgeloop cloud ingest`) "
                            "and no --data file was given")
    rows: dict[tuple[str, str], tuple[float, int, list[str]]] = {}
    files: list[dict[str, Any]] = []
    invalid: Counter[str] = Counter()
    examples: list[str] = []
    duplicates = read = 0
    order = 0
    for path in inputs:
        try:
            handle = open(path, newline="", encoding="utf-8")
        except OSError as exc:
            raise PipelineError(f"{path}: cannot read: {exc.strerror or exc}") from None
        with handle:
            reader = csv.DictReader(handle)
            header = [h.strip() for h in reader.fieldnames or []]
            missing = [c for c in REQUIRED if c not in header]
            if missing:
                raise PipelineError(f"{path} line 1: missing column(s) {', '.join(missing)} "
                                    f"(header has {', '.join(header) or 'nothing'})")
            reader.fieldnames = header
            count = 0
            for row in reader:
                count += 1
                plant = (row.get("plant_id") or "").strip()
                if plant_id is not None and plant != plant_id:
                    continue
                problem = _row_problem(row, known)
                if problem[0] is not None:
                    invalid[problem[0]] += 1
                    if len(examples) < MAX_EXAMPLES:
                        examples.append(f"{path} line {reader.line_num}: {problem[1]}")
                    continue
                value = problem[1]
                stamp = row["timestamp"].strip()
                key = (plant, f"{value:.3f}")
                if key in rows:
                    duplicates += 1
                    continue
                order += 1
                rows[key] = (value, order, [stamp, row["flow"].strip(), row["pressure"].strip(),
                                            row["power"].strip(), row["config"].strip(), plant,
                                            (row.get("seq") or "").strip()])
        read += count
        files.append({"path": str(path), "sha256": sha256_file(path), "rows": count})
    if not rows:
        raise PipelineError(f"no valid rows in {len(files)} input file(s)"
                            + (f" for plant {plant_id!r}" if plant_id else "")
                            + (f"; dropped: {dict(invalid)}; e.g. {examples[0]}" if examples else ""))
    ordered = sorted(rows.values(), key=lambda r: (r[0], r[1]))
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(r[2] for r in ordered)
    plants = Counter(r[2][5] for r in ordered)
    lineage = {"inputs": files, "rows_read": read, "rows_invalid": sum(invalid.values()),
               "invalid_by_reason": dict(invalid), "invalid_examples": examples,
               "duplicates_dropped": duplicates, "rows": len(ordered),
               "time_range": [ordered[0][2][0], ordered[-1][2][0]],
               "plants": dict(sorted(plants.items())),
               "training_csv": {"path": str(out), "sha256": sha256_file(out)}}
    return Prepared(out, lineage)


# -- evaluation shared with promotion -----------------------------------------------------------

METRIC_KEYS = ("mean_regret_pct", "best_single_regret_pct", "infeasible", "unanswered",
               "savings_capture", "baseline_savings_pct", "meets_targets")


def metrics_of(result: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """The registry/experiment metrics of an Evaluation, tagged with the spec that produced them."""
    summary = json_safe(result.summary())
    return {**{k: summary[k] for k in METRIC_KEYS}, "evaluation": dict(spec)}


def evaluation_metrics(model: Any, spec: dict[str, Any]) -> dict[str, Any]:
    """Simulate the reference grid and evaluate against the plant for `spec` (TwinParams.evaluation()).

    Promotion uses it to score the serving model on a candidate's evaluation when their specs differ.
    """
    requests = reference_grid(spec["simulations"], spec["no_of_trials"], spec["train_error_weight"])
    return metrics_of(evaluate(model, Plant.default(spec["plant_seed"]), requests, spec["seed"]), spec)


# -- the run ----------------------------------------------------------------------------------

class Steps:
    """Times each step into the run record and prints one line per step on stderr (rich)."""

    def __init__(self, run: Run, store: ExperimentStore, console: Console) -> None:
        self.run, self.store, self.console = run, store, console

    def __call__(self, name: str, action: Callable[[], str]) -> None:
        started, t0 = utc_now(), time.monotonic()
        step: dict[str, Any] = {"name": name, "status": RunStatus.RUNNING, "started_at": started}
        self.run.steps.append(step)
        self.store.save(self.run)
        try:
            with self.console.status(f"[bold]{name}[/bold] ..."):
                detail = action()
        except Exception as exc:
            step.update({"status": RunStatus.FAILED, "seconds": round(time.monotonic() - t0, 3), "detail": str(exc)})
            self.console.print(f"[red]x[/red] {name:10s} failed: {exc}")
            raise
        step.update({"status": RunStatus.SUCCEEDED, "seconds": round(time.monotonic() - t0, 3), "detail": detail})
        self.store.save(self.run)
        self.console.print(f"[green]v[/green] {name:10s} {step['seconds']:6.2f} s  {detail}")


def run_twin_pipeline(home: CloudHome, registry: ModelRegistry, params: TwinParams,
                      data: Sequence[Path] | None = None, console: Console | None = None) -> Run:
    """Run every step; returns the Succeeded run (its artifacts name the registered model package).

    Raises PipelineError after recording the run as Failed.
    """

    console = console or Console(stderr=True, soft_wrap=True)
    store = ExperimentStore(home.experiments_db)
    inputs = [Path(p).resolve() for p in data] if data else list(Lake(home.lake).files(plant_id=params.plant_id))
    run = store.start(PIPELINE, {**asdict(params), "data": [str(p) for p in inputs],
                                 "source": "files" if data else "lake"})
    work = home.runs / run.run_id
    model_dir = home.models / run.run_id
    work.mkdir(parents=True, exist_ok=True)
    console.print(f"pipeline run [bold]{run.run_id}[/bold] ({len(inputs)} input file(s))")
    state: dict[str, Any] = {}
    step = Steps(run, store, console)

    def do_preprocess() -> str:
        if params.boundaries:
            boundaries = Path(params.boundaries).resolve()
            known = frozenset(cfgs.load_boundaries(boundaries))
        else:   # the plant's design boundaries, as `edgeloop simulate plant --boundaries` writes them
            boundaries = work / "boundaries.json"
            Plant.default(params.plant_seed).write_boundaries(boundaries)
            known = frozenset(cfgs.load_boundaries(boundaries))
        state["boundaries"] = boundaries
        prepared = preprocess(inputs, work / "training.csv", known, params.plant_id)
        run.lineage = prepared.lineage
        for example in prepared.lineage["invalid_examples"]:
            console.print(f"[yellow]warning[/yellow]: dropped {example}")
        state["training_csv"] = prepared.path
        lin = prepared.lineage
        return (f"{lin['rows']} rows from {len(inputs)} file(s), {lin['duplicates_dropped']} duplicates, "
                f"{lin['rows_invalid']} invalid, {lin['time_range'][0]} .. {lin['time_range'][1]}")

    def do_train() -> str:
        spec = params.evaluation()
        requests = reference_grid(spec["simulations"], spec["no_of_trials"], spec["train_error_weight"])
        plant = Plant.default(spec["plant_seed"])

        def regret(model: Any) -> float:  # what the twin is for: rankings, against the oracle
            return evaluate(model, plant, requests, spec["seed"]).mean_regret_pct

        with progress("training layouts", total=2) as advance:
            result = train(state["training_csv"], model_dir, state["boundaries"], params.training(), advance,
                           score=regret, score_name="mean regret % on the evaluation")
        state["model"] = result.model
        run.metrics["pooled_test_mae_kw"] = result.model.metadata_["metrics"]["pooled_test_mae_kw"]
        run.metrics["layout"] = result.chosen_layout
        scores = ", ".join(f"{name} {c['score']:.2f} %" for name, c in result.comparison.items())
        return (f"layout {result.chosen_layout} (regret {scores}), pooled holdout MAE "
                f"{run.metrics['pooled_test_mae_kw']:.3f} kW")

    def do_simulate() -> str:
        spec = params.evaluation()
        requests = reference_grid(spec["simulations"], spec["no_of_trials"], spec["train_error_weight"])
        rankings = simulate(state["model"], requests, spec["seed"])
        state["rankings"] = rankings
        (work / "simulation.json").write_text(json.dumps(
            [{"flow": list(r.request.flow), "pressure": list(r.request.pressure), "ranking": r.answer()}
             for r in rankings]) + "\n")
        return f"{len(rankings)} request ranges of the reference grid ranked"

    def do_evaluate() -> str:
        spec = params.evaluation()
        requests = reference_grid(spec["simulations"], spec["no_of_trials"], spec["train_error_weight"])
        with progress("evaluating request ranges", total=len(requests)) as advance:
            result = evaluate(state["model"], Plant.default(spec["plant_seed"]), requests, spec["seed"],
                              advance, state["rankings"])
        (work / "evaluation.json").write_text(json.dumps(json_safe(result.to_dict()), indent=1) + "\n")
        run.metrics.update(metrics_of(result, spec))
        return (f"mean regret {result.mean_regret_pct:.2f} %, savings capture "
                f"{100 * result.savings_capture:.1f} %, infeasible {result.infeasible}")

    def do_register() -> str:
        return register_run(run, registry, work, model_dir, params.group,
                            "compressed-air plant digital twin (power per configuration)",
                            run.lineage["training_csv"]["sha256"],
                            f"twin run {run.run_id}: {run.lineage['rows']} rows "
                            f"{run.lineage['time_range'][0]} .. {run.lineage['time_range'][1]}")

    return run_steps(run, store, step, (("preprocess", do_preprocess), ("train", do_train),
                                         ("simulate", do_simulate), ("evaluate", do_evaluate),
                                         ("register", do_register)),
                     (PipelineError, TrainingDataError, BoundariesError, ValueError, OSError))


def register_run(run: Run, registry: ModelRegistry, work: Path, model_dir: Path, group: str,
                 group_description: str, training_sha256: str, description: str) -> str:
    """The register step of every pipeline: record the run's files, create a PendingManualApproval
    version of `group` with the run's metrics and training digest; returns the step's detail."""
    run.artifacts = run_artifacts(work, model_dir)
    registry.ensure_group(group, group_description)
    metrics = {**run.metrics, "training_data_sha256": training_sha256}
    package = registry.create_version(group, model_dir.as_uri(), metrics, run.run_id, description)
    run.artifacts["model_package"] = {"ref": package.ref, "arn": package.arn, "status": package.status}
    return f"{package.ref} ({package.status})"


def run_steps(run: Run, store: ExperimentStore, step: Steps, actions: Sequence[tuple[str, Callable[[], str]]],
              expected: tuple[type[BaseException], ...]) -> Run:
    """Run `actions` in order; the run ends Succeeded, or Failed with the step and reason. An `expected`
    failure (bad data, a refused input) is raised as PipelineError, anything else as itself."""
    try:
        for name, action in actions:
            step(name, action)
    except Exception as exc:
        run.status, run.finished_at, run.error = RunStatus.FAILED, utc_now(), f"{run.steps[-1]['name']}: {exc}"
        store.save(run)
        if isinstance(exc, expected):
            raise PipelineError(f"run {run.run_id} failed in {run.steps[-1]['name']}: {exc}") from exc
        raise
    run.status, run.finished_at = RunStatus.SUCCEEDED, utc_now()
    store.save(run)
    return run


def run_artifacts(work: Path, model_dir: Path) -> dict[str, Any]:
    """Every file the run wrote, with its SHA-256."""
    files = {}
    for folder, label in ((work, "run"), (model_dir, "model")):
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            files[f"{label}/{path.relative_to(folder)}"] = {"path": str(path), "sha256": sha256_file(path),
                                                           "bytes": path.stat().st_size}
    return {"model_dir": str(model_dir), "files": files}

