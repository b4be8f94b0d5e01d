"""Fixtures of the cloud loop: plant history CSVs, a home with two pipeline runs, the CLI in-process."""

from __future__ import annotations

import argparse
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edgeloop import cli as edgeloop_cli
from edgeloop.simulator.plant import Plant
from edgeloop.simulator.plant.telemetry import history_batch, write_csv_file

# Small XGBoost and Monte Carlo settings: seconds per run, and still a clear quality gap between
# two weeks of history (good) and one day with two trees (worse).
FAST = ["--max-depth", "3", "--simulations", "30", "--trials", "10"]
GOOD = ["--n-estimators", "60", *FAST]
WORSE = ["--n-estimators", "2", *FAST]


def parse(argv: list[str]) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    """The top-level parser for `argv` and what it parsed, as `edgeloop` builds them."""
    parser = edgeloop_cli.build_parser(argv)
    return parser, parser.parse_args(argv)


@pytest.fixture
def cli(capsys) -> Callable[..., tuple[int, str, str]]:
    """Run `edgeloop <args>` for the cloud groups in this process; returns (exit code, stdout, stderr)."""
    def run(*args: str) -> tuple[int, str, str]:
        code = edgeloop_cli.run(*parse([str(a) for a in args]))
        captured = capsys.readouterr()
        return code, captured.out, captured.err
    return run


@pytest.fixture(scope="session")
def history_csvs(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("history")
    plant = Plant.default(0)
    files = {"two_weeks": folder / "two-weeks.csv", "one_day": folder / "one-day.csv"}
    write_csv_file(history_batch(plant, 336, seed=1), files["two_weeks"])
    write_csv_file(history_batch(plant, 24, seed=2), files["one_day"])
    return files


@pytest.fixture(scope="session")
def trained_home(history_csvs) -> Iterator[Path]:
    """A cloud home where two twin runs registered edgeloop-twin/1 (good) and /2 (worse), both pending."""
    home = Path(tempfile.mkdtemp(prefix="elh-"))
    for data, params in ((history_csvs["two_weeks"], GOOD), (history_csvs["one_day"], WORSE)):
        _, args = parse(["pipeline", "run", "twin", "--home", str(home), "--data", str(data), *params])
        assert args.func(args) == 0
    yield home
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A short folder: a core's IPC socket path must stay under 108 bytes."""
    path = Path(tempfile.mkdtemp(prefix="elc-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)
