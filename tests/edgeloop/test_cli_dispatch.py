"""`edgeloop` imports only the command group it runs: `edgeloop --help` lists every group without
importing one, and the core's commands start without the cloud's numeric stack."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from edgeloop import cli as edgeloop_cli

HEAVY = ("xgboost", "scipy", "matplotlib", "edgeloop.cloud", "edgeloop.components")


def _imported_after(argv: list[str]) -> tuple[int, list[str]]:
    """Run `edgeloop ARGV` in a fresh interpreter; (exit code, HEAVY modules it imported)."""
    probe = ("import json, sys\nfrom edgeloop.cli import main\n"
             f"try:\n    code = main({argv!r})\nexcept SystemExit as exc:\n    code = exc.code\n"
             f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\nsys.exit(code)\n")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    return done.returncode, json.loads(done.stdout.strip().splitlines()[-1])


def test_help_lists_every_group_and_imports_none(capsys) -> None:
    code, heavy = _imported_after(["--help"])
    assert code == 0 and heavy == []
    parser = edgeloop_cli.build_parser(["--help"])
    text = parser.format_help()
    for name, (_, summary) in edgeloop_cli.COMMANDS.items():
        assert name in text and summary in text


def test_core_status_does_not_load_the_cloud_or_numeric_stack(tmp_path: Path) -> None:
    code, heavy = _imported_after(["core", "status", "--root", str(tmp_path)])
    assert code == 1          # no core runs there: a refusal, not a crash
    assert heavy == []


def test_a_group_is_filled_only_when_it_is_run() -> None:
    parser = edgeloop_cli.build_parser(["twin", "train", "--help"])
    choices = next(a for a in parser._actions if a.dest == "command").choices
    assert "train" in choices["twin"].format_help()
    assert "status" not in choices["core"].format_help()     # listed, not filled
