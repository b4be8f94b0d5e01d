"""`edgeloop simulate plant` for files: history CSV, boundaries, picture, and its error messages."""

from __future__ import annotations

import csv
import json
from datetime import datetime

import pytest

from edgeloop import cli as edgeloop_cli
from edgeloop.simulator.plant import Plant


def run_in_process(*args: str) -> int:
    """Parse like the top-level `edgeloop` does and run the handler through its error path."""
    argv = ["simulate", "plant", *args]
    parser = edgeloop_cli.build_parser(argv)
    parsed = parser.parse_args(argv)
    return edgeloop_cli.run(parser, parsed)


def test_handler_writes_history_and_boundaries(tmp_path, capsys) -> None:
    out, bounds = tmp_path / "h.csv", tmp_path / "b.json"
    code = run_in_process("--csv", str(out), "--hours", "3", "--seed", "4",
                          "--start", "2024-06-01T08:00:00Z", "--boundaries", str(bounds))
    assert code == 0
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["timestamp", "flow", "pressure", "power", "config"]
    assert len(rows) == 180 and rows[0]["timestamp"] == "2024-06-01T08:00:00Z"
    start = datetime.fromisoformat("2024-06-01T08:00:00+00:00")
    assert rows == [{k: str(v) for k, v in r.items()}
                    for r in Plant.default(0).history(3, seed=4, start=start)]
    assert {k: tuple(v) for k, v in json.loads(bounds.read_text()).items()} == \
        Plant.default(0).boundaries
    assert "wrote 180 rows" in capsys.readouterr().err


def test_python_dash_m_writes_the_csv(tmp_path, cli) -> None:
    out = tmp_path / "history.csv"
    done = cli("--csv", str(out), "--hours", "2", "--seed", "1")
    assert done.returncode == 0, done.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "timestamp,flow,pressure,power,config"
    assert len(lines) == 121
    ts, flow, pressure, power, config = lines[1].split(",")
    assert ts.endswith("Z") and float(flow) > 0 and 45 < float(pressure) < 80
    assert float(power) > 0 and config in Plant.default(0).configurations


@pytest.mark.parametrize("args, message", [
    (("--csv", "x.csv"), "--csv needs --hours"),
    (("--broker", "mqtt://127.0.0.1:1883"), "--broker needs --plant-id"),
    (("--broker", "http://127.0.0.1:1883", "--plant-id", "p"), "expected mqtt://HOST:PORT"),
    (("--broker", "mqtt://127.0.0.1:notaport", "--plant-id", "p"), "broker URL"),
    (("--csv", "x.csv", "--hours", "-3"), "must be positive"),
    (("--broker", "mqtt://127.0.0.1:1883", "--plant-id", "a/b"), "plant id 'a/b'"),
    ((), "nothing to do"),
])
def test_bad_arguments_exit_2_with_a_message(args, message, capsys) -> None:
    try:
        code = edgeloop_cli.main(["simulate", "plant", *args])
    except SystemExit as exc:  # argparse reports type errors itself, with status 2
        code = exc.code
    assert code == 2
    assert message in capsys.readouterr().err


def test_bad_broker_url_in_a_real_process_has_no_traceback(cli) -> None:
    done = cli("--broker", "mqtt://:1883", "--plant-id", "p")
    assert done.returncode == 2
    assert "missing host" in done.stderr and "Traceback" not in done.stderr


def test_unreachable_broker_exits_2_with_a_clear_message(cli, unused_port) -> None:
    port = unused_port  # nothing listens there
    done = cli("--broker", f"mqtt://127.0.0.1:{port}", "--plant-id", "p1", "--count", "3")
    assert done.returncode == 2
    assert f"cannot reach MQTT broker mqtt://127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


def test_csv_into_missing_folder_exits_2(tmp_path, capsys) -> None:
    assert run_in_process("--csv", str(tmp_path / "no" / "such" / "h.csv"), "--hours", "1") == 2
    assert "No such file or directory" in capsys.readouterr().err


def test_plot_draws_a_png(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    out = tmp_path / "plant.png"
    assert run_in_process("--plot", str(out), "--pressure", "70") == 0
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
