"""`edgeloop simulate wearables`: dataset files, --mix errors, and live publishing to Mosquitto."""

from __future__ import annotations

import csv
import itertools
import json
import subprocess
import sys
import threading
import time

import numpy as np
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edgeloop import cli as edgeloop_cli
from edgeloop.simulator.wearable.dataset import read_labels

FIELDS = {"device_id", "seq", "timestamp", "fs", "ecg", "ppg", "bpm"}


def edgeloop(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """The real command in its own process."""
    return subprocess.run([sys.executable, "-m", "edgeloop.cli", "simulate", "wearables", *args],
                          capture_output=True, text=True, timeout=timeout, check=False)


def run_in_process(*args: str) -> int:
    """Parse like the top-level `edgeloop` does and run the handler through its error path
    (argparse errors exit 2)."""
    argv = ["simulate", "wearables", *args]
    parser = edgeloop_cli.build_parser(argv)
    try:
        parsed = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code)
    return edgeloop_cli.run(parser, parsed)


@pytest.mark.parametrize("mix, field", [
    ("normal=0.9,af=x", "'af'"),
    ("normal=0.9,vt=0.1", "'vt'"),
    ("normal=1.5", "'normal'"),
    ("normal=0.9,af=0.05", "sum to 0.95"),
    ("normal", "'normal'"),
])
def test_bad_mix_exits_2_naming_the_field(tmp_path, capsys, mix: str, field: str) -> None:
    code = run_in_process("--devices", "1", "--out", str(tmp_path), "--minutes", "1", "--mix", mix)
    err = capsys.readouterr().err
    assert code == 2 and "--mix" in err and field in err
    assert not list(tmp_path.iterdir())


def test_bad_mix_from_the_real_command(tmp_path) -> None:
    done = edgeloop("--devices", "1", "--out", str(tmp_path), "--minutes", "1",
                    "--mix", "normal=0.9,af=x")
    assert done.returncode == 2 and "mix field 'af'" in done.stderr
    assert "Traceback" not in done.stderr


def test_out_needs_minutes(tmp_path, capsys) -> None:
    assert run_in_process("--devices", "1", "--out", str(tmp_path)) == 2
    assert "--out needs --minutes" in capsys.readouterr().err


def test_dataset_writer_files_labels_and_manifest(tmp_path) -> None:
    out = tmp_path / "ds"
    assert run_in_process("--devices", "3", "--out", str(out), "--minutes", "2", "--seed", "4",
                          "--mix", "normal=0.5,af=0.2,pvc=0.2,noisy=0.1") == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["fs"] == 250.0 and manifest["seed"] == 4
    assert manifest["devices"] == ["wearable-0000", "wearable-0001", "wearable-0002"]
    assert manifest["mix"] == {"normal": 0.5, "af": 0.2, "pvc": 0.2, "noisy": 0.1}
    with open(out / "labels.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["device_id", "start_s", "end_s", "label"]
    for device in manifest["devices"]:
        ecg, ppg = np.load(out / f"{device}_ecg.npy"), np.load(out / f"{device}_ppg.npy")
        assert ecg.dtype == ppg.dtype == np.float32 and ecg.shape == ppg.shape == (2 * 60 * 250,)
        mine = [r for r in rows if r["device_id"] == device]
        assert float(mine[0]["start_s"]) == 0.0 and float(mine[-1]["end_s"]) == 120.0
        assert all(a["end_s"] == b["start_s"] for a, b in itertools.pairwise(mine))
        assert {r["label"] for r in mine} <= {"normal", "af", "other", "noisy"}
    again = tmp_path / "again"
    assert run_in_process("--devices", "1", "--out", str(again), "--minutes", "2", "--seed", "4",
                          "--mix", "normal=0.5,af=0.2,pvc=0.2,noisy=0.1") == 0
    assert np.array_equal(np.load(again / "wearable-0000_ecg.npy"),
                          np.load(out / "wearable-0000_ecg.npy"))


def test_publishes_every_device_with_continuous_seq_and_exact_fields(mosquitto, tmp_path) -> None:
    received: dict[str, list[dict]] = {}
    topics: set[str] = set()
    subscribed = threading.Event()
    lock = threading.Lock()

    def on_message(client, userdata, msg) -> None:
        payload = json.loads(msg.payload)
        with lock:
            topics.add(msg.topic)
            received.setdefault(payload["device_id"], []).append(payload)

    sub = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="wearable-test-sub")
    sub.on_connect = lambda c, u, f, rc, p: c.subscribe("dt/sensor/#", qos=1)
    sub.on_subscribe = lambda c, u, mid, rcs, p: subscribed.set()
    sub.on_message = on_message
    sub.connect("127.0.0.1", mosquitto.port)
    sub.loop_start()
    try:
        assert subscribed.wait(5)
        labels = tmp_path / "truth.csv"
        started = time.monotonic()
        done = edgeloop("--devices", "5", "--broker", mosquitto.url, "--count", "6",
                        "--speedup", "10", "--connections", "2", "--labels", str(labels))
        assert done.returncode == 0, done.stderr
        assert time.monotonic() - started < 20
        deadline = time.monotonic() + 5
        while sum(map(len, received.values())) < 30 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        sub.loop_stop()
        sub.disconnect()
    ids = [f"wearable-{i:04d}" for i in range(5)]
    assert topics == {f"dt/sensor/{d}" for d in ids}
    assert sorted(received) == ids
    for device in ids:
        chunks = received[device]
        assert [c["seq"] for c in chunks] == list(range(6))
        assert all(set(c) == FIELDS and c["fs"] == 250.0 for c in chunks)
        assert all(len(c["ecg"]) == len(c["ppg"]) == 250 for c in chunks)
        assert np.allclose(np.diff([c["timestamp"] for c in chunks]), 1.0, atol=2e-3)
        assert max(np.ptp(c["ecg"]) for c in chunks) > 0.3  # a real ECG in mV, not zeros
        assert chunks[-1]["bpm"] == 0.0 or 30 < chunks[-1]["bpm"] < 220
    assert labels.read_text().splitlines()[0] == "device_id,start_s,end_s,label,stream_start"
    truth, starts = read_labels(labels)
    assert sorted(truth) == sorted(starts) == ids
    for device in ids:
        assert truth[device][0][0] == 0.0 and truth[device][-1][1] == 6.0  # what was published
        # stream seconds + stream_start = the chunks' own timestamps
        assert starts[device] == pytest.approx(received[device][0]["timestamp"], abs=2e-3)


def test_unreachable_broker_exits_2(unused_port, capsys) -> None:
    code = run_in_process("--devices", "2", "--broker", f"mqtt://127.0.0.1:{unused_port}",
                          "--count", "1")
    assert code == 2 and "cannot reach MQTT broker" in capsys.readouterr().err
