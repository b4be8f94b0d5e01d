"""edgeloop.ipc.Ipc, the one IPC wrapper every component uses, against the real IPC server with the
unmodified awsiotsdk client: inline subscriptions keep arrival order and survive a failing handler."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator

import pytest
from awsiot.greengrasscoreipc import model

from edgeloop.ipc import Ipc
from tests.kits.ipc_harness import CoreHarness, pubsub_policy

TOPIC = "dt/sensor/wearable-0001"


@pytest.fixture
def core() -> Iterator[CoreHarness]:
    harness = CoreHarness()
    yield harness
    harness.close()


def _pair(core: CoreHarness) -> tuple[Ipc, Ipc]:
    sub = Ipc(core.client(core.add_component("com.example.Sub", pubsub_policy(subscribe=["dt/sensor/+"]))))
    pub = Ipc(core.client(core.add_component("com.example.Pub", pubsub_policy(publish=["dt/sensor/*"]))))
    return sub, pub


def test_inline_subscription_hands_over_messages_in_the_order_they_were_published(core: CoreHarness) -> None:
    sub, pub = _pair(core)
    got: queue.Queue = queue.Queue()
    threads: set[str] = set()

    def handler(topic: str, payload: bytes) -> None:
        threads.add(threading.current_thread().name)
        got.put((topic, payload))

    sub.subscribe("dt/sensor/+", handler, inline=True)
    sent = [f"chunk {i}".encode() for i in range(2000)]
    for data in sent:
        pub.publish_binary(TOPIC, data)
    received = [got.get(timeout=10) for _ in sent]
    assert [payload for _, payload in received] == sent        # every one, in order
    assert {topic for topic, _ in received} == {TOPIC}
    assert len(threads) == 1 and threading.current_thread().name not in threads   # the client's own thread
    sub.close()
    pub.close()


def test_inline_subscription_outside_the_policy_is_refused(core: CoreHarness) -> None:
    sub, _ = _pair(core)
    with pytest.raises(model.UnauthorizedError):
        sub.subscribe("dt/other/+", lambda *_: None, inline=True)


def test_a_failing_inline_handler_costs_one_message_not_the_subscription(core: CoreHarness) -> None:
    sub, pub = _pair(core)
    got: queue.Queue = queue.Queue()

    def handler(topic: str, payload: bytes) -> None:
        if payload == b"bad":
            raise ValueError("a bug in the handler")
        got.put(payload)

    sub.subscribe("dt/sensor/+", handler, inline=True)
    for data in (b"first", b"bad", b"after"):
        pub.publish_binary(TOPIC, data)
    assert [got.get(timeout=10), got.get(timeout=10)] == [b"first", b"after"]


def test_publishes_that_do_not_wait_arrive_in_order_and_failures_are_counted(core: CoreHarness) -> None:
    sub, pub = _pair(core)
    got: queue.Queue = queue.Queue()
    sub.subscribe("dt/sensor/+", lambda topic, payload: got.put(payload), inline=True)
    sent = [f"chunk {i}".encode() for i in range(1000)]
    for data in sent[:500]:
        pub.publish_binary(TOPIC, data, wait=False)
    pub.publish_binary("dt/other/x", b"not in the policy", wait=False)     # refused by the core
    for data in sent[500:]:
        pub.publish_binary(TOPIC, data, wait=False)
    assert [got.get(timeout=10) for _ in sent] == sent
    deadline = time.monotonic() + 5
    while pub.publish_failures == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pub.publish_failures == 1
    with pytest.raises(model.UnauthorizedError):       # a waiting publish raises instead
        pub.publish_binary("dt/other/x", b"again")
