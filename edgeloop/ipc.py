"""The one IPC client wrapper every edgeloop component (and the `edgeloop core` CLI) uses.

It is the official `GreengrassCoreIPCClientV2`, connected from the environment Greengrass gives a
component (`AWS_GG_NUCLEUS_DOMAIN_SOCKET_FILEPATH_FOR_COMPONENT`, `SVCUID`) or from an explicit
socket and token, plus the few conveniences components repeat: JSON publish and subscribe with
decoded messages, and a clean close. The same code runs on a real Greengrass nucleus and on
edgeloop's local core.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import awsiot.greengrasscoreipc
from awsiot.greengrasscoreipc.client import SubscribeToTopicStreamHandler
from awsiot.greengrasscoreipc.clientv2 import GreengrassCoreIPCClientV2
from awsiot.greengrasscoreipc.model import (
    QOS,
    BinaryMessage,
    ConfigurationUpdateEvents,
    IoTCoreMessage,
    JsonMessage,
    PublishMessage,
    SubscribeToTopicRequest,
    SubscriptionResponseMessage,
)

log = logging.getLogger(__name__)

MessageHandler = Callable[[str, Any], None]  # (topic, JSON value or bytes): the contracts validate it


def connect(socket_path: str | None = None, token: str | None = None, timeout: float = 10.0) -> GreengrassCoreIPCClientV2:
    """Connect to the core; without arguments, from the component's environment."""
    if socket_path is None and token is None:
        return GreengrassCoreIPCClientV2()
    return GreengrassCoreIPCClientV2(client=awsiot.greengrasscoreipc.connect(
        ipc_socket=socket_path, authtoken=token, timeout=timeout))


def decode(message: SubscriptionResponseMessage) -> tuple[str, Any]:
    """(topic, payload) of a local pub/sub message: JSON messages as the JSON value, binary ones as bytes."""
    if message.json_message is not None:
        return message.json_message.context.topic, message.json_message.message
    return message.binary_message.context.topic, message.binary_message.message


class _InlineEvents(SubscribeToTopicStreamHandler):
    """Stream events of an inline subscription, delivered on the IPC client's event-loop thread."""

    def __init__(self, on_event: Callable[[SubscriptionResponseMessage], None], topic: str) -> None:
        super().__init__()
        self._on_event, self._topic = on_event, topic

    def on_stream_event(self, event: SubscriptionResponseMessage) -> None:
        self._on_event(event)

    def on_stream_error(self, error: Exception) -> bool:
        log.error("subscription to %s: %s", self._topic, error)
        return False          # keep the stream: one undecodable event must not end the subscription


