"""`edgeloop ecg ...`: train, evaluate and run the ECG screener offline.

  edgeloop ecg train --out DIR [--seed N] [--archive DIR] [--devices N] [--minutes M] [--workers N] [--json]
  edgeloop ecg evaluate --model DIR [--seed N] [--devices N] [--minutes M] [--mix TEXT] [--hop S]
                        [--workers N] [--json] [--plot FILE.png] [--check]
  edgeloop ecg classify --input FILE [--fs HZ] [--model DIR] [--lead NAME] [--hop S] [--json]
  edgeloop ecg archive ...   (the pathology archive, cloud/ecg/archive_cli.py)

Exit codes: 0 done; 1 the model directory was refused (missing, modified, another feature set) or
evaluation missed a target (--check); 2 bad input (file, format, sampling rate, arguments) with a
message naming the problem.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from edgeloop.cloud.errors import PromotionError, RecordingError, UnknownModelLine
from edgeloop.cloud.home import CloudHome, add_home_argument
from edgeloop.cloud.lines import line_named, line_of_model_dir
from edgeloop.cloud.promotion import model_dir_of
from edgeloop.cloud.registry import APPROVED, LocalRegistry
from edgeloop.components.ecg_prefilter.classifier import EcgClassifier
from edgeloop.components.errors import SignalError
from edgeloop.errors import ArtifactError, CommandError
from edgeloop.jsonsafe import json_safe
from edgeloop.simulator.errors import MixError

from .archive_cli import register as register_archive
from .evaluate import ENRICHED_MIX, TARGETS, EvalSpec, evaluate_classifier, meets_targets, scores_by_label
from .plot import plot_evaluation
from .readers import read_recording
from .screen import MODEL_FS, screen_recording
from .train import train_classifier

NO_MODEL = ("no model: pass --model DIR (edgeloop ecg train --out DIR builds one), or approve an ECG model "
            "in this home's registry (edgeloop pipeline run ecg; edgeloop registry approve edgeloop-ecg/N)")
EVAL_SEED = 1000     # default evaluation devices: apart from a default training's seeds 0, 1, 2


def default_model_dir(home: str | Path | None = None) -> Path | None:
    """The model `classify` uses without --model: the newest Approved version of an ECG model line
    in the cloud home's registry (any group), or None."""

    cloud = CloudHome.at(home)
    if not cloud.registry_db.exists():
        return None
    ecg = line_named("ecg")
    approved = [p for p in LocalRegistry(cloud.registry_db).list() if p.status == APPROVED]
    for package in sorted(approved, key=lambda p: p.updated_at or p.created_at, reverse=True):
        try:
            directory = model_dir_of(package)
            if line_of_model_dir(directory) == ecg:
                return directory
        except (PromotionError, UnknownModelLine):
            continue
    return None


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be at least 1")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"{text}: must be positive")
    return value


def _minutes(text: str) -> float:
    value = float(text)
    if not value >= 1:
        raise argparse.ArgumentTypeError(f"{text}: at least 1 minute (one 60 s window) is needed")
    return value


