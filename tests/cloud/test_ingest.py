"""Ingest from a real broker into the lake: good rows land in partitions, bad ones are kept as rejects."""

from __future__ import annotations

import csv
import json
import threading
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edgeloop.cloud.ingest import TelemetryIngest
from edgeloop.cloud.lake import COLUMNS, Lake
from tests.kits.core import wait_for


def sample(plant: str, seq: int, timestamp: str, **change) -> dict:
    return {"plant_id": plant, "timestamp": timestamp, "seq": seq, "flow": 300.5, "pressure": 70.1,
            "power": 61.2, "config": "c1c2", **change}


def publisher(port: int) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-device")
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def read_rows(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_ingest_stores_good_messages_and_rejects_bad_ones(mosquitto, tmp_path):
    lake = tmp_path / "lake"
    ingest = TelemetryIngest(mosquitto.url, lake, client_id="ingest-test").start()
    device = publisher(mosquitto.port)
    try:
        good = [("p1", sample("p1", 0, "2024-01-01T23:59:00Z")), ("p1", sample("p1", 1, "2024-01-02T00:00:00Z")),
                ("p2", sample("p2", 0, "2024-01-01T12:00:00Z", config="c1c2c3c4"))]
        bad = [("p1", b"{not json", "bad JSON"),
               ("p1", json.dumps({k: v for k, v in sample("p1", 2, "2024-01-02T00:01:00Z").items()
                                  if k != "power"}), "missing field"),
               ("p1", json.dumps(sample("p1", 3, "2024-01-02T00:02:00Z", flow=float("nan"))), "not finite"),
               ("p1", json.dumps(sample("p1", 4, "2024-01-02T00:03:00Z", config="c9c7")), "unknown config"),
               ("p1", json.dumps(sample("p3", 5, "2024-01-02T00:04:00Z")), "bad plant_id"),
               ("p1", json.dumps(sample("p1", 6, "yesterday")), "bad timestamp")]
        for plant, payload, _ in bad[:3]:
            device.publish(f"dt/compressor/{plant}/telemetry", payload, qos=1).wait_for_publish(5)
        for plant, payload in good[:1]:
            device.publish(f"dt/compressor/{plant}/telemetry", json.dumps(payload), qos=1).wait_for_publish(5)
        for plant, payload, _ in bad[3:]:
            device.publish(f"dt/compressor/{plant}/telemetry", payload, qos=1).wait_for_publish(5)
        for plant, payload in good[1:]:   # ingestion is still alive after every kind of bad message
            device.publish(f"dt/compressor/{plant}/telemetry", json.dumps(payload), qos=1).wait_for_publish(5)
        wait_for(lambda: ingest.accepted == 3 and sum(ingest.rejected.values()) == 6, timeout=10,
                 what=f"3 accepted and 6 rejected (have {ingest.summary()})")
    finally:
        device.loop_stop()
        device.disconnect()
        ingest.stop()

    assert ingest.rejected == {"bad JSON": 1, "missing field": 1, "not finite": 1, "unknown config": 1,
                               "bad plant_id": 1, "bad timestamp": 1}
    day1 = lake / "telemetry" / "plant=p1" / "date=2024-01-01" / "telemetry.csv"
    day2 = lake / "telemetry" / "plant=p1" / "date=2024-01-02" / "telemetry.csv"
    other = lake / "telemetry" / "plant=p2" / "date=2024-01-01" / "telemetry.csv"
    assert day1.read_text().splitlines()[0] == ",".join(COLUMNS)
    assert [r["seq"] for r in read_rows(day1)] == ["0"] and [r["seq"] for r in read_rows(day2)] == ["1"]
    assert read_rows(other) == [{"timestamp": "2024-01-01T12:00:00Z", "flow": "300.5", "pressure": "70.1",
                                 "power": "61.2", "config": "c1c2c3c4", "plant_id": "p2", "seq": "0"}]
    rejects = [json.loads(line) for f in sorted((lake / "rejects").rglob("rejects.jsonl"))
               for line in f.read_text().splitlines()]
    assert sorted(r["reason"] for r in rejects) == sorted(reason for _, _, reason in bad)
    by_reason = {r["reason"]: r for r in rejects}
    assert by_reason["missing field"]["detail"] == "missing field(s): power"
    assert by_reason["bad plant_id"]["detail"] == "plant_id 'p3' does not match the topic's 'p1'"
    assert by_reason["bad JSON"]["payload"] == "{not json"
    assert all(r["topic"] == "dt/compressor/p1/telemetry" for r in rejects)


def test_the_lake_keeps_the_telemetry_contract(tmp_path):
    """One rule per field with the gateway: negative readings and naive timestamps are refused (the lake
    accepted negatives before); the plant id comes from the topic when the body leaves it out."""
    lake = Lake(tmp_path / "lake")
    topic = "dt/compressor/p1/telemetry"
    assert lake.ingest(topic, json.dumps(sample("p1", 0, "2024-01-01T00:00:00Z", flow=-3.0)).encode()) is None
    assert lake.ingest(topic, json.dumps(sample("p1", 1, "2024-01-01T00:01:00")).encode()) is None
    body = {k: v for k, v in sample("p1", 2, "2024-01-01T01:02:00+01:00").items() if k != "plant_id"}
    row = lake.ingest(topic, json.dumps(body).encode())
    assert row is not None and (row["plant_id"], row["timestamp"]) == ("p1", "2024-01-01T00:02:00Z")
    assert lake.rejected == {"negative": 1, "bad timestamp": 1} and lake.accepted == 1
    rejects = [json.loads(line) for f in (tmp_path / "lake" / "rejects").rglob("rejects.jsonl")
               for line in f.read_text().splitlines()]
    details = sorted(r["detail"] for r in rejects)
    assert details[0].startswith("flow -3.0 is negative") and "has no timezone" in details[1]


def test_concurrent_appends_keep_one_header_and_whole_lines(tmp_path):
    lake = Lake(tmp_path / "lake")

    def write(plant_seq: int) -> None:
        for i in range(150):
            lake.ingest("dt/compressor/p1/telemetry",
                        json.dumps(sample("p1", plant_seq * 1000 + i, "2024-03-05T10:00:00Z")).encode())

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    files = list(lake.files())
    assert len(files) == 1
    lines = files[0].read_text().splitlines()
    assert lines[0] == ",".join(COLUMNS) and len(lines) == 601
    assert sorted(int(r["seq"]) for r in read_rows(files[0])) == sorted(n * 1000 + i for n in range(4) for i in range(150))


def test_cli_ingest_runs_for_a_duration_and_reports(mosquitto, tmp_path, cli):
    home = tmp_path / "home"
    stop = threading.Event()

    def device() -> None:
        client = publisher(mosquitto.port)
        seq = 0
        while not stop.is_set():
            client.publish("dt/compressor/p7/telemetry",
                           json.dumps(sample("p7", seq, f"2024-02-01T00:{seq % 60:02d}:00Z")), qos=1)
            seq += 1
            stop.wait(0.05)
        client.loop_stop()
        client.disconnect()

    thread = threading.Thread(target=device)
    thread.start()
    try:
        code, out, err = cli("cloud", "ingest", "--broker", mosquitto.url, "--home", home, "--duration", "1.5")
    finally:
        stop.set()
        thread.join()
    assert code == 0, err
    accepted = int(out.strip().splitlines()[-1].split("accepted ")[1].split(",")[0])
    assert accepted > 5
    rows = read_rows(home / "lake" / "telemetry" / "plant=p7" / "date=2024-02-01" / "telemetry.csv")
    assert len(rows) == accepted


def test_unreachable_broker_is_a_clear_error(tmp_path, cli, unused_port):
    code, _, err = cli("cloud", "ingest", "--broker", f"mqtt://127.0.0.1:{unused_port}", "--home", tmp_path,
                       "--duration", "1")
    assert code == 2
    assert f"cannot reach MQTT broker mqtt://127.0.0.1:{unused_port}" in err
    with pytest.raises(ValueError, match="expected mqtt://HOST:PORT"):
        TelemetryIngest("http://x", tmp_path)
