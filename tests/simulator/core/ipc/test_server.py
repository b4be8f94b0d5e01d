"""The IPC server against the unmodified awsiotsdk GreengrassCoreIPCClientV2: components as real
processes (python -c) or in-process clients, the real bus and configuration store."""

from __future__ import annotations

import base64
import datetime as dt
import json
import queue
import socket
import struct
import subprocess
import threading
import time
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
from awsiot.eventstreamrpc import AccessDeniedError
from awsiot.greengrasscoreipc import model
from awsiot.greengrasscoreipc.model import JsonMessage, PublishMessage

from edgeloop.simulator.core.ipc import wire
from edgeloop.simulator.core.ipc.core_api import UpdateEvent
from edgeloop.simulator.core.ipc.services import OPERATIONS
from edgeloop.simulator.core.ipc.services.base import Operation
from edgeloop.simulator.core.ipc.wire import HeaderType, MessageType
from tests.kits.ipc_harness import CoreHarness, pubsub_policy

SUBSCRIBER = r"""
import base64, json, sys, threading
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import JsonMessage, PublishMessage
args = json.loads(sys.argv[1])
client = GreengrassCoreIPCClientV2()
lock = threading.Lock()
def on_event(event):
    if event.json_message is not None:
        out = {"topic": event.json_message.context.topic, "json": event.json_message.message}
    else:
        out = {"topic": event.binary_message.context.topic,
               "binary": base64.b64encode(event.binary_message.message).decode()}
    with lock:
        print(json.dumps(out), flush=True)
for topic in args["topics"]:
    client.subscribe_to_topic(topic=topic, receive_mode=args.get("mode"), on_stream_event=on_event)
print("READY", flush=True)
for line in sys.stdin:  # the test drives own publishes through stdin
    topic, text = line.strip().split(" ", 1)
    client.publish_to_topic(topic=topic, publish_message=PublishMessage(json_message=JsonMessage(message=text)))
client.close()
"""

PUBLISHER = r"""
import base64, json, sys
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import BinaryMessage, JsonMessage, PublishMessage
client = GreengrassCoreIPCClientV2()
for m in json.loads(sys.argv[1]):
    try:
        if "json" in m:
            message = PublishMessage(json_message=JsonMessage(message=m["json"]))
        else:
            message = PublishMessage(binary_message=BinaryMessage(message=base64.b64decode(m["binary"])))
        client.publish_to_topic(topic=m["topic"], publish_message=message)
        print(json.dumps({"ok": m["topic"]}), flush=True)
    except Exception as exc:
        print(json.dumps({"error": type(exc).__name__, "message": getattr(exc, "message", str(exc))}), flush=True)
client.close()
"""


@pytest.fixture
def core() -> Iterator[CoreHarness]:
    harness = CoreHarness()
    yield harness
    harness.close()


