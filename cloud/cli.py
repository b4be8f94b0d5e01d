"""`edgeloop cloud ...`: the local cloud's services.

  edgeloop cloud ingest --broker mqtt://HOST:PORT [--home DIR] [--duration S]

Exit codes: 0 done; 2 bad arguments or the broker cannot be reached.
"""

from __future__ import annotations

import argparse
import sys
import time

from edgeloop.cloud.errors import IngestError
from edgeloop.errors import CommandError

from .home import CloudHome, add_home_argument
from .ingest import TelemetryIngest


def register(cloud: argparse.ArgumentParser) -> None:
    """Fill the `cloud` command group."""
    cloud.description = "Services of the local cloud (stand-ins for AWS)."
    commands = cloud.add_subparsers(dest="cloud_command", metavar="COMMAND", required=True)
    ingest = commands.add_parser("ingest", help="store bridged telemetry from the cloud broker in the lake")
    ingest.add_argument("--broker", required=True, metavar="mqtt://HOST:PORT",
                        help="the broker standing in for AWS IoT Core")
    add_home_argument(ingest)
    ingest.add_argument("--duration", type=float, metavar="S", help="stop after S seconds (default: Ctrl-C)")
    ingest.set_defaults(func=run_ingest)


def run_ingest(args: argparse.Namespace) -> int:
    home = CloudHome.at(args.home)
    def log(line: str) -> None:
        print(f"edgeloop cloud ingest: {line}", file=sys.stderr, flush=True)
    try:
        ingest = TelemetryIngest(args.broker, home.lake, log=log)
        ingest.start()
    except (ValueError, IngestError) as exc:
        raise CommandError(str(exc)) from None
    print(f"ingesting {ingest.topic_filter} from {ingest.broker} into {home.lake}", flush=True)
    try:
        deadline = None if args.duration is None else time.monotonic() + args.duration
        last = time.monotonic()
        while deadline is None or time.monotonic() < deadline:
            time.sleep(0.2 if deadline is None else max(0.0, min(0.2, deadline - time.monotonic())))
            if time.monotonic() - last >= 10:
                last = time.monotonic()
                log(ingest.summary())
    except KeyboardInterrupt:
        pass
    finally:
        ingest.stop()
    print(ingest.summary(), flush=True)
    return 0
