"""The `edgeloop` command: one entry point, one command group per area.

Each area owns its group in its own `cli.py` with `register(subparsers)`; handlers take the parsed
arguments and return the exit code. Heavy imports (xgboost, scipy) happen inside handlers so that
`edgeloop core start` does not pay for the twin's dependencies.

One error path: a handler raises `edgeloop.errors.CommandError(message, code)` wherever an expected
failure is found; `run` prints it here, once, as `edgeloop <command path>: error: <message>` (the
form argparse uses for bad arguments) and returns its code. Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from . import __version__
from .errors import CommandError

# (module, what it adds) — each module exposes register(subparsers).
_GROUPS = (
    "edgeloop.simulator.core.cli",
    "edgeloop.simulator.cli",
    "edgeloop.cloud.twin.cli",
    "edgeloop.cloud.ecg.cli",
    "edgeloop.cloud.cli",
    "edgeloop.cloud.pipeline_cli",
    "edgeloop.cloud.registry.cli",
    "edgeloop.demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="edgeloop",
        description="Run ML on AWS IoT Greengrass gateways and keep it improving from the cloud.")
    parser.add_argument("--version", action="version", version=f"edgeloop {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    import importlib
    for module in _GROUPS:
        importlib.import_module(module).register(subparsers)
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


def group_main(register: Callable[[argparse._SubParsersAction], None], argv: Sequence[str] | None = None) -> int:
    """One command group without the others (`python -m edgeloop.cloud.twin.cli twin ...`): quicker to start."""
    parser = argparse.ArgumentParser(prog="edgeloop")
    register(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    return run(parser, parser.parse_args(argv))


def main(argv: Sequence[str] | None = None) -> int:
    """The `edgeloop` command: parse, run the chosen handler, return its exit code."""
    parser = build_parser()
    return run(parser, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