def register(ecg: argparse.ArgumentParser) -> None:
    """Fill the `ecg` command group."""
    ecg.description = "Train and evaluate the ECG screener, screen recordings offline, run the pathology archive."
    sub = ecg.add_subparsers(dest="ecg_command", metavar="COMMAND", required=True)

    train = sub.add_parser("train", help="train the screener on simulated devices (+ the archive)")
    train.add_argument("--out", required=True, metavar="DIR", help="model directory to write")
    train.add_argument("--seed", type=int, default=0,
                       help="training devices; validation uses seed+1, held-out evaluation seed+2")
    train.add_argument("--archive", metavar="DIR", help="pathology archive whose reviewed windows join training")
    # defaults live in train.py (importing it here would load scipy for every edgeloop command)
    train.add_argument("--devices", type=_positive_int,
                       help="training devices (default 40; the held-out sets use as many)")
    train.add_argument("--minutes", type=_minutes, help="minutes per device (default 30)")
    train.add_argument("--workers", type=_positive_int, help="processes (default 2)")
    train.add_argument("--json", action="store_true", help="print the metrics as JSON")
    train.set_defaults(func=run_train)

    evaluate = sub.add_parser("evaluate", help="screen held-out simulated devices and score the verdicts")
    evaluate.add_argument("--model", required=True, metavar="DIR")
    evaluate.add_argument("--seed", type=int, default=EVAL_SEED, help=f"device seed (default {EVAL_SEED})")
    evaluate.add_argument("--devices", type=_positive_int, default=30)
    evaluate.add_argument("--minutes", type=_minutes, default=20.0)
    evaluate.add_argument("--mix", default=None,
                          help="share of time per condition (default the enriched "
                               "normal=0.5,af=0.2,pvc=0.15,noisy=0.15)")
    evaluate.add_argument("--hop", type=_positive_float, default=30.0, metavar="S", help="stride hop (default 30)")
    evaluate.add_argument("--workers", type=_positive_int, default=2, help="processes (default 2)")
    evaluate.add_argument("--json", action="store_true")
    evaluate.add_argument("--plot", metavar="FILE.png", help="confusion matrix and score histograms")
    evaluate.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    evaluate.set_defaults(func=run_evaluate)

    classify = sub.add_parser("classify", help="screen a recording (.npy, .csv/.txt in mV, or WFDB)")
    classify.add_argument("--input", required=True, metavar="FILE")
    classify.add_argument("--fs", type=float, metavar="HZ", help="sampling rate (required except for WFDB)")
    classify.add_argument("--model", metavar="DIR", help="model directory (default: the newest approved "
                                                         "ECG model in the cloud home's registry)")
    add_home_argument(classify)
    classify.add_argument("--lead", metavar="NAME", help="WFDB lead (default MLII, else the first)")
    classify.add_argument("--hop", type=_positive_float, default=60.0, metavar="S",
                          help="seconds between window starts (default 60, at most 60)")
    classify.add_argument("--json", action="store_true")
    classify.set_defaults(func=run_classify)

    register_archive(sub)


def _load(directory: str | Path) -> Any:
    """The screener in `directory`; a refused model directory is exit code 1."""
    try:
        return EcgClassifier.load(directory)
    except ArtifactError as exc:
        raise CommandError(str(exc), 1) from None


def _pct(value: float | None) -> str:
    return "   n/a" if value is None else f"{100 * value:6.2f} %"


def _print_metrics(name: str, m: dict[str, Any]) -> None:
    spec = m["evaluation"]
    print(f"{name}: seed {spec['seed']}, {spec['devices']} devices x {spec['minutes']:g} min, mix {spec['mix']}, "
          f"hop {spec['hop_s']:g} s")
    print(f"  windows {sum(m['windows'].values())} " + " ".join(f"{k}={v}" for k, v in m["windows"].items())
          + f"; transition windows {m['transition_windows']}, failed {m['failed_windows']}")
    print(f"  sensitivity (non-normal forwarded) {_pct(m['sensitivity_non_normal'])}   "
          f"normal forwarded {_pct(m['normal_forwarded_fraction'])}   "
          f"transition forwarded {_pct(m['transition_forwarded_fraction'])}")
    print("  " + "   ".join(f"{k}: forwarded {_pct(m['forwarded_by_label'][k]).strip()}, "
                            f"recall {_pct(m['recall'][k]).strip()}" for k in m["windows"]))


