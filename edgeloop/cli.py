"""The `edgeloop` command: one entry point, one command group per area.

Each area owns its group in its own `cli.py` with `register(subparsers)`; handlers take the parsed
arguments and return the exit code. Heavy imports (xgboost, scipy) happen inside handlers so that
`edgeloop core start` does not pay for the twin's dependencies.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from . import __version__

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


def group_main(register: Callable[[argparse._SubParsersAction], None], argv: Sequence[str] | None = None) -> int:
    """One command group without the others (`python -m edgeloop.cloud.twin.cli twin ...`): quicker to start."""
    parser = argparse.ArgumentParser(prog="edgeloop")
    register(parser.add_subparsers(dest="command", metavar="COMMAND", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
