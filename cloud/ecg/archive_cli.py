"""`edgeloop ecg archive ...`: run the cloud receiver, and browse and review the pathology archive.

  edgeloop ecg archive serve --broker mqtt://HOST:PORT [--archive DIR] [--webhook URL] [--duration S]
  edgeloop ecg archive list [--label L] [--gateway-label L] [--device D] [--date YYYY-MM-DD]
                            [--reviewed | --unreviewed] [--json]
  edgeloop ecg archive review WINDOW_ID LABEL [--reviewer NAME] [--note TEXT] [--device D]
  edgeloop ecg archive show WINDOW_ID [--device D] [--json]
  edgeloop ecg archive stats [--json]

--archive defaults to the cloud home's ecg-archive folder (--home, $EDGELOOP_HOME or ~/.edgeloop).
Exit codes: 0 done; 2 bad arguments, an unknown window, no archive, or the broker cannot be reached
(one line on stderr naming the problem).
"""

from __future__ import annotations

import argparse
import getpass
import json
import signal
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from edgeloop.cloud.errors import ArchiveError, ReceiverError, RenderError
from edgeloop.contracts.ecg import LABELS
from edgeloop.errors import CommandError

from ..home import CloudHome, add_home_argument
from .alerts import AlertFanout
from .archive import PathologyArchive
from .receiver import EcgCloudReceiver

ALERTS_FILE = "alerts.jsonl"


def register(ecg_subparsers: argparse._SubParsersAction) -> None:
    """Add `archive` and its sub-commands to the `ecg` group."""
    archive = ecg_subparsers.add_parser("archive", help="the pathology archive: receive, list, review",
                                        description="Receive forwarded windows and alerts from gateways; "
                                                    "list, show and review archived windows.")
    sub = archive.add_subparsers(dest="archive_command", metavar="COMMAND", required=True)

    def command(name: str, help_text: str, func) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help_text, description=help_text)
        parser.add_argument("--archive", metavar="DIR", help="archive folder (default HOME/ecg-archive)")
        add_home_argument(parser)
        parser.set_defaults(func=func)
        return parser

    serve = command("serve", "receive windows, alerts, summaries and errors from the cloud broker", run_serve)
    serve.add_argument("--broker", required=True, metavar="mqtt://HOST:PORT",
                       help="the broker standing in for AWS IoT Core")
    serve.add_argument("--webhook", metavar="URL", help="also POST every alert as JSON to this URL")
    serve.add_argument("--client-id", default="edgeloop-cloud-ecg",
                       help="MQTT client id prefix (persistent sessions: keep it across restarts)")
    serve.add_argument("--duration", type=float, metavar="S", help="stop after S seconds (default: until "
                                                                   "Ctrl-C or SIGTERM)")

    listing = command("list", "list archived windows (oldest first)", run_list)
    listing.add_argument("--label", help=f"best-known label: the review, else the gateway's ({', '.join(LABELS)})")
    listing.add_argument("--gateway-label", help="the gateway's verdict only")
    listing.add_argument("--device", metavar="D")
    listing.add_argument("--date", metavar="YYYY-MM-DD", help="UTC day of the window start")
    state = listing.add_mutually_exclusive_group()
    state.add_argument("--reviewed", dest="reviewed", action="store_const", const=True, default=None)
    state.add_argument("--unreviewed", dest="reviewed", action="store_const", const=False)
    listing.add_argument("--json", action="store_true")

    review = command("review", "label an archived window (the label training uses)", run_review)
    review.add_argument("window_id", metavar="WINDOW_ID")
    review.add_argument("label", metavar="LABEL", help=", ".join(LABELS))
    review.add_argument("--reviewer", help="your name (default: the login name)")
    review.add_argument("--note", default="", metavar="TEXT")
    review.add_argument("--device", metavar="D", help="needed only if two devices share the window id")

    show = command("show", "one window's metadata and files", run_show)
    show.add_argument("window_id", metavar="WINDOW_ID")
    show.add_argument("--device", metavar="D", help="needed only if two devices share the window id")
    show.add_argument("--json", action="store_true")

    stats = command("stats", "counts by label, reviews and gateway-review agreement", run_stats)
    stats.add_argument("--json", action="store_true")


def _archive_root(args: argparse.Namespace) -> Path:
    return Path(args.archive).expanduser() if args.archive else CloudHome.at(args.home).ecg_archive


def _open(args: argparse.Namespace, create: bool = False):
    return PathologyArchive(_archive_root(args), create=create)