def run_train(args: argparse.Namespace) -> int:
    if args.archive is not None and not Path(args.archive).is_dir():
        raise CommandError(f"--archive {args.archive}: no such directory")
    try:
        sizes = {k: getattr(args, k) for k in ("devices", "minutes", "workers") if getattr(args, k) is not None}
        result = train_classifier(args.out, seed=args.seed, archive=args.archive, **sizes)
    except (ValueError, OSError) as exc:
        raise CommandError(str(exc)) from None
    m, model = result.metrics, result.model
    if args.json:
        print(json.dumps(json_safe({"model_dir": str(result.model_dir), "threshold": model.threshold_,
                                    "training_data": model.metadata_["training_data"], "metrics": m}), indent=2))
        return 0
    data = model.metadata_["training_data"]
    print(f"training windows {data['windows']} " + " ".join(f"{k}={v}" for k, v in data["by_label"].items()))
    print(f"forwarding threshold {model.threshold_:.4f} (chosen on validation devices, seed {args.seed + 1})")
    _print_metrics("held-out enriched", m["enriched"])
    _print_metrics("held-out stream", m["stream"])
    for key, target in TARGETS.items():
        op = ">=" if key.startswith("sensitivity") else "<="
        print(f"{key:28s} {_pct(m[key])}  (target {op} {100 * target:g} %)  "
              f"{'ok' if m['targets_met'][key] else 'MISSED'}")
    print(f"wrote {result.model_dir}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:

    try:
        spec = EvalSpec(args.seed, args.devices, args.minutes, args.mix or ENRICHED_MIX, args.hop)
    except (MixError, ValueError) as exc:
        raise CommandError(str(exc)) from None
    model = _load(args.model)
    used = {model.metadata_.get("seed"), (model.metadata_.get("seed") or 0) + 1} - {None}
    if spec.seed in used:
        print(f"warning: seed {spec.seed} built this model's training or validation devices; "
              "the numbers are not held-out", file=sys.stderr)
    windows = spec.windows(workers=args.workers, progress=True)
    metrics = evaluate_classifier(model, spec, windows)
    if args.plot:
        plot_evaluation(metrics, scores_by_label(model, windows), model.threshold_, args.plot)
        print(f"wrote {args.plot}", file=sys.stderr)
    met = meets_targets(metrics)
    if args.json:
        print(json.dumps(json_safe({**metrics, "targets_met": met}), indent=2))
    else:
        _print_metrics("evaluation", metrics)
        print("targets: " + ", ".join(f"{k} {'ok' if ok else 'MISSED'}" for k, ok in met.items()))
    if args.check and not all(met.values()):
        return 1
    return 0


def run_classify(args: argparse.Namespace) -> int:

    model_dir = args.model or default_model_dir(args.home)
    if model_dir is None:
        raise CommandError(NO_MODEL)
    try:
        recording = read_recording(args.input, args.fs, args.lead)
    except RecordingError as exc:
        raise CommandError(str(exc)) from None
    model = _load(model_dir)
    try:
        windows = screen_recording(recording.ecg_mv, recording.fs, model, hop_s=args.hop)
    except (SignalError, ValueError) as exc:
        raise CommandError(f"{recording.source}: {exc}") from None
    if args.json:
        print(json.dumps(json_safe({"input": recording.source, "fs": recording.fs, "screened_at_hz": MODEL_FS,
                                    "threshold": model.threshold_, "windows": windows})))
        return 0
    seconds = recording.ecg_mv.size / recording.fs
    print(f"{recording.source}: {seconds:.1f} s at {recording.fs:g} Hz"
          + (f", resampled to {MODEL_FS:g} Hz" if recording.fs != MODEL_FS else "")
          + f"; forwarding threshold {model.threshold_:.4f}")
    print(f"{'start s':>8s} {'end s':>8s}  {'label':6s} {'score':>6s}  forward")
    for w in windows:
        if w.get("error"):
            print(f"{w['start_s']:8.1f} {w['end_s']:8.1f}  not analysed: {w['error']}")
            continue
        print(f"{w['start_s']:8.1f} {w['end_s']:8.1f}  {w['label']:6s} {w['score']:6.3f}  "
              f"{'yes' if w['forward'] else 'no'}")
    forwarded = sum(1 for w in windows if w.get("forward"))
    print(f"{len(windows)} windows, {forwarded} would be forwarded")
    return 0
