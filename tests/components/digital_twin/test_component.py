"""com.edgeloop.DigitalTwin on a real local core: built by packaging.py, deployed with `edgeloop core
deploy`, talking over IPC with the unmodified awsiotsdk client.

The twin runs with `python` = this interpreter (which has this edgeloop installed, so its Install
step skips pip). Requests come from a test component (clients/twin_requester.py), plant telemetry
from a paho-mqtt client device through the MQTT bridge, cloud requests through a broker standing in
for AWS IoT Core.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from edgeloop.components.digital_twin import packaging
from edgeloop.components.digital_twin.component import (
    TwinService,
    TwinSettings,
    load_verified,
)
from edgeloop.components.digital_twin.model import PowerModel
from edgeloop.components.digital_twin.optimizer import Optimizer
from edgeloop.components.digital_twin.request import parse_request
from edgeloop.simulator.core.mqtt.broker import EmbeddedBroker
from tests.kits.core import ComponentKit, Device, RunningCore, wait_for
from tests.kits.twin import REFERENCE_EVENT

TWIN = "com.edgeloop.DigitalTwin"
MODEL = "com.edgeloop.TwinModel"
REQUESTER = "com.test.TwinRequester"
CLIENT = Path(__file__).parent / "clients" / "twin_requester.py"
RESET_MODEL = {MODEL: {"RESET": [""]}}


def read_jsonl(path: Path) -> list:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def twin_settings(**telemetry: int) -> dict:
    return {TWIN: {"MERGE": {"python": sys.executable, "telemetry": telemetry}}}


def build(kit: ComponentKit, model_dir: Path, version: str, model_version: str, **extra) -> None:
    packaging.build_model_component(model_dir, version, kit.recipe_dir, kit.artifact_dir,
                                    model_version=model_version, extra_config=extra or None)


def add_twin_and_requester(kit: ComponentKit, requests: list, loop: bool = False) -> None:
    packaging.build_twin_component("1.0.0", kit.recipe_dir, kit.artifact_dir)
    kit.component(REQUESTER, script=CLIENT.read_text(), config={
        "requests": requests, "loop": loop, "intervalMs": 20,
        "accessControl": {"aws.greengrass.ipc.pubsub": {"requester": {
            "operations": ["aws.greengrass#PublishToTopic", "aws.greengrass#SubscribeToTopic"],
            "resources": ["edgeloop/twin/request", "edgeloop/twin/response/+", "edgeloop/twin/status"]}}}})


def requester_file(core: RunningCore, name: str) -> Path:
    return core.paths.work_dir(REQUESTER) / name


def test_ipc_requests_get_a_ranked_list_and_a_bad_one_an_error(core: RunningCore, kit: ComponentKit,
                                                               model_dirs) -> None:
    build(kit, model_dirs["first"], "1.0.0", "edgeloop-twin/1")
    add_twin_and_requester(kit, [
        {"request_id": "ref-1", "event": REFERENCE_EVENT, "seed": 3},
        {"request_id": "bad-1", "event": {**REFERENCE_EVENT, "pressure": "[70, 69]"}},
        {"event": REFERENCE_EVENT},
        {"request_id": "flat-1", **REFERENCE_EVENT},
    ])
    core.deploy(kit, {TWIN: "1.0.0", REQUESTER: "1.0.0"}, update_config=twin_settings())
    wait_for(lambda: requester_file(core, "done").exists(), 30,
             what=f"the requester's replies; twin log:\n{core.component_log(TWIN)}")
    good, bad, anonymous, flat = [r["reply"] for r in read_jsonl(requester_file(core, "replies.jsonl"))]

    expected = Optimizer(PowerModel.load(model_dirs["first"])).rank(parse_request(REFERENCE_EVENT), 3)
    assert good["ranking"] == expected.answer()
    assert (good["model_version"], good["component_version"]) == ("edgeloop-twin/1", "1.0.0")
    assert bad == {"request_id": "bad-1", "error": {"field": "pressure", "problem": "low 70 is above high 69"},
                   "elapsed_ms": bad["elapsed_ms"]}
    assert anonymous["request_id"] == "unknown" and anonymous["error"]["field"] == "request_id"
    assert [list(r)[0] for r in flat["ranking"]] and "error" not in flat   # still serving after the errors
    assert core.state(TWIN) == "RUNNING"
    assert "Successfully installed" not in core.component_log(TWIN)   # this Python has this edgeloop: no pip


def test_plant_telemetry_through_the_bridge_gets_recommendations_and_live_error(
        core: RunningCore, kit: ComponentKit, model_dirs, plant, short_tmp: Path) -> None:
    build(kit, model_dirs["first"], "1.0.0", "edgeloop-twin/1")
    packaging.build_twin_component("1.0.0", kit.recipe_dir, kit.artifact_dir)
    mapping = {"PlantToPubsub": {"topic": "dt/compressor/+/telemetry", "source": "LocalMqtt", "target": "Pubsub"},
               "RecommendationToDevices": {"topic": "dt/compressor/+/recommendation", "source": "Pubsub",
                                           "target": "LocalMqtt"},
               "TwinErrorToDevices": {"topic": "dt/compressor/+/twin/error", "source": "Pubsub", "target": "LocalMqtt"}}
    core.deploy(kit, {TWIN: "1.0.0"}, update_config={
        **twin_settings(recommendEvery=4, errorEvery=4, errorWindow=8),
        "aws.greengrass.clientdevices.mqtt.Bridge": {"MERGE": {"mqttTopicMapping": mapping}}})
    wait_for(lambda: "ready: serving" in core.component_log(TWIN), 30, what="the twin to serve")
    wait_for(lambda: "TwinErrorToDevices" in core.core_log(), what="the bridge mapping")

    rows = plant.history(hours=0.2, seed=9)[:8]
    samples = [{"plant_id": "p7", "timestamp": r["timestamp"], "seq": i, "flow": r["flow"], "pressure": r["pressure"],
                "power": r["power"], "config": r["config"]} for i, r in enumerate(rows)]
    dashboard = Device(core.mqtt_url, "dashboard")
    plc = Device(core.mqtt_url, "plant-p7")
    try:
        dashboard.subscribe("dt/compressor/+/recommendation")
        dashboard.subscribe("dt/compressor/+/twin/error")
        time.sleep(0.3)
        for sample in samples:
            plc.publish("dt/compressor/p7/telemetry", sample)
        received = [dashboard.next() for _ in range(4)]
    finally:
        plc.close()
        dashboard.close()

    # The same samples through an in-process service with the same model give the same messages.
    service = TwinService(TwinSettings(error_window=8, error_every=4, recommend_every=4))
    service.install(load_verified(core.root, _model_config(core)))
    expected = [out for sample in samples for out in service.handle_telemetry("dt/compressor/p7/telemetry", sample)]
    assert sorted(((topic, json.loads(payload)) for topic, payload in received), key=json.dumps) == \
        sorted(expected, key=json.dumps)
    recommendations = [json.loads(p) for t, p in received if t.endswith("/recommendation")]
    assert [r["running"] for r in recommendations] == [samples[3]["config"], samples[7]["config"]]
    assert all(r["recommended"] and r["model_version"] == "edgeloop-twin/1" for r in recommendations)


def _model_config(core: RunningCore) -> dict:
    return json.loads(core.paths.effective_config.read_text())["configuration"][MODEL]


def test_cloud_requests_through_iot_core_get_replies(core_factory, kit: ComponentKit, model_dirs,
                                                     short_tmp: Path) -> None:
    with EmbeddedBroker("127.0.0.1", 0, short_tmp / "cloud.log") as cloud:
        core = core_factory("--cloud-url", cloud.url, "--thing-name", "gw-1")
        build(kit, model_dirs["first"], "1.0.0", "edgeloop-twin/1")
        packaging.build_twin_component("1.0.0", kit.recipe_dir, kit.artifact_dir)
        app = Device(cloud.url, "cloud-app")
        try:
            app.subscribe("edgeloop/gw-1/twin/status")
            app.subscribe("edgeloop/gw-1/twin/response/+")
            core.deploy(kit, {TWIN: "1.0.0"}, update_config=twin_settings())
            topic, status = app.next(30)   # the twin says it started once its subscriptions are in place
            assert topic == "edgeloop/gw-1/twin/status" and json.loads(status)["event"] == "started"
            app.publish("edgeloop/gw-1/twin/request", {"request_id": "cloud-1", "event": REFERENCE_EVENT, "seed": 5})
            app.publish("edgeloop/gw-1/twin/request", {"request_id": "cloud-2", "event": {"flow": "[280, 300]"}})
            replies = dict(app.next() for _ in range(2))
        finally:
            app.close()
    good = json.loads(replies["edgeloop/gw-1/twin/response/cloud-1"])
    bad = json.loads(replies["edgeloop/gw-1/twin/response/cloud-2"])
    expected = Optimizer(PowerModel.load(model_dirs["first"])).rank(parse_request(REFERENCE_EVENT), 5)
    assert good["ranking"] == expected.answer() and good["model_version"] == "edgeloop-twin/1"
    assert bad["error"]["field"] == "pressure" and bad["request_id"] == "cloud-2"


def run_requests_during(core: RunningCore, deploy) -> tuple[list[str], list[dict], list[dict]]:
    """Keep requests flowing (every 20 ms) while `deploy()` runs; (sent ids, replies, twin status messages)."""
    replies_file = requester_file(core, "replies.jsonl")
    sent_file = requester_file(core, "sent.jsonl")
    wait_for(lambda: len(read_jsonl(sent_file)) >= 20, 30, what="requests to flow")
    deploy()
    time.sleep(1.0)
    requester_file(core, "stop").touch()
    wait_for(lambda: requester_file(core, "done").exists(), 40, what="the requester to collect its replies")
    return read_jsonl(sent_file), read_jsonl(replies_file), read_jsonl(requester_file(core, "status.jsonl"))


def test_a_new_model_is_swapped_in_while_requests_flow_and_none_is_lost(core: RunningCore, kit: ComponentKit,
                                                                         model_dirs) -> None:
    build(kit, model_dirs["first"], "1.0.0", "edgeloop-twin/1")
    add_twin_and_requester(kit, [{"event": REFERENCE_EVENT}], loop=True)
    core.deploy(kit, {TWIN: "1.0.0", REQUESTER: "1.0.0"}, update_config=twin_settings())
    build(kit, model_dirs["second"], "1.0.1", "edgeloop-twin/2")
    sent, replies, status = run_requests_during(
        core, lambda: core.deploy(kit, {MODEL: "1.0.1"}, update_config=RESET_MODEL))

    assert [r["sent"] for r in replies] == sent and all(r["reply"] for r in replies), "a request got no reply"
    assert not [r for r in replies if "error" in r["reply"]]
    versions = [r["reply"]["model_version"] for r in replies]
    switch = versions.index("edgeloop-twin/2")
    assert set(versions[:switch]) == {"edgeloop-twin/1"} and set(versions[switch:]) == {"edgeloop-twin/2"}
    assert switch >= 20 and len(versions) - switch >= 10
    assert {r["reply"]["component_version"] for r in replies[switch:]} == {"1.0.1"}
    loaded = [s for s in status if s["event"] == "model_loaded"]
    assert [s["component_version"] for s in loaded] == ["1.0.1"]
    assert core.component_log(TWIN).count("ready: serving") == 1   # swapped, not restarted


def test_a_model_that_does_not_match_its_sha256_is_refused_and_the_old_one_serves(
        core: RunningCore, kit: ComponentKit, model_dirs) -> None:
    build(kit, model_dirs["first"], "1.0.0", "edgeloop-twin/1")
    add_twin_and_requester(kit, [{"event": REFERENCE_EVENT}], loop=True)
    core.deploy(kit, {TWIN: "1.0.0", REQUESTER: "1.0.0"}, update_config=twin_settings())
    build(kit, model_dirs["second"], "1.0.1", "edgeloop-twin/2", modelSha256="0" * 64)
    sent, replies, status = run_requests_during(
        core, lambda: core.deploy(kit, {MODEL: "1.0.1"}, update_config=RESET_MODEL))

    assert [r["sent"] for r in replies] == sent and all(r["reply"] for r in replies)
    assert {r["reply"]["model_version"] for r in replies} == {"edgeloop-twin/1"}
    refused = [s for s in status if s["event"] == "model_refused"]
    assert len(refused) == 1 and "modelSha256" in refused[0]["problem"] and "1.0.1" in refused[0]["problem"]
    assert refused[0]["model_version"] == "edgeloop-twin/1" and refused[0]["counters"]["models_refused"] == 1
    assert "model refused" in core.component_log(TWIN)
