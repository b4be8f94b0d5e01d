"""com.edgeloop.EcgPrefilter on a real local core: built by packaging.py with its EcgModel, deployed with
`edgeloop core deploy`, wearables as paho-mqtt client devices bridged to local pub/sub, and a broker
standing in for AWS IoT Core. The pre-filter runs with `python` = this interpreter (which has this
edgeloop installed, so its Install step skips pip)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from edgeloop.components.ecg_prefilter.packaging import (
    build_ecg_model_component,
    build_prefilter_component,
)
from edgeloop.contracts.ecg import parse_window
from edgeloop.simulator.core.mqtt.broker import EmbeddedBroker
from tests.kits.core import ComponentKit, Device, wait_for
from tests.kits.ecg import chunks, plan, trained_model_dir

PREFILTER = "com.edgeloop.EcgPrefilter"
MODEL = "com.edgeloop.EcgModel"
BRIDGE = "aws.greengrass.clientdevices.mqtt.Bridge"


def _component_environment(root: Path, module: str) -> dict[str, str]:
    """The environment of the running component process `python -m module` under the core at `root`."""
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            environ = dict(item.split("=", 1) for item in (proc / "environ").read_bytes().decode().split("\0") if "=" in item)
        except OSError:
            continue
        if module.encode() in cmdline and b"-m" in cmdline and environ.get("EDGELOOP_GG_ROOT") == str(root):
            return environ
    raise AssertionError(f"no {module} process runs under {root}")


def test_wearables_through_the_gateway_alert_forward_and_summarise(core_factory, kit: ComponentKit,
                                                                   short_tmp: Path) -> None:
    with EmbeddedBroker("127.0.0.1", 0, short_tmp / "cloud.log") as cloud:
        core = core_factory("--cloud-url", cloud.url, "--thing-name", "gw-1")
        build_ecg_model_component(trained_model_dir(), "1.0.0", kit.recipe_dir, kit.artifact_dir,
                                  model_version="edgeloop-ecg/1")
        build_prefilter_component("1.0.0", kit.recipe_dir, kit.artifact_dir)
        mapping = {"WearablesToPubsub": {"topic": "dt/sensor/+", "source": "LocalMqtt", "target": "Pubsub"},
                   "AlertsToDevices": {"topic": "dt/ecg/+/alert", "source": "Pubsub", "target": "LocalMqtt"}}
        app = Device(cloud.url, "cloud-app")
        try:
            for topic in ("dt/ecg/+/alert", "dt/ecg/+/window", "dt/ecg/+/summary", "dt/ecg/+/error",
                          "edgeloop/gw-1/ecg/status"):
                app.subscribe(topic)
            core.deploy(kit, {PREFILTER: "1.0.0", MODEL: "1.0.0"}, update_config={
                PREFILTER: {"MERGE": {"python": sys.executable, "summaryIntervalS": 60, "statusIntervalS": 1,
                                      "errorReportIntervalS": 10}},
                BRIDGE: {"MERGE": {"mqttTopicMapping": mapping}}})
            topic, started = app.next(30)
            assert topic == "edgeloop/gw-1/ecg/status" and json.loads(started)["event"] == "started"
            assert json.loads(started)["model_version"] == "edgeloop-ecg/1"
            # the recipe's Setenv: one BLAS/OpenMP thread, so window analysis never spins on a second core
            env = _component_environment(core.root, "edgeloop.components.ecg_prefilter")
            assert env["OPENBLAS_NUM_THREADS"] == env["OMP_NUM_THREADS"] == "1"
            wait_for(lambda: "AlertsToDevices" in core.core_log(), what="the bridge mapping")

            nurse = Device(core.mqtt_url, "ward-display")      # a local client of the gateway's alerts
            wearables = Device(core.mqtt_url, "wearables")
            try:
                nurse.subscribe("dt/ecg/+/alert")
                normal = chunks("n-1", plan("sinus", hr=70), 60)
                af = chunks("af-1", plan("af", hr=115), 60)
                for i, (a, b) in enumerate(zip(normal, af, strict=False)):   # as fast as the broker takes them
                    wearables.publish("dt/sensor/n-1", a)
                    wearables.publish("dt/sensor/af-1", b)
                    if i == 10:
                        wearables.publish("dt/sensor/af-1", {**b, "seq": 99, "fs": 500})
                received: dict[str, list] = {}
                order: list[str] = []

                def arrived() -> bool:
                    while not app.received.empty():
                        t, payload = app.received.get()
                        received.setdefault(t, []).append(json.loads(payload))
                        order.append(t)
                    statuses = received.get("edgeloop/gw-1/ecg/status", [])
                    return bool(statuses) and statuses[-1]["counters"]["windows_screened"] == 2 and \
                        "dt/ecg/n-1/summary" in received and "dt/ecg/af-1/summary" in received
                wait_for(arrived, 60, what=f"both windows screened; got {sorted(received)}; log:\n"
                                           f"{core.component_log(PREFILTER)[-3000:]}")
                local_topic, local_alert = nurse.next(10)
            finally:
                nurse.close()
                wearables.close()
        finally:
            app.close()

    (alert,), (window,) = received["dt/ecg/af-1/alert"], received["dt/ecg/af-1/window"]
    assert alert["label"] == "af" and alert["window_id"] == window["window_id"]
    assert order.index("dt/ecg/af-1/alert") < order.index("dt/ecg/af-1/window")   # the alert goes first
    assert parse_window(window).label == "af" and window["model_version"] == "edgeloop-ecg/1"
    assert (local_topic, json.loads(local_alert)) == ("dt/ecg/af-1/alert", alert)
    assert not [t for t in received if t.startswith("dt/ecg/n-1/") and not t.endswith("/summary")]
    (summary,) = received["dt/ecg/n-1/summary"]
    assert (summary["windows"], summary["normal"], summary["forwarded"]) == (1, 1, 0)
    assert 60 <= summary["bpm"]["mean"] <= 80
    (error,) = received["dt/ecg/af-1/error"]
    assert error["field"] == "fs" and "500 Hz" in error["problem"]
    counters = received["edgeloop/gw-1/ecg/status"][-1]["counters"]
    assert counters["chunks"] == 120 and counters["chunks_malformed"] == 1 and counters["windows_forwarded"] == 1
    assert 0 < counters["bytes_up"] < 0.2 * counters["bytes_in"]