def _utc(epoch: float | None) -> str:
    return "-" if epoch is None else f"{datetime.fromtimestamp(epoch, UTC):%Y-%m-%d %H:%M:%S}"


def _dump(value: Any) -> None:
    print(json.dumps(value, indent=2, sort_keys=False))


# -- list / show / review / stats ----------------------------------------------------------------

def run_list(args: argparse.Namespace) -> int:
    try:
        items = _open(args).windows(label=args.label, device=args.device, date=args.date,
                                    reviewed=args.reviewed, gateway_label=args.gateway_label)
    except ArchiveError as exc:
        raise CommandError(str(exc)) from None
    if args.json:
        _dump([item.as_dict() for item in items])
        return 0
    if not items:
        print("no archived windows match")
        return 0
    width = max(len(item.window_id) for item in items)
    device_width = max(len(item.device_id) for item in items)
    print(f"{'WINDOW':<{width}}  {'DEVICE':<{device_width}}  {'START (UTC)':<19}  GATEWAY  SCORE  REVIEWED")
    for item in items:
        review = f"{item.label} ({item.reviewer})" if item.reviewed else "-"
        print(f"{item.window_id:<{width}}  {item.device_id:<{device_width}}  {_utc(item.start)}  "
              f"{item.gateway_label:<7}  {item.score:5.2f}  {review}")
    print(f"{len(items)} windows")
    return 0


def run_review(args: argparse.Namespace) -> int:
    reviewer = args.reviewer
    if reviewer is None:
        try:
            reviewer = getpass.getuser()
        except (OSError, KeyError):
            raise CommandError("no login name: pass --reviewer NAME") from None
    try:
        item = _open(args).review(args.window_id, args.label, reviewer, args.note, device_id=args.device)
    except ArchiveError as exc:
        raise CommandError(str(exc)) from None
    agree = "agrees with" if item.label == item.gateway_label else "differs from"
    print(f"{item.device_id}/{item.window_id}: reviewed {item.label} by {item.reviewer} "
          f"({agree} the gateway's {item.gateway_label})")
    return 0


def run_show(args: argparse.Namespace) -> int:
    try:
        item = _open(args).get(args.window_id, args.device)
        meta = item.metadata()
    except ArchiveError as exc:
        raise CommandError(str(exc)) from None
    except (OSError, ValueError) as exc:
        raise CommandError(f"window {args.window_id!r}: cannot read its metadata: {exc}") from None
    if args.json:
        _dump({**item.as_dict(), "window": meta})
        return 0
    print(f"window      {item.window_id}")
    print(f"device      {item.device_id}")
    print(f"time        {_utc(item.start)} - {_utc(item.end)} UTC ({item.end - item.start:g} s, "
          f"{item.n} samples at {item.fs:g} Hz)")
    probabilities = meta.get("probabilities") or {}
    detail = " ".join(f"{k}={v}" for k, v in probabilities.items())
    print(f"gateway     {item.gateway_label} (score {item.score:.3f}, model {item.model_version})"
          + (f"  [{detail}]" if detail else ""))
    review = (f"{item.label} by {item.reviewer} at {_utc(item.reviewed_at)} UTC"
              + (f": {item.note}" if item.note else "")) if item.reviewed else "not reviewed"
    print(f"review      {review}")
    print(f"received    {_utc(item.received_at)} UTC")
    features = meta.get("features") or {}
    if features:
        print("features    " + ", ".join(f"{k}={v}" for k, v in list(features.items())[:8])
              + (f", ... ({len(features)} in window.json)" if len(features) > 8 else ""))
    print(f"folder      {item.path}")
    print(f"picture     {item.png_path}")
    print(f"raw         {item.raw_path} (float32 mV)")
    return 0


def run_stats(args: argparse.Namespace) -> int:
    try:
        stats = _open(args).stats()
    except ArchiveError as exc:
        raise CommandError(str(exc)) from None
    if args.json:
        _dump(stats)
        return 0
    print(f"archive {stats['root']}: {stats['windows']} windows from {stats['devices']} devices"
          + (f", {stats['first_date']} .. {stats['last_date']}" if stats["windows"] else ""))
    print("  gateway verdicts  " + "  ".join(f"{k}={v}" for k, v in stats["by_gateway_label"].items()))
    print(f"  reviewed {stats['reviewed']}, unreviewed {stats['unreviewed']}  "
          + "  ".join(f"{k}={v}" for k, v in stats["by_reviewed_label"].items()))
    agreement = stats["agreement"]
    if agreement["reviewed"]:
        print(f"  gateway agrees with review: {agreement['agree']}/{agreement['reviewed']} "
              f"({100 * agreement['rate']:.1f} %)")
        for gateway, reviewed in sorted(agreement["confusion"].items()):
            print(f"    gateway {gateway:<7} -> reviewed " + "  ".join(f"{k}={v}" for k, v in sorted(reviewed.items())))
    return 0


