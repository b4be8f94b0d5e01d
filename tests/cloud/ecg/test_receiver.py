"""The cloud receiver against a real Mosquitto with a paho publisher standing in for a gateway:
windows archived, alerts logged and POSTed with their latency, summaries and errors kept, malformed
messages counted without stopping anything, and nothing lost across a receiver restart."""

from __future__ import annotations

import json
import sys
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from edgeloop.cloud.ecg.alerts import AlertFanout
from edgeloop.cloud.ecg.archive import PathologyArchive
from edgeloop.cloud.ecg.receiver import EcgCloudReceiver
from edgeloop.cloud.errors import ReceiverError
from edgeloop.contracts.ecg import error_message, summary_message
from tests.kits.core import wait_for
from tests.kits.ecg_archive import Webhook, alert_body, spawned_children, window_body
from tests.kits.ecg_archive import run as run_cli


@pytest.fixture
def gateway(mosquitto):
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="test-gateway")
    client.connect("127.0.0.1", mosquitto.port)
    client.loop_start()
    yield client
    client.disconnect()
    client.loop_stop()


def publish(client: mqtt.Client, device: str, kind: str, payload) -> None:
    data = payload if isinstance(payload, bytes) else json.dumps(payload)
    client.publish(f"dt/ecg/{device}/{kind}", data, qos=1).wait_for_publish(5)


def test_receiver_archives_windows_fans_out_alerts_and_survives_bad_messages(mosquitto, gateway, tmp_path):
    hook = Webhook()
    archive = PathologyArchive(tmp_path / "arch")
    fanout = AlertFanout(archive.root / "alerts.jsonl", hook.url)
    receiver = EcgCloudReceiver(mosquitto.url, archive, fanout, client_id="rx-test")
    try:
        receiver.start()
        end = time.time() - 0.4                    # the window ended 0.4 s ago
        first = window_body("wearable-0001", f"wearable-0001-{round((end - 60) * 1000)}", start=end - 60)
        second = window_body("wearable-0002", f"wearable-0002-{round((end - 60) * 1000)}", condition="noisy",
                             start=end - 60)
        publish(gateway, "wearable-0001", "alert", alert_body(first))
        publish(gateway, "wearable-0001", "window", b"{not json")
        publish(gateway, "wearable-0002", "window", first)                  # filed under another device
        publish(gateway, "wearable-0001", "window", dict(first, raw=dict(first["raw"], data="i2:###")))
        publish(gateway, "wearable-0001", "alert", {k: v for k, v in alert_body(first).items() if k != "end"})
        publish(gateway, "wearable-0001", "window", first)
        publish(gateway, "wearable-0001", "window", first)                  # a QoS 1 redelivery
        publish(gateway, "wearable-0001", "summary", summary_message(
            device_id="wearable-0001", start=end - 300, end=end, model_version="1.0.3", windows=5, forwarded=1,
            unscreened=0, failed=0, labels={"normal": 4, "af": 1}, bpm=[70.1, 72.3], quality=[0.9, 0.95],
            gaps_s=0.0, chunks={"received": 300}))
        publish(gateway, "wearable-0002", "error", error_message(
            device_id="wearable-0002", field="ecg", problem="3 non-finite samples (NaN/inf), first at index 7",
            errors={"ecg": 1}, total=1, since=end - 10, timestamp=end))
        publish(gateway, "wearable-0002", "summary", {"device_id": "wearable-0002", "windows": 5})  # no schema
        publish(gateway, "wearable-0002", "window", second)                 # still receiving after all that
        wait_for(lambda: receiver.stats()["windows_stored"] == 2 and receiver.stats()["rejected"] == 5
                 and receiver.stats()["duplicates"] == 1 and receiver.stats()["errors"] == 1,
                 timeout=60,   # the first window waits for the render worker: a fresh interpreter at nice 15
                 what=f"2 windows, 1 duplicate, 5 rejects (have {receiver.stats()})")
        stats = receiver.stats()
        assert stats["rejects"] == {"window: not JSON": 1, "window: device mismatch": 1, "window: bad field": 1,
                                    "alert: bad field": 1, "summary: schema": 1}
        assert (stats["alerts"], stats["summaries"], stats["errors"]) == (1, 1, 1)
        latency = stats["alert_latency_s"]
        assert latency["n"] == 1 and 0.4 <= latency["p50"] < 5.0

        stored = {w.window_id: w for w in archive.windows()}
        assert set(stored) == {first["window_id"], second["window_id"]}
        assert stored[second["window_id"]].png_path.is_file() and stored[second["window_id"]].gateway_label == "noisy"

        logged = [json.loads(line) for line in (archive.root / "alerts.jsonl").read_text().splitlines()]
        assert [a["window_id"] for a in logged] == [first["window_id"]] and logged[0]["received_at"] > end
        wait_for(lambda: len(hook.bodies) == 1, timeout=5, what="the alert at the webhook")
        assert hook.bodies == logged
        summary = json.loads((archive.root / "summaries.jsonl").read_text())
        assert summary["bpm"]["mean"] == 71.2 and summary["labels"] == {"normal": 4, "af": 1}
        assert summary["received_at"] > end
        assert json.loads((archive.root / "errors.jsonl").read_text())["problem"].startswith("3 non-finite")
        rejects = [json.loads(line) for line in (archive.root / "rejects.jsonl").read_text().splitlines()]
        assert {r["reason"] for r in rejects} == set(stats["rejects"])
        assert any("'wearable-0001' is not the topic's 'wearable-0002'" in r["detail"] for r in rejects)
    finally:
        receiver.stop()
        fanout.close()
        hook.close()


