"""The IoT Core link against a real broker standing in for IoT Core: direct sends, the durable spool,
reconnects, re-subscription, spool limits, and the AWS transport's configuration errors."""

from __future__ import annotations

import socket
import threading
import time

import paho.mqtt.client as paho
import pytest

from edgeloop.simulator.core.errors import CoreError, InvalidArguments
from edgeloop.simulator.core.ipc.core_api import IotMessage
from edgeloop.simulator.core.mqtt.broker import EmbeddedBroker
from edgeloop.simulator.core.mqtt.iotcore import IotCoreLink

pytestmark = pytest.mark.timeout(60)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Observer:
    """A paho client on the cloud broker, as a cloud application would be."""

    def __init__(self, port: int, topic_filter: str) -> None:
        self.got: list[tuple[str, bytes]] = []
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="cloud-app", protocol=paho.MQTTv311)
        self.client.on_message = lambda _c, _u, m: self.got.append((m.topic, m.payload))
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *_a: subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe(topic_filter, 1)
        assert subscribed.wait(5)

    def wait_for(self, n: int, timeout: float = 15) -> list[tuple[str, bytes]]:
        deadline = time.monotonic() + timeout
        while len(self.got) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.got

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class Collector:
    def __init__(self) -> None:
        self.got: list[IotMessage] = []
        self.threads: set[str] = set()

    def __call__(self, msg: IotMessage) -> None:
        self.threads.add(threading.current_thread().name)
        self.got.append(msg)

    def wait_for(self, n: int, timeout: float = 15) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while len(self.got) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return [m.payload for m in self.got]


@pytest.fixture
def cloud(tmp_path):
    broker = EmbeddedBroker(log_file=tmp_path / "cloud.log")
    broker.start()
    yield broker
    broker.stop()


def link_to(port: int, tmp_path, **kw) -> IotCoreLink:
    return IotCoreLink.for_broker(f"mqtt://127.0.0.1:{port}", "thing-1", tmp_path / "spool" / "iotcore.sqlite",
                                  min_backoff=1, max_backoff=1, **kw)


def test_connected_publish_reaches_a_cloud_subscriber_and_cloud_messages_reach_the_callback(cloud, tmp_path):
    observer = Observer(cloud.port, "dt/#")
    link = link_to(cloud.port, tmp_path)
    inbox = Collector()
    link.subscribe("cmd/thing-1/#", 1, inbox, subscriber="com.example.A")
    link.start()
    try:
        assert link.wait_ready(10) and link.state == "connected"
        for i in range(50):
            link.publish(IotMessage(topic="dt/thing-1", payload=f"{i}".encode(), qos=i % 2))
        assert [p for _t, p in observer.wait_for(50)] == [f"{i}".encode() for i in range(50)]
        observer.client.publish("cmd/thing-1/reboot", b"now", qos=1)
        assert inbox.wait_for(1) == [b"now"]
        assert inbox.got[0].topic == "cmd/thing-1/reboot"
        assert threading.main_thread().name not in inbox.threads  # callbacks run on the link's thread
        c = link.counters()
        assert (c["sent"], c["spooled"], c["received"], c["dropped"]) == (50, 0, 1, 0)
    finally:
        link.stop()
        observer.close()


def test_publishes_while_the_cloud_is_down_are_sent_in_order_once_it_is_up(tmp_path):
    port = free_port()
    link = link_to(port, tmp_path)
    # The link's own subscription observes the cloud: it is re-established on connect, before the
    # spool drains, on the same connection, so it sees every spooled message.
    echo = Collector()
    link.subscribe("dt/#", 1, echo, subscriber="observer")
    link.start()
    broker = None
    try:
        for i in range(300):
            link.publish(IotMessage(topic=f"dt/{i % 3}", payload=f"{i}".encode(), qos=1))
        assert link.counters()["spooled"] == 300 and not link.connected
        broker = EmbeddedBroker("127.0.0.1", port, tmp_path / "cloud.log")
        broker.start()
        assert link.wait_drained(20)
        assert echo.wait_for(300) == [f"{i}".encode() for i in range(300)]
        assert link.counters()["sent"] == 300 and link.counters()["spoolMessages"] == 0
    finally:
        link.stop()
        if broker:
            broker.stop()


def test_spool_survives_a_restart_of_the_link(tmp_path):
    port = free_port()
    first = link_to(port, tmp_path)
    first.start()
    for i in range(20):
        first.publish(IotMessage(topic="dt/restart", payload=f"{i}".encode(), qos=i % 2))
    first.stop()  # the core goes down with 20 messages spooled

    with EmbeddedBroker("127.0.0.1", port, tmp_path / "cloud.log"):
        observer = Observer(port, "dt/#")
        second = link_to(port, tmp_path)
        assert second.counters()["spoolMessages"] == 20
        second.start()
        try:
            assert [p for _t, p in observer.wait_for(20)] == [f"{i}".encode() for i in range(20)]
            assert second.wait_drained(5)
        finally:
            second.stop()
            observer.close()