# -- serve ---------------------------------------------------------------------------------------

def _counts_table(stats: dict[str, Any]):
    table = Table(title=f"edgeloop ecg archive: {stats['broker']} "
                        f"({'connected' if stats['connected'] else 'reconnecting'})", title_justify="left")
    for name in ("windows", "dupl.", "alerts", "summaries", "errors", "rejected", "alert p50 s",
                 "alert p99 s", "sink ok/fail/drop"):
        table.add_column(name, justify="right")
    latency, fanout = stats["alert_latency_s"], stats["fanout"]
    table.add_row(*(str(stats[k]) for k in ("windows_stored", "duplicates", "alerts", "summaries", "errors",
                                            "rejected")),
                  "-" if latency["p50"] is None else f"{latency['p50']:.2f}",
                  "-" if latency["p99"] is None else f"{latency['p99']:.2f}",
                  f"{fanout['delivered']}/{fanout['failed']}/{fanout['dropped']}" if fanout["sinks"] else "-")
    return table


def summary_lines(stats: dict[str, Any]) -> list[str]:
    latency, fanout = stats["alert_latency_s"], stats["fanout"]
    lines = [(f"windows stored {stats['windows_stored']}, duplicates {stats['duplicates']}, "
              f"alerts {stats['alerts']} (+{stats['alert_duplicates']} repeated), "
              f"summaries {stats['summaries']}, errors {stats['errors']}, rejected {stats['rejected']}")]
    lines += [f"  rejected {reason}: {n}" for reason, n in sorted(stats["rejects"].items())]
    if latency["n"]:
        lines.append(f"alert latency (window end -> received) p50 {latency['p50']:.3f} s, "
                     f"p90 {latency['p90']:.3f} s, p99 {latency['p99']:.3f} s, max {latency['max']:.3f} s")
    for name, sink in fanout["sinks"].items():
        lines.append(f"{name}: delivered {sink['delivered']}, failed {sink['failed']}, dropped {sink['dropped']}"
                     + (f" (last error: {sink['last_error']})" if sink["last_error"] else ""))
    return lines


def run_serve(args: argparse.Namespace) -> int:


    if args.duration is not None and not args.duration > 0:
        raise CommandError(f"--duration {args.duration:g}: must be positive")
    err = Console(stderr=True)
    def log(line: str) -> None:
        err.print(f"edgeloop ecg archive serve: {line}", markup=False, highlight=False)
    fanout = None
    try:
        archive = _open(args, create=True)
        fanout = AlertFanout(archive.root / ALERTS_FILE, args.webhook, log=log)
        receiver = EcgCloudReceiver(args.broker, archive, fanout, client_id=args.client_id, log=log)
        receiver.start()
    except (ValueError, ArchiveError, ReceiverError, RenderError, OSError) as exc:
        if fanout is not None:
            fanout.close(timeout_s=0)
        raise CommandError(str(exc)) from None

    stop = threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda signum, frame: stop.set())
    sinks = f", alerts also to {', '.join(fanout.sinks)}" if fanout.sinks else ""
    print(f"receiving dt/ecg/+/(window|alert|summary|error) from {receiver.broker} into {archive.root}{sinks}",
          flush=True)
    deadline = None if args.duration is None else time.monotonic() + args.duration
    try:
        if err.is_terminal:
            with Live(_counts_table(receiver.stats()), console=err, refresh_per_second=4) as live:
                while not stop.wait(0.25) and (deadline is None or time.monotonic() < deadline):
                    live.update(_counts_table(receiver.stats()))
        else:
            last = time.monotonic()
            while not stop.wait(0.2) and (deadline is None or time.monotonic() < deadline):
                if time.monotonic() - last >= 10:
                    last = time.monotonic()
                    log(summary_lines(receiver.stats())[0])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        receiver.stop()
        fanout.close()
    for line in summary_lines(receiver.stats()):
        print(line)
    print(f"archive {archive.root}: {len(archive)} windows; alerts log {fanout.log_path}", flush=True)
    return 0
