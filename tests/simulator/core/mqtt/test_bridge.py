"""The MQTT bridge between a real embedded broker (client devices), the local pub/sub bus and a second
broker process standing in for IoT Core (through the IoT Core link)."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import paho.mqtt.client as paho
import pytest

from edgeloop.simulator.core.errors import BridgeConfigError
from edgeloop.simulator.core.mqtt.bridge import Bridge
from edgeloop.simulator.core.mqtt.broker import EmbeddedBroker
from edgeloop.simulator.core.mqtt.iotcore import IotCoreLink
from edgeloop.simulator.core.pubsub import Message, PubSubBus

pytestmark = pytest.mark.timeout(60)


class Device:
    """A paho MQTT client: a client device on the local broker, or a cloud application on the cloud one."""

    def __init__(self, port: int, client_id: str, *subscriptions: str) -> None:
        self.got: list[tuple[str, bytes]] = []
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311)
        self.client.max_inflight_messages_set(200)
        self.client.on_message = lambda _c, _u, m: self.got.append((m.topic, m.payload))
        acked = threading.Semaphore(0)
        self.client.on_subscribe = lambda *_a: acked.release()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        for flt in subscriptions:
            self.client.subscribe(flt, 1)
            assert acked.acquire(timeout=5)

    def publish(self, topic: str, payload: bytes, qos: int = 1) -> None:
        self.client.publish(topic, payload, qos=qos).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def wait_len(items: list, n: int, timeout: float = 10) -> list:
    deadline = time.monotonic() + timeout
    while len(items) < n and time.monotonic() < deadline:
        time.sleep(0.02)
    return items


def settle(seconds: float = 0.7) -> None:
    """Give a message that should not come (a loop, a removed route) the time to show up."""
    time.sleep(seconds)


@pytest.fixture
def local(tmp_path):
    with EmbeddedBroker(log_file=tmp_path / "local.log") as broker:
        yield broker


@pytest.fixture
def cloud(tmp_path):
    with EmbeddedBroker(log_file=tmp_path / "cloud.log") as broker:
        yield broker


@pytest.fixture
def link(cloud, tmp_path):
    link = IotCoreLink.for_broker(cloud.url, "gateway-1", tmp_path / "spool.sqlite", min_backoff=1, max_backoff=1)
    link.start()
    assert link.wait_connected(10)
    yield link
    link.stop()


@pytest.fixture
def bus():
    return PubSubBus()


@pytest.fixture
def make_bridge(bus, link, local):
    bridges = []

    def make(mapping: dict) -> Bridge:
        bridge = Bridge(bus, link, local.url, client_id=f"bridge-{len(bridges)}")
        bridge.apply(mapping)
        bridge.start()
        bridges.append(bridge)
        assert bridge.wait_ready(10)
        return bridge
    yield make
    for b in bridges:
        b.stop()


def bus_inbox(bus: PubSubBus, topic_filter: str, name: str = "com.example.Consumer") -> list[Message]:
    got: list[Message] = []
    bus.subscribe(topic_filter, got.append, subscriber=name)
    return got


def test_client_device_to_pubsub_as_binary(make_bridge, bus, local):
    make_bridge({"toBus": {"topic": "dt/sensor/+", "source": "LocalMqtt", "target": "Pubsub"}})
    got = bus_inbox(bus, "dt/sensor/#")
    device = Device(local.port, "wearable-1")
    body = json.dumps({"device_id": "wearable-1", "bpm": 61}).encode()
    device.publish("dt/sensor/wearable-1", body)
    wait_len(got, 1)
    device.close()
    assert [(m.topic, m.binary, m.json, m.source) for m in got] == [("dt/sensor/wearable-1", body, None, "bridge")]


def test_pubsub_to_client_devices_binary_as_is_and_json_serialised(make_bridge, bus, local):
    make_bridge({"toDevices": {"topic": "cmd/#", "source": "Pubsub", "target": "LocalMqtt"}})
    device = Device(local.port, "plc-1", "cmd/#")
    bus.publish(Message("cmd/plc-1/raw", binary=b"\x00\x01\xff", source="com.example.Twin"))
    bus.publish(Message("cmd/plc-1/setpoint", json={"pressure": 69.5, "units": ["psi"]}, source="com.example.Twin"))
    wait_len(device.got, 2)
    device.close()
    assert device.got == [("cmd/plc-1/raw", b"\x00\x01\xff"),
                          ("cmd/plc-1/setpoint", b'{"pressure":69.5,"units":["psi"]}')]


def test_client_device_to_iot_core(make_bridge, local, cloud, link):
    make_bridge({"toCloud": {"topic": "dt/#", "source": "LocalMqtt", "target": "IotCore"}})
    cloud_app = Device(cloud.port, "cloud-app", "dt/#")
    device = Device(local.port, "plc-2")
    for i in range(20):
        device.publish("dt/plant/c1", f"{i}".encode(), qos=i % 2)
    wait_len(cloud_app.got, 20)
    device.close()
    cloud_app.close()
    assert cloud_app.got == [("dt/plant/c1", f"{i}".encode()) for i in range(20)]


def test_iot_core_to_pubsub(make_bridge, bus, cloud):
    make_bridge({"fromCloud": {"topic": "cmd/gateway-1/#", "source": "IotCore", "target": "Pubsub"}})
    got = bus_inbox(bus, "#")
    cloud_app = Device(cloud.port, "cloud-app")
    cloud_app.publish("cmd/gateway-1/model", b'{"version": "1.0.7"}')
    cloud_app.publish("cmd/other-gateway/model", b"not for us")
    wait_len(got, 1)
    settle(0.3)
    cloud_app.close()
    assert [(m.topic, m.binary) for m in got] == [("cmd/gateway-1/model", b'{"version": "1.0.7"}')]


def test_target_topic_prefix_and_wildcards(make_bridge, bus, local):
    bridge = make_bridge({
        "temps": {"topic": "dt/+/temp", "source": "LocalMqtt", "target": "Pubsub", "targetTopicPrefix": "site1/"},
        "all": {"topic": "alarm/#", "source": "LocalMqtt", "target": "Pubsub"},
    })
    got = bus_inbox(bus, "#")
    device = Device(local.port, "dev")
    for topic in ("dt/c1/temp", "dt/c1/hum", "dt/c1/x/temp", "alarm", "alarm/c2/overheat"):
        device.publish(topic, topic.encode())
    wait_len(got, 3)
    settle(0.3)
    device.close()
    assert [m.topic for m in got] == ["site1/dt/c1/temp", "alarm", "alarm/c2/overheat"]
    assert bridge.counters()["sentPubsub"] == 3


def test_no_loops_with_routes_in_every_direction(make_bridge, bus, local, cloud):
    brokers = ("LocalMqtt", "Pubsub", "IotCore")
    make_bridge({f"{s}-{t}": {"topic": "loop/#", "source": s, "target": t}
                 for s in brokers for t in brokers if s != t})
    on_bus = bus_inbox(bus, "loop/#")
    device = Device(local.port, "dev", "loop/#")
    cloud_app = Device(cloud.port, "cloud-app", "loop/#")

    device.publish("loop/from-device", b"d")
    bus.publish(Message("loop/from-component", json={"c": 1}, source="com.example.C"))
    cloud_app.publish("loop/from-cloud", b"c")
    settle(1.5)
    device.close()
    cloud_app.close()
    expected = {"loop/from-device", "loop/from-component", "loop/from-cloud"}
    # Every message reaches every side exactly once: nothing is bridged back where it came from.
    assert sorted(t for t, _ in device.got) == sorted(expected)
    assert sorted(t for t, _ in cloud_app.got) == sorted(expected)
    assert sorted(m.topic for m in on_bus) == sorted(expected)


def test_reapply_replaces_routes_live(make_bridge, bus, local):
    bridge = make_bridge({"a": {"topic": "a/#", "source": "LocalMqtt", "target": "Pubsub"}})
    got = bus_inbox(bus, "#")
    device = Device(local.port, "dev")
    device.publish("a/1", b"1")
    wait_len(got, 1)
    bridge.apply({"b": {"topic": "b/#", "source": "LocalMqtt", "target": "Pubsub", "targetTopicPrefix": "new/"}})
    assert bridge.wait_ready(10)
    device.publish("a/2", b"2")
    device.publish("b/1", b"3")
    wait_len(got, 2)
    settle(0.3)
    device.close()
    assert [m.topic for m in got] == ["a/1", "new/b/1"]


@pytest.mark.parametrize("mapping, message", [
    ({"m1": {"topic": "a/#", "source": "Local", "target": "Pubsub"}},
     "mqttTopicMapping.m1.source: must be one of LocalMqtt, Pubsub, IotCore, got 'Local'"),
    ({"m2": {"source": "LocalMqtt", "target": "Pubsub"}}, "mqttTopicMapping.m2.topic: required"),
    ({"m3": {"topic": "a/#/b", "source": "LocalMqtt", "target": "Pubsub"}}, "mqttTopicMapping.m3.topic: '#' must"),
    ({"m4": {"topic": "a", "source": "LocalMqtt", "target": "Pubsub", "targetTopicPrefix": "x/+/"}},
     "mqttTopicMapping.m4.targetTopicPrefix: wildcards"),
    ({"m5": {"topic": "a", "source": "Pubsub", "target": "Pubsub"}}, "mqttTopicMapping.m5: source and target"),
    ({"m6": {"topic": "a", "source": "Pubsub", "target": "IotCore", "targetTopicprefix": "x"}},
     "mqttTopicMapping.m6.targetTopicprefix: unknown field"),
    ({"m7": "a/#"}, "mqttTopicMapping.m7 must be an object"),
])
def test_bad_mapping_is_a_clear_error_and_keeps_the_old_routes(make_bridge, bus, local, mapping, message):
    bridge = make_bridge({"ok": {"topic": "ok/#", "source": "LocalMqtt", "target": "Pubsub"}})
    with pytest.raises(BridgeConfigError) as err:
        bridge.apply(mapping)
    assert message in str(err.value)
    got = bus_inbox(bus, "#")
    device = Device(local.port, "dev")
    device.publish("ok/still", b"1")
    wait_len(got, 1)
    device.close()
    assert [m.topic for m in got] == ["ok/still"]


def test_throughput_client_device_to_bus_on_an_event_loop(bus, link, local):
    """The core's arrangement: the bus lives on an asyncio loop; the bridge hands over with call_soon_threadsafe."""
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()
    got: list[Message] = []
    owner_threads: set[int] = set()

    def consume(m: Message) -> None:
        owner_threads.add(threading.get_ident())
        got.append(m)
    bus.subscribe("dt/#", consume, subscriber="com.example.Consumer")
    bridge = Bridge(bus, link, local.url, call_soon=loop.call_soon_threadsafe)
    bridge.apply({"in": {"topic": "dt/#", "source": "LocalMqtt", "target": "Pubsub"}})
    bridge.start()
    try:
        assert bridge.wait_ready(10)
        n = 5000
        device = Device(local.port, "fast-device")
        start = time.monotonic()
        infos = [device.client.publish(f"dt/sensor/{i % 10}", b"x" * 100, qos=0) for i in range(n)]
        for info in infos:
            info.wait_for_publish(20)
        wait_len(got, n, timeout=40)
        elapsed = time.monotonic() - start
        device.close()
        assert len(got) == n
        assert owner_threads == {runner.ident}
        print(f"client device -> bus through the bridge: {n} messages in {elapsed:.2f} s ({n / elapsed:.0f} msg/s)")
    finally:
        bridge.stop()
        loop.call_soon_threadsafe(loop.stop)
        runner.join(5)
        loop.close()
