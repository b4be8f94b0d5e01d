"""The `edgeloop` command: one entry point, one command group per area.

Each area owns its group in its own module with `register(group)`, which fills the group's
argparse parser (description, sub-commands, arguments); handlers take the parsed arguments and
return the exit code. Only the module of the group being run is imported, so each group module
imports what its commands need at its top, and `edgeloop core start` still does not load scipy,
XGBoost or matplotlib (about 1 s of imports on a gateway); `edgeloop --help` imports no group.

One error path: a handler raises `edgeloop.errors.CommandError(message, code)` wherever an expected
failure is found; `run` prints it here, once, as `edgeloop <command path>: error: <message>` (the
form argparse uses for bad arguments) and returns its code. Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from . import __version__
from .errors import CommandError

# command -> (module whose register(group) fills it, one line for `edgeloop --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "core": ("edgeloop.simulator.core.cli", "the local Greengrass core device"),
    "simulate": ("edgeloop.simulator.cli", "run device simulators"),
    "twin": ("edgeloop.cloud.twin.cli", "compressed-air plant digital twin"),
    "ecg": ("edgeloop.cloud.ecg.cli", "ECG pre-filter: train, evaluate and screen recordings"),
    "cloud": ("edgeloop.cloud.cli", "the local cloud: ingest telemetry into the data lake"),
    "pipeline": ("edgeloop.cloud.pipeline_cli", "training pipelines and their experiments"),
    "registry": ("edgeloop.cloud.registry.cli", "model registry: versions, approval, promotion"),
    "demo": ("edgeloop.demo.cli", "the whole loop on this machine: plant, wearables, gateway, cloud"),
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for `argv`: every group is listed, and the one `argv` names is filled in."""
    argv = sys.argv[1:] if argv is None else argv
    chosen = argv[0] if argv and argv[0] in COMMANDS else None
    parser = argparse.ArgumentParser(
        prog="edgeloop",
        description="Run ML on AWS IoT Greengrass gateways and keep it improving from the cloud.")
    parser.add_argument("--version", action="version", version=f"edgeloop {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, summary) in COMMANDS.items():
        group = subparsers.add_parser(name, help=summary, description=summary)
        if name == chosen:
            importlib.import_module(module).register(group)
    return parser


def command_path(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str:
    """The prog of the sub-command `args` was parsed for, e.g. `edgeloop ecg archive list`."""
    while True:
        subparsers = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
        chosen = None if subparsers is None else getattr(args, subparsers.dest, None)
        if subparsers is None or chosen is None:
            return parser.prog
        parser = subparsers.choices[chosen]


def run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    """Call the handler `parser` chose for `args`; a CommandError becomes one line on stderr and its code."""
    try:
        return int(args.func(args) or 0)
    except CommandError as exc:
        print(f"{command_path(parser, args)}: error: {exc.message}", file=sys.stderr, flush=True)
        return exc.code
    except KeyboardInterrupt:
        return 130


def main(argv: Sequence[str] | None = None) -> int:
    """The `edgeloop` command: parse, run the chosen handler, return its exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    return run(parser, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
