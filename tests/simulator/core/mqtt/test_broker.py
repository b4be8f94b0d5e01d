"""The embedded broker process: start/stop, port 0, a taken port, the CLI contract, bursts without loss."""

from __future__ import annotations

import os
import queue
import signal
import socket
import subprocess
import sys
import time

import paho.mqtt.client as paho
import pytest

from edgeloop.simulator.core.errors import BrokerStartError
from edgeloop.simulator.core.mqtt.broker import EmbeddedBroker, wait_port_file

pytestmark = pytest.mark.timeout(60)


def _client(port: int, client_id: str) -> paho.Client:
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv311)
    c.max_inflight_messages_set(100)
    c.connect("127.0.0.1", port)
    c.loop_start()
    return c


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_port_0_starts_accepts_a_client_and_stops(tmp_path):
    broker = EmbeddedBroker("127.0.0.1", 0, tmp_path / "broker.log")
    url = broker.start()
    try:
        assert url == f"mqtt://127.0.0.1:{broker.port}" and broker.port > 0
        got: queue.Queue = queue.Queue()
        c = _client(broker.port, "dev1")
        c.on_message = lambda _c, _u, m: got.put((m.topic, m.payload))
        c.subscribe("hello/#", 1)
        time.sleep(0.3)
        c.publish("hello/world", b"hi", qos=1).wait_for_publish(5)
        assert got.get(timeout=5) == ("hello/world", b"hi")
        c.disconnect()
        c.loop_stop()
    finally:
        pid, port = broker.pid, broker.port
        broker.stop()
    assert not broker.running()
    assert _refused(port), "the broker's port still accepts connections after stop()"
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_taken_port_is_a_clear_error(tmp_path):
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        broker = EmbeddedBroker("127.0.0.1", port, tmp_path / "broker.log")
        with pytest.raises(BrokerStartError) as err:
            broker.start()
        assert str(port) in str(err.value) and "address already in use" in str(err.value)
        assert not broker.running()
    finally:
        holder.close()


def test_cli_writes_port_file_and_exits_cleanly_on_sigterm(tmp_path):
    port_file = tmp_path / "port"
    proc = subprocess.Popen([sys.executable, "-m", "edgeloop.simulator.core.mqtt.broker", "--host", "127.0.0.1",
                             "--port", "0", "--port-file", str(port_file)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        port = wait_port_file(port_file, timeout=20)
        assert proc.stdout.readline().strip() == f"LISTENING 127.0.0.1:{port}"
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, errs = proc.communicate(timeout=15)
    assert proc.returncode == 0, errs


@pytest.mark.parametrize("qos", [0, 1])
def test_burst_through_one_publisher_and_one_subscriber_loses_nothing(tmp_path, qos):
    n = 3000
    with EmbeddedBroker(log_file=tmp_path / "broker.log") as broker:
        got: list[bytes] = []
        sub = _client(broker.port, "subscriber")
        sub.on_message = lambda _c, _u, m: got.append(m.payload)
        _rc, mid = sub.subscribe("burst/#", qos)
        time.sleep(0.3)
        pub = _client(broker.port, "publisher")
        start = time.monotonic()
        infos = [pub.publish("burst/x", str(i).encode(), qos=qos) for i in range(n)]
        for info in infos:
            info.wait_for_publish(20)
        deadline = time.monotonic() + 30
        while len(got) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        elapsed = time.monotonic() - start
        for c in (pub, sub):
            c.disconnect()
            c.loop_stop()
    assert [int(p) for p in got] == list(range(n)), f"received {len(got)} of {n}"
    print(f"QoS {qos}: {n} messages through the embedded broker in {elapsed:.2f} s ({n / elapsed:.0f} msg/s)")
