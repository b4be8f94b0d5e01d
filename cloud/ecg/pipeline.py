"""The ECG screener's training pipeline: archive -> train -> evaluate -> register, recorded as an
experiment in the same store as the twin's runs and registered in the same registry, so approval and
promotion (cloud/promotion.py, the "ecg" model line) are the twin's too.

  gather    reviewed windows of the pathology archive (what clinicians confirmed the gateway
            forwarded): counted by label, digested into the lineage; an archive that does not exist
            yet means training on simulated devices only, and the lineage says so
  train     cloud/ecg/train.py: simulated devices (enriched mix) plus those windows; the forwarding
            threshold from independent validation devices
  evaluate  independent held-out devices at the enriched and at the stream mix (the numbers the gate
            compares), written to evaluation.json with a picture (confusion + score histograms)
  register  a new version of the model package group (default edgeloop-ecg), PendingManualApproval
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from edgeloop.cloud.errors import ArchiveError, PipelineError
from edgeloop.errors import ArtifactError
from edgeloop.jsonsafe import json_safe

from ..experiments import ExperimentStore, Run
from ..home import CloudHome
from ..pipeline import Steps, register_run, run_steps
from ..registry.base import ModelRegistry
from .archive import PathologyArchive
from .dataset import archive_windows
from .train import DEVICES, MINUTES, WORKERS, train_classifier

PIPELINE = "ecg"
DEFAULT_GROUP = "edgeloop-ecg"


@dataclass
class EcgParams:
    """Everything an ECG run depends on; recorded as the run's parameters."""

    group: str = DEFAULT_GROUP
    seed: int = 0
    devices: int = DEVICES
    minutes: float = MINUTES
    workers: int = WORKERS
    archive: str | None = None        # default: the home's ecg-archive when it exists


def run_ecg_pipeline(home: CloudHome, registry: ModelRegistry, params: EcgParams,
                     console: Console | None = None, plot: bool = True) -> Run:
    """Run every step; returns the Succeeded run (artifacts name the registered model package).

    Raises PipelineError after recording the run as Failed."""


    console = console or Console(stderr=True, soft_wrap=True)
    if params.devices < 2 or params.minutes <= 0 or params.workers < 1:
        raise PipelineError(f"devices {params.devices} (>= 2), minutes {params.minutes} (> 0) and workers "
                            f"{params.workers} (>= 1) must be positive")
    archive = Path(params.archive) if params.archive else home.ecg_archive
    store = ExperimentStore(home.experiments_db)
    run = store.start(PIPELINE, {**asdict(params), "archive": str(archive)})
    work, model_dir = home.runs / run.run_id, home.models / run.run_id
    work.mkdir(parents=True, exist_ok=True)
    console.print(f"pipeline run [bold]{run.run_id}[/bold] (ecg; archive {archive})")
    state: dict[str, Any] = {}

    def do_gather() -> str:
        if not (archive / "archive.sqlite").exists():
            if params.archive:
                raise PipelineError(f"{archive}: no pathology archive there (no archive.sqlite)")
            run.lineage = {"archive": None, "note": f"{archive} has no archive yet: simulated devices only"}
            state["archive"] = None
            return "no archive yet: simulated devices only"
        stats = PathologyArchive(archive, create=False).stats()
        reviewed = archive_windows(archive)
        run.lineage = {"archive": {"root": str(archive), "stats": json_safe(stats), **reviewed.describe(),
                                   "failures": reviewed.failures[:20]}}
        state["archive"] = archive
        return (f"{len(reviewed)} reviewed windows {reviewed.counts()} of "
                f"{stats.get('windows', '?')} archived")

    def do_train() -> str:
        result = train_classifier(model_dir, seed=params.seed, archive=state["archive"],
                                  devices=params.devices, minutes=params.minutes, workers=params.workers)
        state["result"] = result
        data = result.model.metadata_["training_data"]
        run.lineage["training_data"] = {k: data[k] for k in ("windows", "by_label", "sha256")}
        return (f"{data['windows']} windows {data['by_label']}, threshold "
                f"{result.model.threshold_:.3f} (from validation devices)")

    def do_evaluate() -> str:
        metrics = state["result"].metrics
        (work / "evaluation.json").write_text(json.dumps(json_safe(metrics), indent=1) + "\n")
        if plot:
            _plot(state["result"], work / "evaluation.png", console)
        run.metrics.update({k: metrics[k] for k in ("sensitivity_non_normal", "normal_forwarded_fraction",
                                                    "targets_met", "evaluation")})
        run.metrics["recall"] = metrics["enriched"]["recall"]
        return (f"held-out sensitivity {metrics['sensitivity_non_normal']:.4f} (enriched mix), normal "
                f"forwarded {metrics['normal_forwarded_fraction']:.4f} (stream mix); targets met: "
                f"{all(metrics['targets_met'].values())}")

    def do_register() -> str:
        return register_run(run, registry, work, model_dir, params.group,
                            "wearable ECG screening classifier (normal / af / other / noisy)",
                            run.lineage["training_data"]["sha256"],
                            f"ecg run {run.run_id}: {run.lineage['training_data']['windows']} windows, "
                            f"seed {params.seed}")

    return run_steps(run, store, Steps(run, store, console),
                     (("gather", do_gather), ("train", do_train), ("evaluate", do_evaluate),
                      ("register", do_register)),
                     (PipelineError, ArchiveError, ArtifactError, ValueError, OSError))


def _plot(result: Any, path: Path, console: Console) -> None:
    """The evaluation picture; skipped with a note when matplotlib is missing (a gateway-only install)."""
    try:
        from .evaluate import scores_by_label  # lazy: the picture needs the optional 'plot' extra
        from .plot import plot_evaluation
        plot_evaluation(result.metrics["enriched"], scores_by_label(result.model, result.held_out["enriched"]),
                        result.model.threshold_, path)
    except ImportError as exc:
        console.print(f"[yellow]note[/yellow]: no evaluation picture ({exc})")