class Lines:
    """Non-blocking line reader for a component process's stdout."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            self.queue.put(line.rstrip("\n"))

    def next(self, timeout: float = 10) -> str:
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            self.proc.kill()
            raise AssertionError(f"component printed nothing in {timeout}s; stderr: {self.proc.stderr.read()}") from None

    def take(self, n: int, timeout: float = 10) -> list[Any]:
        return [json.loads(self.next(timeout)) for _ in range(n)]

    def nothing_within(self, seconds: float) -> bool:
        try:
            line = self.queue.get(timeout=seconds)
        except queue.Empty:
            return True
        raise AssertionError(f"unexpected output: {line}")


def start_subscriber(core: CoreHarness, token: str, topics: list[str], mode: str | None = None) -> Lines:
    lines = Lines(core.spawn(token, SUBSCRIBER, json.dumps({"topics": topics, "mode": mode})))
    assert lines.next() == "READY"
    return lines


def run_publisher(core: CoreHarness, token: str, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    proc = core.spawn(token, PUBLISHER, json.dumps(messages))
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    return [json.loads(line) for line in out.splitlines()]


def stop(lines: Lines) -> None:
    lines.proc.stdin.close()  # type: ignore[union-attr]
    lines.proc.wait(10)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def json_msg(value: Any) -> PublishMessage:
    return PublishMessage(json_message=JsonMessage(message=value))


# -- raw-socket helpers (for what a well-behaved client never sends) --------------------------

def control_frame(message_type: int, flags: int = 0, stream_id: int = 0, extra: list[Any] | None = None,
                  payload: bytes = b"") -> bytes:
    headers = [(wire.MESSAGE_TYPE, HeaderType.INT32, message_type), (wire.MESSAGE_FLAGS, HeaderType.INT32, flags),
               (wire.STREAM_ID, HeaderType.INT32, stream_id)] + (extra or [])
    return wire.encode_message(headers, payload)


def raw_connect(core: CoreHarness, token: str | None) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(5)
    sock.connect(str(core.socket))
    if token is not None:
        sock.sendall(control_frame(MessageType.CONNECT, extra=[(wire.VERSION, HeaderType.STRING, "0.1.0")],
                                   payload=json.dumps({"authToken": token}).encode()))
        [ack] = read_frames(sock, 1)
        assert ack.header_map()[wire.MESSAGE_TYPE] == MessageType.CONNECT_ACK
        assert ack.header_map()[wire.MESSAGE_FLAGS] == 1
    return sock


def read_frames(sock: socket.socket, count: int | None = None) -> list[wire.EventStreamMessage]:
    """`count` frames, or every frame until the server closes the socket (count None)."""
    decoder, frames = wire.Decoder(), []
    while count is None or len(frames) < count:
        data = sock.recv(65536)
        if not data:
            break
        frames.extend(decoder.feed(data))
    return frames


# -- connecting ---------------------------------------------------------------------------------

def test_unknown_token_is_refused_and_known_token_accepted(core: CoreHarness) -> None:
    token = core.add_component("com.example.A")
    with pytest.raises(AccessDeniedError):
        core.client("not-a-registered-token")
    assert core.client(token).get_configuration(key_path=[]).component_name == "com.example.A"


def test_revoked_token_can_no_longer_connect_and_its_connection_ends(core: CoreHarness) -> None:
    token = core.add_component("com.example.A")
    sock = raw_connect(core, token)
    core.call(lambda: core.server.revoke_token(token))
    assert read_frames(sock) == []  # closed by the server
    with pytest.raises(AccessDeniedError):
        core.client(token)


def test_refused_connection_is_closed_by_the_core_if_the_client_lingers(core: CoreHarness) -> None:
    sock = raw_connect(core, None)
    sock.settimeout(10)
    sock.sendall(control_frame(MessageType.CONNECT, extra=[(wire.VERSION, HeaderType.STRING, "0.1.0")],
                               payload=b'{"authToken": "guess"}'))
    started = time.monotonic()
    frames = read_frames(sock)  # the ack, then end of stream
    assert [(f.header_map()[wire.MESSAGE_TYPE], f.header_map()[wire.MESSAGE_FLAGS]) for f in frames] == \
        [(MessageType.CONNECT_ACK, 0)]
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("case", ["call before CONNECT", "wrong protocol version", "stream without operation"])
def test_protocol_misuse_gets_a_protocol_error(core: CoreHarness, case: str) -> None:
    token = core.add_component("com.example.A")
    if case == "call before CONNECT":
        sock = raw_connect(core, None)
        sock.sendall(control_frame(MessageType.APPLICATION_MESSAGE, stream_id=1,
                                   extra=[(wire.OPERATION, HeaderType.STRING, "aws.greengrass#GetConfiguration")],
                                   payload=b'{"keyPath": []}'))
    elif case == "wrong protocol version":
        sock = raw_connect(core, None)
        sock.sendall(control_frame(MessageType.CONNECT, extra=[(wire.VERSION, HeaderType.STRING, "9.9.9")],
                                   payload=json.dumps({"authToken": token}).encode()))
    else:
        sock = raw_connect(core, token)
        sock.sendall(control_frame(MessageType.APPLICATION_MESSAGE, stream_id=1, payload=b"{}"))
    frames = read_frames(sock)
    assert [f.header_map()[wire.MESSAGE_TYPE] for f in frames] == [MessageType.PROTOCOL_ERROR]


def test_ping_is_answered(core: CoreHarness) -> None:
    sock = raw_connect(core, core.add_component("com.example.A"))
    sock.sendall(control_frame(MessageType.PING, payload=b"are you there"))
    [pong] = read_frames(sock, 1)
    assert pong.header_map()[wire.MESSAGE_TYPE] == MessageType.PING_RESPONSE
    assert pong.payload == b"are you there"


# -- local pub/sub between component processes --------------------------------------------------

def test_json_and_binary_messages_reach_wildcard_subscribers_in_another_process(core: CoreHarness) -> None:
    sub_token = core.add_component("com.example.Sub", pubsub_policy(subscribe=["plant/*"]))
    pub_token = core.add_component("com.example.Pub", pubsub_policy(publish=["plant/*"]))
    sub = start_subscriber(core, sub_token, ["plant/+/flow", "plant/c2/#"])
    results = run_publisher(core, pub_token, [
        {"topic": "plant/c1/flow", "json": {"cfm": 312.5, "unit": "cfm"}},
        {"topic": "plant/c2/power", "binary": base64.b64encode(b"\x00\x01\xfe\xff").decode()},
        {"topic": "plant/c3/power", "json": "matches neither filter"},
    ])
    assert results == [{"ok": "plant/c1/flow"}, {"ok": "plant/c2/power"}, {"ok": "plant/c3/power"}]
    got = sub.take(2)
    assert {"topic": "plant/c1/flow", "json": {"cfm": 312.5, "unit": "cfm"}} in got
    assert {"topic": "plant/c2/power", "binary": base64.b64encode(b"\x00\x01\xfe\xff").decode()} in got
    assert sub.nothing_within(0.3)
    stop(sub)


def test_receive_mode_from_others_skips_own_messages(core: CoreHarness) -> None:
    policy = pubsub_policy(publish=["chat"], subscribe=["chat"])
    own_token = core.add_component("com.example.Own", policy)
    all_token = core.add_component("com.example.All", policy)
    other_token = core.add_component("com.example.Other", policy)
    others_only = start_subscriber(core, own_token, ["chat"], mode="RECEIVE_MESSAGES_FROM_OTHERS")
    everything = start_subscriber(core, all_token, ["chat"], mode="RECEIVE_ALL_MESSAGES")
    others_only.proc.stdin.write("chat from-self\n")  # type: ignore[union-attr]
    others_only.proc.stdin.flush()  # type: ignore[union-attr]
    everything.proc.stdin.write("chat from-all\n")  # type: ignore[union-attr]
    everything.proc.stdin.flush()  # type: ignore[union-attr]
    assert run_publisher(core, other_token, [{"topic": "chat", "json": "from-other"}]) == [{"ok": "chat"}]
    assert sorted(m["json"] for m in everything.take(3)) == ["from-all", "from-other", "from-self"]
    assert sorted(m["json"] for m in others_only.take(2)) == ["from-all", "from-other"]
    assert others_only.nothing_within(0.3)
    stop(others_only)
    stop(everything)


def test_invalid_publish_requests_get_invalid_arguments_naming_the_field(core: CoreHarness) -> None:
    client = core.client(core.add_component("com.example.A", pubsub_policy(publish=["*"], subscribe=["*"])))
    with pytest.raises(model.InvalidArgumentsError) as err:
        client.publish_to_topic(topic="a/+/b", publish_message=json_msg(1))
    assert "topic" in err.value.message and "wildcards" in err.value.message
    with pytest.raises(model.InvalidArgumentsError) as err:
        client.publish_to_topic(topic="a/b", publish_message=PublishMessage())
    assert "publishMessage" in err.value.message
    with pytest.raises(model.InvalidArgumentsError) as err:
        client.subscribe_to_topic(topic="a/#/b", on_stream_event=lambda e: None)
    assert "'#'" in err.value.message
    with pytest.raises(model.InvalidArgumentsError) as err:
        client.subscribe_to_topic(topic="a", receive_mode="SOMETIMES", on_stream_event=lambda e: None)
    assert "receiveMode" in err.value.message
    assert core.call(core.core.bus.subscription_count) == 0


# -- streams end cleanly ------------------------------------------------------------------------

def test_closing_a_subscription_stream_ends_it_on_the_core(core: CoreHarness) -> None:
    client = core.client(core.add_component("com.example.A", pubsub_policy(publish=["*"], subscribe=["*"])))
    events: list[Any] = []
    _, operation = client.subscribe_to_topic(topic="t", on_stream_event=events.append)
    assert core.call(core.core.bus.subscription_count) == 1
    operation.close().result(5)
    deadline = time.monotonic() + 5
    while core.call(core.core.bus.subscription_count) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert core.call(core.core.bus.subscription_count) == 0
    assert core.call(core.server.stream_count) == 0
    client.publish_to_topic(topic="t", publish_message=json_msg("after close"))
    time.sleep(0.2)
    assert events == []


def test_component_process_killed_mid_subscription_is_cleaned_up(core: CoreHarness) -> None:
    token = core.add_component("com.example.Sub", pubsub_policy(subscribe=["*"]))
    sub = start_subscriber(core, token, ["a/#", "b", "c/+"])
    assert core.call(core.core.bus.subscription_count) == 3
    sub.proc.kill()
    sub.proc.wait(5)
    deadline = time.monotonic() + 5
    while core.call(core.core.bus.subscription_count) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert core.call(core.core.bus.subscription_count) == 0
    assert core.call(core.server.connection_count) == 0
    publisher = core.client(core.add_component("com.example.Pub", pubsub_policy(publish=["*"])))
    publisher.publish_to_topic(topic="a/x", publish_message=json_msg("nobody listens"))


# -- failures are typed and immediate -----------------------------------------------------------

def test_unknown_operation_fails_at_once_with_a_typed_error(core: CoreHarness) -> None:
    client = core.client(core.add_component("com.example.A"))
    started = time.monotonic()
    with pytest.raises(model.ServiceError) as err:
        client.get_secret_value(secret_id="db-password")
    assert time.monotonic() - started < 2
    assert "aws.greengrass#GetSecretValue" in err.value.message
    assert client.get_configuration(key_path=[]).component_name == "com.example.A"  # connection still fine


def test_handler_bug_becomes_service_error_and_the_server_keeps_serving() -> None:
    def broken(ctx: Any, request: dict[str, Any]) -> dict[str, Any]:
        raise ZeroDivisionError("division by zero in a handler")

    operations = dict(OPERATIONS)
    operations["aws.greengrass#PauseComponent"] = Operation("aws.greengrass#PauseComponent", broken)
    harness = CoreHarness(operations=operations)
    try:
        client = harness.client(harness.add_component("com.example.A"))
        with pytest.raises(model.ServiceError) as err:
            client.pause_component(component_name="x")
        assert "ZeroDivisionError" in err.value.message
        assert client.get_configuration(key_path=[]).component_name == "com.example.A"
    finally:
        harness.close()


def _bad_frames() -> dict[str, bytes]:
    good = control_frame(MessageType.APPLICATION_MESSAGE, stream_id=1,
                         extra=[(wire.OPERATION, HeaderType.STRING, "aws.greengrass#PublishToTopic")],
                         payload=b'{"topic": "t", "publishMessage": {"jsonMessage": {"message": 1}}}')
    oversized = struct.pack(">II", 1 << 30, 0)
    return {
        "bad prelude CRC": good[:9] + bytes([good[9] ^ 0xFF]) + good[10:],
        "bad message CRC": good[:-8] + bytes([good[-8] ^ 0xFF]) + good[-7:],
        "oversized": oversized + struct.pack(">I", zlib.crc32(oversized)),
        "garbage": b"GET / HTTP/1.1\r\nHost: core\r\n\r\n",
    }


@pytest.mark.parametrize("kind", list(_bad_frames()))
def test_malformed_frame_gets_protocol_error_and_only_that_connection_closes(core: CoreHarness, kind: str) -> None:
    token = core.add_component("com.example.A", pubsub_policy(publish=["*"], subscribe=["*"]))
    bystander = core.client(token)
    received: queue.Queue[Any] = queue.Queue()
    bystander.subscribe_to_topic(topic="still/alive", on_stream_event=received.put)

    sock = raw_connect(core, token)
    sock.sendall(_bad_frames()[kind])
    frames = read_frames(sock)  # until the server closes it
    assert [f.header_map()[wire.MESSAGE_TYPE] for f in frames] == [MessageType.PROTOCOL_ERROR]
    assert "malformed frame" in json.loads(frames[0].payload)["message"]

    unauthenticated = raw_connect(core, None)  # garbage before CONNECT is refused the same way
    unauthenticated.sendall(_bad_frames()[kind])
    assert [f.header_map()[wire.MESSAGE_TYPE] for f in read_frames(unauthenticated)] == [MessageType.PROTOCOL_ERROR]

    bystander.publish_to_topic(topic="still/alive", publish_message=json_msg("yes"))
    assert received.get(timeout=5).json_message.message == "yes"


def test_slow_subscriber_loses_events_not_the_publisher_or_other_subscribers() -> None:
    harness = CoreHarness(max_write_buffer=512 * 1024)
    try:
        policy = pubsub_policy(publish=["load"], subscribe=["load"])
        slow = raw_connect(harness, harness.add_component("com.example.Slow", policy))
        slow.sendall(control_frame(MessageType.APPLICATION_MESSAGE, stream_id=1,
                                   extra=[(wire.OPERATION, HeaderType.STRING, "aws.greengrass#SubscribeToTopic")],
                                   payload=b'{"topic": "load"}'))
        [response] = read_frames(slow, 1)
        assert response.header_map()[wire.SERVICE_MODEL_TYPE] == "aws.greengrass#SubscribeToTopicResponse"
        # ... and from now on `slow` never reads.
        fast = harness.client(harness.add_component("com.example.Fast", policy))
        count, done = 0, threading.Event()
        total = 3000

        def on_event(event: Any) -> None:
            nonlocal count
            count += 1
            if count == total:
                done.set()

        fast.subscribe_to_topic(topic="load", on_stream_event=on_event)
        publisher = harness.client(harness.add_component("com.example.Pub", policy))
        body = "x" * 1000
        started = time.monotonic()
        for _ in range(total):  # 3 MB in all: far more than the slow reader's buffers hold
            publisher.publish_to_topic(topic="load", publish_message=json_msg(body))
        assert time.monotonic() - started < 10
        assert done.wait(10), f"fast subscriber got {count} of {total}"
        assert harness.server.dropped_events > 0
        assert [c.dropped for c in harness.server._connections if c.component == "com.example.Fast"] == [0]
    finally:
        harness.close()


# -- configuration ------------------------------------------------------------------------------

def test_get_configuration_answers_leaves_as_greengrass_does(core: CoreHarness) -> None:
    core.add_component("com.example.Twin", {"model": {"name": "xgb", "threshold": 0.7, "tags": ["a", "b"]}})
    client = core.client(core.add_component("com.example.Reader"))
    leaf = client.get_configuration(component_name="com.example.Twin", key_path=["model", "threshold"])
    assert (leaf.component_name, leaf.value) == ("com.example.Twin", {"threshold": 0.7})
    assert client.get_configuration(component_name="com.example.Twin", key_path=["model", "tags"]).value == \
        {"tags": ["a", "b"]}
    assert client.get_configuration(component_name="com.example.Twin", key_path=["model"]).value == \
        {"name": "xgb", "threshold": 0.7, "tags": ["a", "b"]}
    with pytest.raises(model.ResourceNotFoundError) as err:
        client.get_configuration(component_name="com.example.Twin", key_path=["model", "missing"])
    assert "/model/missing" in err.value.message
    with pytest.raises(model.ResourceNotFoundError):
        client.get_configuration(component_name="com.example.Nobody", key_path=[])


def test_update_configuration_notifies_a_subscriber_in_another_component(core: CoreHarness) -> None:
    owner = core.client(core.add_component("com.example.Twin", {"threshold": 0.5}))
    watcher = core.client(core.add_component("com.example.Watcher"))
    events: queue.Queue[Any] = queue.Queue()
    watcher.subscribe_to_configuration_update(component_name="com.example.Twin", key_path=["threshold"],
                                              on_stream_event=events.put)
    owner.update_configuration(key_path=["threshold"], value_to_merge=0.8, timestamp=now())
    event = events.get(timeout=5).configuration_update_event
    assert (event.component_name, event.key_path) == ("com.example.Twin", ["threshold"])
    assert owner.get_configuration(key_path=["threshold"]).value == {"threshold": 0.8}

    with pytest.raises(model.FailedUpdateConditionCheckError):
        owner.update_configuration(key_path=["threshold"], value_to_merge=0.1, timestamp=now() - dt.timedelta(hours=1))
    with pytest.raises(model.InvalidArgumentsError) as err:
        owner.update_configuration(key_path=["accessControl"], value_to_merge={"x": 1}, timestamp=now())
    assert "accessControl" in err.value.message
    with pytest.raises(model.InvalidArgumentsError) as err:
        owner.update_configuration(key_path=["threshold"], value_to_merge=1.0)
    assert "timestamp" in err.value.message
    assert owner.get_configuration(key_path=["threshold"]).value == {"threshold": 0.8}


# -- lifecycle, component updates, CLI ----------------------------------------------------------

def test_update_state_and_component_update_events(core: CoreHarness) -> None:
    client = core.client(core.add_component("com.example.A"))
    client.update_state(state="RUNNING")
    assert core.lifecycle.reported == [("com.example.A", "RUNNING")]
    with pytest.raises(model.InvalidArgumentsError):
        client.update_state(state="SLEEPING")
    events: queue.Queue[Any] = queue.Queue()
    client.subscribe_to_component_updates(on_stream_event=events.put)
    core.call(lambda: core.deployments.notify(UpdateEvent("pre", "dep-1", is_ggc_restarting=False)))
    pre = events.get(timeout=5).pre_update_event
    assert (pre.deployment_id, pre.is_ggc_restarting) == ("dep-1", False)
    client.defer_component_update(deployment_id="dep-1", recheck_after_ms=5000, message="mid-inference")
    assert core.deployments.deferred == [("com.example.A", "dep-1", 5000, "mid-inference")]
    core.call(lambda: core.deployments.notify(UpdateEvent("post", "dep-1")))
    assert events.get(timeout=5).post_update_event.deployment_id == "dep-1"


def test_cli_operations_for_the_cli_identity_and_errors_for_missing_components(core: CoreHarness) -> None:
    core.add_component("com.example.Twin", {"threshold": 0.5})
    cli = core.client(core.add_component("aws.greengrass.Cli"))
    names = {c.component_name for c in cli.list_components().components}
    assert {"com.example.Twin", "aws.greengrass.Cli"} <= names
    details = cli.get_component_details(component_name="com.example.Twin").component_details
    assert (details.version, details.state, details.configuration) == ("1.0.0", "RUNNING", {"threshold": 0.5})
    assert cli.restart_component(component_name="com.example.Twin").restart_status == "SUCCEEDED"
    assert core.lifecycle.restarted == ["com.example.Twin"]
    assert cli.stop_component(component_name="com.example.Twin").stop_status == "SUCCEEDED"
    with pytest.raises(model.ComponentNotFoundError):
        cli.restart_component(component_name="com.example.Ghost")
    deployment_id = cli.create_local_deployment(root_component_versions_to_add={"com.example.Twin": "1.0.1"}) \
        .deployment_id
    assert cli.get_local_deployment_status(deployment_id=deployment_id).deployment.status == "QUEUED"
    assert [d.deployment_id for d in cli.list_local_deployments().local_deployments] == [deployment_id]
    with pytest.raises(model.ResourceNotFoundError):
        cli.get_local_deployment_status(deployment_id="no-such-deployment")
