"""Client devices, the MQTT bridge and the IoT Core link, end to end through a running core.

A paho-mqtt client device publishes to the core's embedded broker; the bridge hands it to local
pub/sub; a component (unmodified awsiotsdk IPC client) answers to IoT Core; a second broker stands
in for AWS IoT Core, and what the cloud sends comes back down to the device.
"""

from __future__ import annotations

import json
import queue
from pathlib import Path

import pytest

from edgeloop.simulator.core.mqtt.broker import EmbeddedBroker
from tests.kits.core import ComponentKit, Device, wait_for

HERE = Path(__file__).parent / "components"


@pytest.fixture
def cloud(short_tmp: Path):
    broker = EmbeddedBroker("127.0.0.1", 0, short_tmp / "cloud-broker.log")
    broker.start()
    yield broker
    broker.stop()


def test_device_to_component_to_cloud_and_back(core_factory, kit: ComponentKit, cloud: EmbeddedBroker) -> None:
    core = core_factory("--cloud-url", cloud.url, "--thing-name", "gw-1")
    kit.component("com.test.Relay", script=(HERE / "echo.py").read_text(), config={
        "in": "dt/sensor/+", "out": "", "iotOut": "up/gw-1/sensor", "subscribeIot": "",
        "accessControl": {
            "aws.greengrass.ipc.pubsub": {"relay:sub": {"operations": ["aws.greengrass#SubscribeToTopic"],
                                                        "resources": ["dt/sensor/+"]}},
            "aws.greengrass.ipc.mqttproxy": {"relay:pub": {"operations": ["aws.greengrass#PublishToIoTCore"],
                                                           "resources": ["up/{iot:thingName}/#"]}}}})
    mapping = {
        "DeviceToPubsub": {"topic": "dt/sensor/+", "source": "LocalMqtt", "target": "Pubsub"},
        "CloudToDevice": {"topic": "cmd/#", "source": "IotCore", "target": "LocalMqtt"},
    }
    core.deploy(kit, {"com.test.Relay": "1.0.0"},
                update_config={"aws.greengrass.clientdevices.mqtt.Bridge": {"MERGE": {"mqttTopicMapping": mapping}}})
    wait_for(lambda: (core.paths.work_dir("com.test.Relay") / "ready").exists(), what="relay ready")
    wait_for(lambda: "DeviceToPubsub" in core.core_log(), what="bridge mapping applied")

    cloud_side = Device(cloud.url, "cloud-app")
    device = Device(core.mqtt_url, "wearable-7")
    try:
        cloud_side.subscribe("up/#")
        device.subscribe("cmd/#")

        # the bridge subscribes at the broker just after it logs the mapping: publish until it relays
        def sample_arrives() -> tuple[str, bytes] | None:
            device.publish("dt/sensor/7", {"bpm": 72})
            try:
                return cloud_side.next(timeout=1.0)
            except queue.Empty:
                return None
        topic, payload = wait_for(sample_arrives, timeout=20, what="a device sample to reach the cloud")
        assert topic == "up/gw-1/sensor"
        body = json.loads(payload)
        assert body["echo"] == {"bpm": 72} and body["topic"] == "dt/sensor/7" and body["thing"] == "gw-1"

        # wait until the core's link has subscribed upstream, then send a command down
        def command_arrives() -> bool:
            cloud_side.client.publish("cmd/wearable-7", json.dumps({"sample_rate": 250}), qos=1)
            try:
                return device.next(timeout=1.0) == ("cmd/wearable-7", b'{"sample_rate": 250}')
            except queue.Empty:
                return False
        wait_for(command_arrives, timeout=20, what="a cloud command to reach the device")
    finally:
        device.close()
        cloud_side.close()


def test_component_refused_iot_core_topic_outside_its_policy(core_factory, kit: ComponentKit, cloud: EmbeddedBroker) -> None:
    core = core_factory("--cloud-url", cloud.url, "--thing-name", "gw-2")
    kit.component("com.test.Narrow", script=(
        "from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2\n"
        "from awsiot.greengrasscoreipc.model import QOS, UnauthorizedError\n"
        "ipc = GreengrassCoreIPCClientV2()\n"
        "ipc.publish_to_iot_core(topic_name='up/gw-2/ok', qos=QOS.AT_LEAST_ONCE, payload=b'1')\n"
        "try:\n"
        "    ipc.publish_to_iot_core(topic_name='up/other-thing/x', qos=QOS.AT_LEAST_ONCE, payload=b'1')\n"
        "    open('result', 'w').write('allowed')\n"
        "except UnauthorizedError as e:\n"
        "    open('result', 'w').write('refused')\n"),
        config={"accessControl": {"aws.greengrass.ipc.mqttproxy": {"p": {
            "operations": ["aws.greengrass#PublishToIoTCore"], "resources": ["up/{iot:thingName}/+"]}}}})
    core.deploy(kit, {"com.test.Narrow": "1.0.0"})
    core.wait_state("com.test.Narrow", "FINISHED")
    assert (core.paths.work_dir("com.test.Narrow") / "result").read_text() == "refused"


def test_client_devices_through_an_external_mosquitto(core_factory, kit: ComponentKit, mosquitto) -> None:
    """`--mqtt-url` puts the bridge on a broker the site already runs instead of the embedded one."""
    core = core_factory("--mqtt-url", mosquitto.url)
    assert core.mqtt_url == mosquitto.url
    kit.component("com.test.Listener", script=(HERE / "echo.py").read_text(), config={
        "in": "plant/+/telemetry", "out": "plant/ack",
        "accessControl": {"aws.greengrass.ipc.pubsub": {"l": {"operations": ["*"],
                                                              "resources": ["plant/+/telemetry", "plant/ack"]}}}})
    core.deploy(kit, {"com.test.Listener": "1.0.0"}, update_config={
        "aws.greengrass.clientdevices.mqtt.Bridge": {"MERGE": {"mqttTopicMapping": {
            "in": {"topic": "plant/+/telemetry", "source": "LocalMqtt", "target": "Pubsub"},
            "out": {"topic": "plant/ack", "source": "Pubsub", "target": "LocalMqtt"}}}}})
    wait_for(lambda: (core.paths.work_dir("com.test.Listener") / "ready").exists(), what="listener ready")
    wait_for(lambda: "in, out" in core.core_log() or "out, in" in core.core_log(), what="bridge mapping applied")
    device = Device(mosquitto.url, "plc-1")
    try:
        device.subscribe("plant/ack")
        device.publish("plant/p1/telemetry", {"flow": 300.0})
        topic, payload = device.next()
        assert topic == "plant/ack"
        assert json.loads(payload)["echo"] == {"flow": 300.0}
    finally:
        device.close()