def test_reconnects_and_resubscribes_after_the_cloud_restarts(tmp_path):
    port = free_port()
    broker = EmbeddedBroker("127.0.0.1", port, tmp_path / "cloud.log")
    broker.start()
    link = link_to(port, tmp_path)
    inbox = Collector()
    link.subscribe("cmd/#", 1, inbox, subscriber="c")
    link.start()
    try:
        assert link.wait_ready(10)
        broker.stop()
        deadline = time.monotonic() + 10
        while link.connected and time.monotonic() < deadline:
            time.sleep(0.02)
        assert link.state == "disconnected"
        link.publish(IotMessage(topic="dt/while-down", payload=b"kept", qos=1))
        broker.start()
        observer = Observer(port, "dt/#")
        assert link.wait_ready(15)
        observer.client.publish("cmd/after", b"again", qos=1)
        assert inbox.wait_for(1) == [b"again"]
        observer.close()
    finally:
        link.stop()
        broker.stop()


def test_full_spool_drops_oldest_qos0_and_refuses_qos1(tmp_path):
    port = free_port()
    # Each message costs topic + payload + properties bytes (about 200 here); room for about 10.
    link = link_to(port, tmp_path, max_spool_bytes=2000)
    echo = Collector()
    link.subscribe("dt/#", 1, echo, subscriber="observer")
    link.start()
    try:
        for i in range(30):
            link.publish(IotMessage(topic="dt/q0", payload=b"%03d" % i + b"." * 60, qos=0))
        kept = link.counters()["spoolMessages"]
        assert 0 < kept < 30 and link.counters()["dropped"] == 30 - kept
        with pytest.raises(CoreError) as err:
            for i in range(30):
                link.publish(IotMessage(topic="dt/q1", payload=b"%03d" % i + b"." * 60, qos=1))
        assert "spool" in err.value.message and "full" in err.value.message and "dt/q1" in err.value.message
        in_spool = link.counters()["spoolMessages"]
        with EmbeddedBroker("127.0.0.1", port, tmp_path / "cloud.log"):
            got = echo.wait_for(in_spool)
            assert link.wait_drained(10)
        q0 = [p[:3] for m, p in zip(echo.got, got, strict=False) if m.topic == "dt/q0"]
        q1 = [p[:3] for m, p in zip(echo.got, got, strict=False) if m.topic == "dt/q1"]
        # QoS 1 messages evicted the oldest QoS 0 ones; what survived is the newest, in order.
        assert q0 == [b"%03d" % i for i in range(30 - len(q0), 30)]
        assert q1 and q1 == [b"%03d" % i for i in range(len(q1))]
    finally:
        link.stop()


def test_disabled_link_spools_and_accepts_subscriptions(tmp_path):
    spool = tmp_path / "spool.sqlite"
    link = IotCoreLink.disabled(spool)
    link.start()
    unsubscribe = link.subscribe("cmd/#", 1, lambda m: None, subscriber="c")
    link.publish(IotMessage(topic="dt/x", payload=b"1", qos=1))
    assert link.state == "disabled" and link.counters()["spooled"] == 1 and not link.connected
    unsubscribe()
    link.stop()
    port = free_port()
    with EmbeddedBroker("127.0.0.1", port, tmp_path / "cloud.log"):
        observer = Observer(port, "dt/#")
        configured = IotCoreLink.for_broker(f"mqtt://127.0.0.1:{port}", "thing-1", spool)
        configured.start()
        try:
            assert observer.wait_for(1) == [("dt/x", b"1")]  # nothing lost until a cloud was configured
        finally:
            configured.stop()
            observer.close()


def test_bad_arguments_are_clear_errors(tmp_path):
    link = IotCoreLink.disabled(tmp_path / "s.sqlite")
    with pytest.raises(InvalidArguments, match="wildcards"):
        link.publish(IotMessage(topic="dt/#", payload=b""))
    with pytest.raises(InvalidArguments, match="QoS"):
        link.publish(IotMessage(topic="dt/a", payload=b"", qos=2))
    with pytest.raises(InvalidArguments, match="'#' must be"):
        link.subscribe("a/#/b", 0, lambda m: None, subscriber="x")
    with pytest.raises(ValueError, match="scheme"):
        IotCoreLink.for_broker("tcp://127.0.0.1:1", "t", tmp_path / "t.sqlite")
    link.stop()


def test_aws_iot_configuration_errors_name_the_file(tmp_path):
    cert, key, ca = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "AmazonRootCA1.pem"
    for path in (cert, key, ca):
        path.write_text("-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n")
    spool = tmp_path / "s.sqlite"
    endpoint = "abc123-ats.iot.eu-west-1.amazonaws.com"
    with pytest.raises(CoreError, match=r"certificate file .*missing-cert\.pem does not exist"):
        IotCoreLink.for_aws_iot(endpoint, tmp_path / "missing-cert.pem", key, ca, "thing-1", spool)
    with pytest.raises(CoreError, match=r"private key file .*nokey\.pem does not exist"):
        IotCoreLink.for_aws_iot(endpoint, cert, tmp_path / "nokey.pem", ca, "thing-1", spool)
    with pytest.raises(CoreError, match=r"root CA file .*noca\.pem does not exist"):
        IotCoreLink.for_aws_iot(endpoint, cert, key, tmp_path / "noca.pem", "thing-1", spool)
    with pytest.raises(CoreError, match="endpoint is empty"):
        IotCoreLink.for_aws_iot("", cert, key, ca, "thing-1", spool)
    with pytest.raises(CoreError, match=r"cannot load the TLS material \(certificate .*cert\.pem"):
        IotCoreLink.for_aws_iot(endpoint, cert, key, ca, "thing-1", spool)