def test_windows_sent_while_the_receiver_is_down_arrive_after_a_restart(mosquitto, gateway, tmp_path):
    archive = PathologyArchive(tmp_path / "arch")
    fanout = AlertFanout(archive.root / "alerts.jsonl")
    body = window_body("wearable-0003", "wearable-0003-0007", condition="other")
    with EcgCloudReceiver(mosquitto.url, archive, fanout, client_id="rx-restart"):
        pass                                          # the persistent session now exists at the broker
    publish(gateway, "wearable-0003", "window", body)
    publish(gateway, "wearable-0003", "alert", alert_body(body))
    with EcgCloudReceiver(mosquitto.url, archive, fanout, client_id="rx-restart") as receiver:
        wait_for(lambda: receiver.stats()["windows_stored"] == 1 and receiver.stats()["alerts"] == 1,
                 timeout=20, what=f"the held window and alert (have {receiver.stats()})")
        assert spawned_children()                     # the picture was drawn by the renderer process
    fanout.close()
    assert spawned_children() == []                   # ... which stop() ended
    assert [w.window_id for w in archive.windows(label="other")] == ["wearable-0003-0007"]


def test_startup_problems_are_one_clear_error(tmp_path, unused_port, capsys, monkeypatch):
    archive = PathologyArchive(tmp_path / "arch")
    fanout = AlertFanout(archive.root / "alerts.jsonl")
    with pytest.raises(ReceiverError, match=f"cannot reach MQTT broker mqtt://127.0.0.1:{unused_port}"):
        EcgCloudReceiver(f"mqtt://127.0.0.1:{unused_port}", archive, fanout, connect_timeout_s=2).start()
    fanout.close()
    code, _, err = run_cli(capsys, "serve", "--broker", "http://x", "--archive", tmp_path / "arch")
    assert code == 2 and err.count("\n") == 1 and "expected mqtt://HOST:PORT" in err
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)       # the cloud extra is not installed
    code, _, err = run_cli(capsys, "serve", "--broker", f"mqtt://127.0.0.1:{unused_port}", "--archive", tmp_path)
    assert code == 2 and err.count("\n") == 1 and "pip install 'edgeloop[cloud]'" in err


def test_cli_serve_runs_until_its_duration_and_prints_the_counts(mosquitto, gateway, tmp_path, capsys):
    body = window_body("wearable-0004", "wearable-0004-0001")
    # the session exists before the window is sent, so serve receives it as soon as it connects
    with EcgCloudReceiver(mosquitto.url, PathologyArchive(tmp_path / "arch"),
                          AlertFanout(tmp_path / "scratch.jsonl"), client_id="rx-cli"):
        pass
    publish(gateway, "wearable-0004", "window", body)
    code, out, err = run_cli(capsys, "serve", "--broker", mosquitto.url, "--archive", tmp_path / "arch",
                             "--client-id", "rx-cli", "--duration", "2")
    assert code == 0, err
    assert "windows stored 1, duplicates 0" in out and "archive " in out
    assert [w.window_id for w in PathologyArchive(tmp_path / "arch").windows()] == ["wearable-0004-0001"]
