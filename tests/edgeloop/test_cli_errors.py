"""The one CLI error path: a handler raises CommandError, `edgeloop` prints one line and exits with its code."""

from __future__ import annotations

import argparse
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from edgeloop import cli as edgeloop_cli
from edgeloop.errors import CommandError


def edgeloop(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    """The real command in its own process."""
    return subprocess.run([sys.executable, "-m", "edgeloop.cli", *args], input=stdin, capture_output=True,
                          text=True, timeout=120, check=False)


@pytest.mark.parametrize("args, stdin, code, line", [
    (("twin", "recommend", "--model", "{tmp}/none", "--event", "-"), '{"flow": "[300, 280]", "pressure": "[69, 70]"}',
     2, "edgeloop twin recommend: error: bad event: flow: low 300 is above high 280"),
    (("twin", "simulate", "--model", "{tmp}/none"), "",
     1, "edgeloop twin simulate: error: {tmp}/none/metadata.json: missing (is {tmp}/none a twin model directory?)"),
    (("registry", "rollback", "--home", "{tmp}/home"), "",
     2, "edgeloop registry rollback: error: nothing was promoted from this home; nothing to roll back"),
    (("ecg", "archive", "show", "w1", "--archive", "{tmp}/archive"), "",
     2, "edgeloop ecg archive show: error: no pathology archive at {tmp}/archive (no archive.sqlite)"),
    (("core", "status", "--root", "{tmp}/core"), "",
     1, "edgeloop core status: error: no core has run under {tmp}/core"),
    (("simulate", "plant"), "",
     2, "edgeloop simulate plant: error: nothing to do: give --broker, --csv, --boundaries or --plot"),
])
def test_an_expected_error_is_one_line_and_its_exit_code(tmp_path: Path, args: tuple[str, ...], stdin: str,
                                                           code: int, line: str) -> None:
    done = edgeloop(*(a.format(tmp=tmp_path) for a in args), stdin=stdin)
    assert done.returncode == code
    assert done.stderr == line.format(tmp=tmp_path) + "\n"      # one line, no traceback
    assert done.stdout == ""


def _run(handler: Callable[[argparse.Namespace], int | None]) -> int:
    """`edgeloop area do` whose handler is `handler`, run through edgeloop.cli.run as every command is."""
    parser = argparse.ArgumentParser(prog="edgeloop")
    area = parser.add_subparsers(dest="command", required=True).add_parser("area")
    area.add_subparsers(dest="area_command", required=True).add_parser("do").set_defaults(func=handler)
    return edgeloop_cli.run(parser, parser.parse_args(["area", "do"]))


def _raise(exc: BaseException) -> Callable[[argparse.Namespace], int]:
    def handler(args: argparse.Namespace) -> int:
        raise exc
    return handler


def test_run_prints_the_command_path_and_returns_the_carried_code(capsys) -> None:
    assert _run(_raise(CommandError("the input is refused", 3))) == 3
    captured = capsys.readouterr()
    assert captured.err == "edgeloop area do: error: the input is refused\n" and captured.out == ""


def test_a_command_error_defaults_to_exit_code_2(capsys) -> None:
    assert _run(_raise(CommandError("bad argument"))) == 2
    assert capsys.readouterr().err == "edgeloop area do: error: bad argument\n"


def test_ctrl_c_exits_130_and_a_handler_s_code_passes_through(capsys) -> None:
    assert _run(_raise(KeyboardInterrupt())) == 130
    assert _run(lambda args: 1) == 1
    assert _run(lambda args: None) == 0
    assert capsys.readouterr().err == ""


def test_an_unexpected_exception_is_not_swallowed() -> None:
    with pytest.raises(ZeroDivisionError):
        _run(_raise(ZeroDivisionError("a bug")))


def test_main_runs_the_full_command_tree_through_the_same_path(tmp_path: Path, capsys) -> None:
    assert edgeloop_cli.main(["pipeline", "show", "nope", "--home", str(tmp_path)]) == 2
    assert capsys.readouterr().err == (f"edgeloop pipeline show: error: no run 'nope' in {tmp_path}/experiments.sqlite "
                                       "(see `edgeloop pipeline list`)\n")
