"""`edgeloop demo`: the whole loop on one machine, on the embedded defaults.

  local cloud broker (stands in for AWS IoT Core) <-- IoT Core link -- local core device "edge-gw-1"
  plant simulator --MQTT--> core broker --bridge--> DigitalTwin (IPC) --> recommendations to the plant
  wearables -------MQTT--> core broker --bridge--> EcgPrefilter (IPC) --> alerts + abnormal windows
                                       \\--bridge--> cloud: data lake, pathology archive, alert log

1. start the cloud broker and the local core;
2. plant (plant.py): twin v1 from the historian, approved (TwinModel 1.0.0), DigitalTwin deployed;
3. wearables (wearables.py): ECG v1 from simulated devices, approved (EcgModel 1.0.0), EcgPrefilter
   deployed, the cloud receiver archiving forwarded windows and logging alerts;
4. both streams run: recommendations come back to the plant, alerts appear as they happen;
5. twin v2 (historian + new telemetry) and ECG v2 (simulated devices + the reviewed archive) are
   approved while the devices keep streaming; each is timed to the moment it serves;
6. the summary: energy against the staging rule, the twin's regret, windows screened and forwarded,
   alerts, bytes saved and the screening quality against the simulator's ground truth.
   `--json` prints the summary as JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from edgeloop.errors import CommandError

from .render import render
from .runner import Demo
from .session import DemoOptions


def register(demo: argparse.ArgumentParser) -> None:
    """Fill the `demo` command."""
    demo.description = __doc__
    demo.formatter_class = argparse.RawDescriptionHelpFormatter
    demo.add_argument("--minutes", type=float, default=6.0, help="time budget (default %(default)s)")
    demo.add_argument("--wearables", type=int, default=12, help="simulated wearables (default %(default)s)")
    demo.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    demo.add_argument("--workdir", type=Path, help="keep everything here (default: a temporary folder, removed)")
    demo.add_argument("--keep", action="store_true", help="keep the temporary folder")
    demo.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if args.wearables < 1 or args.minutes <= 0:
        raise CommandError("--wearables must be at least 1 and --minutes positive")
    demo = Demo(DemoOptions(minutes=args.minutes, wearables=args.wearables, workdir=args.workdir,
                            keep=args.keep))
    try:
        summary = demo.run()
    except Exception as exc:      # any failure of the loop's many processes: say where the logs are
        raise CommandError(f"{exc} (logs: {demo.work})", 1) from None
    print(json.dumps(summary, indent=2, default=str) if args.json else render(summary))
    return 0
