"""The bridge and the IoT Core link against an external Mosquitto broker given by URL."""

from __future__ import annotations

import threading
import time

import paho.mqtt.client as paho
import pytest
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edgeloop.simulator.core.ipc.core_api import IotMessage
from edgeloop.simulator.core.mqtt.bridge import Bridge
from edgeloop.simulator.core.mqtt.iotcore import IotCoreLink
from edgeloop.simulator.core.pubsub import Message, PubSubBus

pytestmark = pytest.mark.timeout(60)


def client(port: int, client_id: str, *subscriptions: str, mqtt5: bool = False) -> tuple[paho.Client, list]:
    got: list[paho.MQTTMessage] = []
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id,
                    protocol=paho.MQTTv5 if mqtt5 else paho.MQTTv311)
    c.on_message = lambda _c, _u, m: got.append(m)
    acked = threading.Semaphore(0)
    c.on_subscribe = lambda *_a: acked.release()
    c.connect("127.0.0.1", port)
    c.loop_start()
    for flt in subscriptions:
        c.subscribe(flt, 1)
        assert acked.acquire(timeout=5)
    return c, got


def wait_len(items: list, n: int, timeout: float = 10) -> list:
    deadline = time.monotonic() + timeout
    while len(items) < n and time.monotonic() < deadline:
        time.sleep(0.02)
    return items


def test_bridge_with_an_external_broker_both_ways_without_loops(mosquitto, tmp_path):
    bus = PubSubBus()
    on_bus: list[Message] = []
    bus.subscribe("#", on_bus.append, subscriber="com.example.Consumer")
    link = IotCoreLink.disabled(tmp_path / "spool.sqlite")
    bridge = Bridge(bus, link, mosquitto.url)
    bridge.apply({"in": {"topic": "dt/#", "source": "LocalMqtt", "target": "Pubsub"},
                  "nested": {"topic": "dt/a/b", "source": "LocalMqtt", "target": "Pubsub",
                             "targetTopicPrefix": "copy/"},
                  "out": {"topic": "dt/#", "source": "Pubsub", "target": "LocalMqtt"}})
    bridge.start()
    try:
        assert bridge.wait_ready(10)
        device, got = client(mosquitto.port, "device", "dt/#")
        n = 500
        for i in range(n):
            device.publish("dt/a/b", f"{i}".encode(), qos=1)
        bus.publish(Message("dt/from-component", json={"ok": True}, source="com.example.C"))
        wait_len(on_bus, 2 * n + 1)
        wait_len(got, n + 1)
        time.sleep(0.7)
        device.disconnect()
        device.loop_stop()
        # Overlapping `dt/#` and `dt/a/b` are one broker subscription: each message is bridged once per route.
        assert [m.binary for m in on_bus if m.topic == "dt/a/b"] == [f"{i}".encode() for i in range(n)]
        assert [m.binary for m in on_bus if m.topic == "copy/dt/a/b"] == [f"{i}".encode() for i in range(n)]
        assert len(on_bus) == 2 * n + 1  # the component's own message is not bridged back onto the bus
        assert [(m.topic, m.payload) for m in got if m.topic == "dt/from-component"] == \
            [("dt/from-component", b'{"ok":true}')]
        assert len(got) == n + 1  # the device's messages are not bridged back to the broker
    finally:
        bridge.stop()
        link.stop()


def test_link_over_mqtt5_carries_message_properties(mosquitto, tmp_path):
    cloud_app, got = client(mosquitto.port, "cloud-app", "dt/#", mqtt5=True)
    link = IotCoreLink.for_broker(f"mqtt5://127.0.0.1:{mosquitto.port}", "thing-5", tmp_path / "spool.sqlite")
    inbox: list[IotMessage] = []
    link.subscribe("cmd/#", 1, inbox.append, subscriber="c")
    link.start()
    try:
        assert link.wait_ready(10)
        link.publish(IotMessage(topic="dt/thing-5", payload=b'{"a":1}', qos=1,
                                user_properties=[("model", "1.0.3")], content_type="application/json",
                                correlation_data=b"\x01\x02", response_topic="cmd/thing-5/reply",
                                payload_format="UTF8", message_expiry_interval_seconds=60))
        wait_len(got, 1)
        props = got[0].properties
        assert got[0].payload == b'{"a":1}'
        assert props.UserProperty == [("model", "1.0.3")] and props.ContentType == "application/json"
        assert props.CorrelationData == b"\x01\x02" and props.ResponseTopic == "cmd/thing-5/reply"
        assert props.PayloadFormatIndicator == 1
        reply = Properties(PacketTypes.PUBLISH)
        reply.UserProperty = [("k", "v")]
        cloud_app.publish("cmd/thing-5/reply", b"done", qos=1, properties=reply)
        wait_len(inbox, 1)
        assert (inbox[0].topic, inbox[0].payload, inbox[0].user_properties) == \
            ("cmd/thing-5/reply", b"done", [("k", "v")])
    finally:
        link.stop()
        cloud_app.disconnect()
        cloud_app.loop_stop()
