"""`edgeloop simulate ...`: device simulators from the command line.

  edgeloop simulate plant --plant-id ID --broker mqtt://HOST:PORT [--speedup X] [--duration S]
  edgeloop simulate plant --csv FILE --hours N [--seed N] [--start ISO]
  edgeloop simulate plant --boundaries FILE | --plot FILE.png [--pressure P]
  edgeloop simulate wearables --devices N --broker mqtt://HOST:PORT [--fs 250] [--chunk-s 1]
                              [--duration S] [--mix normal=0.9,...] [--seed N] [--labels FILE]
  edgeloop simulate wearables --devices N --out DIR --minutes N [--fs 250] [--mix ...] [--seed N]

Exit codes: 0 done, 2 bad arguments or unreachable broker (a message on stderr, no traceback).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from edgeloop.brokers import parse_broker
from edgeloop.errors import CommandError
from edgeloop.simulator.errors import MixError, PublisherError
from edgeloop.simulator.plant import Plant
from edgeloop.simulator.plant.plot import plot_power_curves
from edgeloop.simulator.plant.publisher import PlantPublisher
from edgeloop.simulator.plant.telemetry import history_batch, write_csv_file
from edgeloop.simulator.wearable import WearableSimulator, device_ids
from edgeloop.simulator.wearable.dataset import write_dataset, write_labels
from edgeloop.simulator.wearable.mix import DEFAULT_MIX, parse_mix
from edgeloop.simulator.wearable.publisher import WearablePublisher


def _positive(kind: type) -> Callable[[str], Any]:
    """argparse type: a number of `kind` greater than zero."""
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"{text!r} must be positive")
        return value
    return parse


def _broker(text: str) -> Any:
    try:
        return parse_broker(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _start(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO-8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def register(simulate: argparse.ArgumentParser) -> None:
    """Fill the `simulate` command group."""
    simulate.description = "Device simulators: a compressed-air plant and ECG/PPG wearables, as MQTT client devices or files."
    devices = simulate.add_subparsers(dest="device", metavar="DEVICE", required=True)
    plant = devices.add_parser(
        "plant", help="four-compressor plant: live MQTT telemetry or a CSV history",
        description="Simulate the compressed-air plant. With --broker it is an MQTT client "
                    "device publishing dt/compressor/<plant_id>/telemetry; with --csv it writes "
                    "a history (timestamp,flow,pressure,power,config).")
    mode = plant.add_mutually_exclusive_group()
    mode.add_argument("--broker", type=_broker, help="mqtt://HOST:PORT to publish to")
    mode.add_argument("--csv", metavar="FILE", help="write a telemetry history to FILE")
    plant.add_argument("--plant-id", help="plant id, 1-64 of A-Z a-z 0-9 _ . - (a topic level); required with --broker")
    plant.add_argument("--speedup", type=_positive(float), default=60.0,
                       help="simulated seconds per wall second (one sample per simulated "
                            "minute; default 60 = one sample a second)")
    plant.add_argument("--duration", type=_positive(float), metavar="S",
                       help="stop publishing after S wall seconds (default: run until ^C)")
    plant.add_argument("--count", type=_positive(int), metavar="N",
                       help="stop publishing after N samples")
    plant.add_argument("--hours", type=_positive(float), help="history length for --csv")
    plant.add_argument("--start", type=_start, help="first history timestamp (ISO-8601, UTC); "
                                                    "default 2024-01-01T00:00Z")
    plant.add_argument("--seed", type=int, default=0, help="seed of demand, noise, operation")
    plant.add_argument("--plant-seed", type=int, default=0,
                       help="seed of the plant's individuality (nameplate scatter, wear)")
    plant.add_argument("--boundaries", metavar="FILE",
                       help="also write the configurations' feasible flow ranges as JSON")
    plant.add_argument("--plot", metavar="FILE.png",
                       help="also draw power curves, staging and oracle choice (matplotlib)")
    plant.add_argument("--pressure", type=_positive(float), default=65.0,
                       help="discharge pressure of the --plot picture, psig (default 65)")
    plant.set_defaults(func=run_plant)
    _register_wearables(devices)


def _mix(text: str) -> Any:
    try:
        return parse_mix(text)
    except MixError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _register_wearables(devices: argparse._SubParsersAction) -> None:
    wear = devices.add_parser(
        "wearables", help="ECG/PPG wearables: live MQTT streams or a labelled dataset",
        description="Simulate wearables. With --broker each device publishes "
                    "dt/sensor/<device_id> JSON {device_id, seq, timestamp, fs, ecg[], ppg[], "
                    "bpm} (one or a few MQTT connections carry all device ids); with --out it "
                    "writes per-device .npy files, labels.csv and manifest.json. Ground truth "
                    "never goes to the broker (see --labels).")
    mode = wear.add_mutually_exclusive_group(required=True)
    mode.add_argument("--broker", type=_broker, help="mqtt://HOST:PORT to publish to")
    mode.add_argument("--out", metavar="DIR", help="write a labelled dataset to DIR")
    wear.add_argument("--devices", type=_positive(int), required=True, metavar="N",
                      help="number of devices (ids wearable-0000, wearable-0001, ...)")
    wear.add_argument("--fs", type=_positive(float), default=250.0, help="sample rate, Hz")
    wear.add_argument("--chunk-s", type=_positive(float), default=1.0,
                      help="seconds of signal per message (default 1)")
    wear.add_argument("--duration", type=_positive(float), metavar="S",
                      help="stop publishing after S wall seconds (default: run until ^C)")
    wear.add_argument("--count", type=_positive(int), metavar="N",
                      help="stop publishing after N chunks per device")
    wear.add_argument("--speedup", type=_positive(float), default=1.0,
                      help="signal seconds per wall second (default 1 = real time)")
    wear.add_argument("--connections", type=_positive(int), default=1,
                      help="MQTT connections publishing on behalf of the devices (default 1)")
    wear.add_argument("--join", type=float, default=0.0, metavar="S",
                      help="switch the devices on one by one over the first S seconds of signal, as "
                           "wearables put on at different times (default 0: all at once)")
    wear.add_argument("--labels", metavar="FILE",
                      help="with --broker: write the ground truth of what was published")
    wear.add_argument("--minutes", type=_positive(float), help="record length for --out")
    wear.add_argument("--mix", type=_mix, default=DEFAULT_MIX,
                      help=f"fraction of time per condition (default {DEFAULT_MIX})")
    wear.add_argument("--seed", type=int, default=0, help="seed of every device's signal")
    wear.set_defaults(func=run_wearables)


def run_plant(args: argparse.Namespace) -> int:
    """Handler of `edgeloop simulate plant`; returns the exit code."""

    if not (args.broker or args.csv or args.boundaries or args.plot):
        raise CommandError("nothing to do: give --broker, --csv, --boundaries or --plot")
    if args.csv and args.hours is None:
        raise CommandError("--csv needs --hours N")
    if args.broker and not args.plant_id:
        raise CommandError("--broker needs --plant-id ID")
    plant = Plant.default(args.plant_seed)
    try:
        if args.boundaries:
            plant.write_boundaries(args.boundaries)
            print(f"wrote boundaries of {len(plant.configurations)} configurations to "
                  f"{args.boundaries}", file=sys.stderr)
        if args.plot:
            plot_power_curves(plant, args.plot, pressure=args.pressure)
            print(f"wrote {args.plot}", file=sys.stderr)
        if args.csv:
            batch = history_batch(plant, args.hours, args.seed, args.start)
            write_csv_file(batch, args.csv)
            print(f"wrote {len(batch)} rows ({args.hours:g} h) to {args.csv}", file=sys.stderr)
        if args.broker:
            publisher = PlantPublisher(plant, args.plant_id, args.broker, speedup=args.speedup,
                                       seed=args.seed,
                                       log=lambda line: print(line, file=sys.stderr, flush=True))
            print(f"connecting to {args.broker}; will publish {publisher.topic}, one sample "
                  f"every {publisher.interval_s:g} s", file=sys.stderr, flush=True)
            sent = publisher.run(duration_s=args.duration, count=args.count)
            print(f"published {sent} samples", file=sys.stderr)
    except (PublisherError, ValueError, RuntimeError, OSError) as exc:
        raise CommandError(str(exc)) from None
    return 0


def run_wearables(args: argparse.Namespace) -> int:
    """Handler of `edgeloop simulate wearables`; returns the exit code."""

    if args.out and args.minutes is None:
        raise CommandError("--out needs --minutes N")
    try:
        sim = WearableSimulator(fs=args.fs, seed=args.seed, mix=args.mix)
        if args.out:
            manifest = write_dataset(sim, args.out, args.devices, args.minutes)
            print(f"wrote {args.devices} devices x {args.minutes:g} min to {args.out} "
                  f"({manifest.name})", file=sys.stderr)
            return 0
        publisher = WearablePublisher(sim, device_ids(args.devices), args.broker,
                                      chunk_s=args.chunk_s, speedup=args.speedup,
                                      connections=args.connections, join_s=args.join,
                                      log=lambda line: print(line, file=sys.stderr, flush=True))
        print(f"connecting to {args.broker}; {args.devices} devices publish dt/sensor/<id> "
              f"every {publisher.interval_s:g} s", file=sys.stderr, flush=True)
        try:
            sent = publisher.run(duration_s=args.duration, count=args.count)
        except KeyboardInterrupt:
            sent = publisher.chunks_sent
        if args.labels:
            write_labels(args.labels, publisher.labels(), publisher.start_times)
        total = sum(publisher.sent.values())
        print(f"published {total} chunks ({sent} rounds over {args.devices} devices)", file=sys.stderr)
    except (PublisherError, ValueError, RuntimeError, OSError) as exc:
        raise CommandError(str(exc)) from None
    return 0