class Ipc:
    """A connected component: publish/subscribe JSON on local pub/sub and IoT Core, then close().

    Publishes wait for the core's answer by default. With `wait=False` they return once the request
    is on its way, in call order, and a failure is logged and counted in `publish_failures`: the
    core's answers arrive on the same connection behind every subscription event already sent, so
    a component receiving 1,000 messages a second that waits for each answer (the EcgPrefilter,
    measured) spends most of its time waiting, not working. At most `max_in_flight` publishes are
    unanswered at once; beyond that a publish waits for room, which bounds the memory they hold.
    """

    def __init__(self, client: GreengrassCoreIPCClientV2 | None = None, max_in_flight: int = 256) -> None:
        self.client = client or connect()
        self._operations: list[Any] = []
        self._in_flight = threading.BoundedSemaphore(max_in_flight)
        self._failures_lock = threading.Lock()
        self.publish_failures = 0

    def publish_json(self, topic: str, value: Any, *, wait: bool = True) -> None:
        self._publish(wait, self.client.publish_to_topic, self.client.publish_to_topic_async, topic,
                      topic=topic, publish_message=PublishMessage(json_message=JsonMessage(message=value)))

    def publish_binary(self, topic: str, data: bytes, *, wait: bool = True) -> None:
        self._publish(wait, self.client.publish_to_topic, self.client.publish_to_topic_async, topic,
                      topic=topic, publish_message=PublishMessage(binary_message=BinaryMessage(message=data)))

    def publish_iot_json(self, topic: str, value: Any, qos: str = QOS.AT_LEAST_ONCE, *, wait: bool = True) -> None:
        self.publish_iot_bytes(topic, json.dumps(value).encode(), qos, wait=wait)

    def publish_iot_bytes(self, topic: str, payload: bytes, qos: str = QOS.AT_LEAST_ONCE, *, wait: bool = True) -> None:
        self._publish(wait, self.client.publish_to_iot_core, self.client.publish_to_iot_core_async, topic,
                      topic_name=topic, qos=qos, payload=payload)

    def _publish(self, wait: bool, sync_op: Callable[..., Any], async_op: Callable[..., Future], what: str,
                 /, **request: Any) -> None:
        if wait:
            sync_op(**request)
            return
        self._in_flight.acquire()
        try:
            future = async_op(**request)
        except BaseException:
            self._in_flight.release()
            raise
        future.add_done_callback(lambda done: self._answered(what, done))

    def _answered(self, topic: str, done: Future) -> None:
        self._in_flight.release()
        error = done.exception()
        if error is not None:
            with self._failures_lock:
                self.publish_failures += 1
                failures = self.publish_failures
            if failures in (1, 10, 100) or failures % 1000 == 0:
                log.error("publish on %s failed: %s (%d publishes failed so far)", topic, error, failures)

    def subscribe(self, topic: str, handler: MessageHandler, *, inline: bool = False) -> None:
        """Call `handler(topic, payload)` for each local pub/sub message; a failing handler is logged, not fatal.

        By default the handler runs on clientv2's thread pool, so it may call IPC synchronously, but
        messages are not handed over in arrival order and each costs a hand-off between threads.
        `inline=True` runs it on the client's event-loop thread, in arrival order and without that
        hand-off (the official client's own v1 stream handler): for a hot path that only parses and
        queues. An inline handler must return quickly and must never wait on an IPC call, which that
        same thread would have to answer.
        """
        def on_event(message: SubscriptionResponseMessage) -> None:
            try:
                handler(*decode(message))
            except Exception:
                log.exception("handler for %s failed", topic)
        if not inline:
            _, operation = self.client.subscribe_to_topic(topic=topic, on_stream_event=on_event)
            self._operations.append(operation)
            return
        operation = self.client.client.new_subscribe_to_topic(_InlineEvents(on_event, topic))
        operation.activate(SubscribeToTopicRequest(topic=topic)).result()
        operation.get_response().result()     # raises UnauthorizedError and the like, as clientv2 does
        self._operations.append(operation)

    def subscribe_iot(self, topic: str, handler: MessageHandler, qos: str = QOS.AT_LEAST_ONCE) -> None:
        """Call `handler(topic, payload_bytes)` for each message from IoT Core on `topic`."""
        def on_event(event: IoTCoreMessage) -> None:
            try:
                handler(event.message.topic_name, event.message.payload)
            except Exception:
                log.exception("handler for IoT Core topic %s failed", topic)
        _, operation = self.client.subscribe_to_iot_core(topic_name=topic, qos=qos, on_stream_event=on_event)
        self._operations.append(operation)

    def get_configuration(self, component_name: str | None = None, key_path: list[str] | None = None) -> Any:
        """A component's configuration (own without `component_name`); any component may read any other's."""
        return self.client.get_configuration(component_name=component_name, key_path=key_path or []).value

    def subscribe_configuration(self, handler: Callable[[str, list[str]], None],
                                component_name: str | None = None, key_path: list[str] | None = None) -> None:
        """Call `handler(component, changed_key_path)` on each change at or under `key_path`; failures are logged."""
        def on_event(event: ConfigurationUpdateEvents) -> None:
            update = event.configuration_update_event
            try:
                handler(update.component_name, list(update.key_path or []))
            except Exception:
                log.exception("configuration handler for %s failed", component_name or "this component")
        _, operation = self.client.subscribe_to_configuration_update(
            component_name=component_name, key_path=key_path or [], on_stream_event=on_event)
        self._operations.append(operation)

    def close(self) -> None:
        for operation in self._operations:
            try:
                operation.close()
            except Exception:
                pass
        self._operations.clear()
        self.client.close()

    def __enter__(self) -> Ipc:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
