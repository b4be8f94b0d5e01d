"""Local publish/subscribe over IPC (service `aws.greengrass.ipc.pubsub`): PublishToTopic, SubscribeToTopic.

The hot path of the core: a publish is validated, authorized (cached), handed to the bus, and each
subscriber's stream writes one frame. The event JSON is serialised once per message, not once per
subscriber.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from edgeloop.simulator.core.errors import InvalidArguments

from ...pubsub import Message
from .base import (
    PREFIX,
    CallContext,
    EventStream,
    Operation,
    base64_field,
    filter_field,
    one_of,
    optional_str,
    require_dict,
    topic_field,
)

SERVICE = "aws.greengrass.ipc.pubsub"
RECEIVE_ALL = "RECEIVE_ALL_MESSAGES"
RECEIVE_OTHERS = "RECEIVE_MESSAGES_FROM_OTHERS"

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def publish_topic(request: dict[str, Any]) -> str:
    return topic_field(request, "topic")


def subscribe_filter(request: dict[str, Any]) -> str:
    return filter_field(request, "topic")


def _message_body(publish: dict[str, Any]) -> tuple[bool, Any]:
    """(is_binary, value) from a PublishMessage union; exactly one member must be set."""
    json_msg, binary_msg = publish.get("jsonMessage"), publish.get("binaryMessage")
    if (json_msg is None) == (binary_msg is None):
        raise InvalidArguments("publishMessage must set exactly one of jsonMessage and binaryMessage")
    if json_msg is not None:
        if not isinstance(json_msg, dict):
            raise InvalidArguments("publishMessage.jsonMessage must be an object")
        if "message" not in json_msg:
            raise InvalidArguments("publishMessage.jsonMessage.message is required")
        return False, json_msg["message"]
    if not isinstance(binary_msg, dict):
        raise InvalidArguments("publishMessage.binaryMessage must be an object")
    data = base64_field(binary_msg, "message")
    return True, b"" if data is None else data


def publish_to_topic(ctx: CallContext, request: dict[str, Any]) -> dict[str, Any]:
    topic = publish_topic(request)
    is_binary, value = _message_body(require_dict(request, "publishMessage"))
    if is_binary:
        message = Message(topic, binary=value, source=ctx.component)
    else:
        message = Message(topic, json=value, source=ctx.component)
    ctx.core.bus.publish(message)
    return {}


# The last message serialised for subscribers, so N subscribers of one publish serialise once.
# A tuple is replaced atomically, so a reader on another thread never sees a torn pair.
_last_event: tuple[Message | None, bytes] = (None, b"")


_BINARY_HEAD = b'{"binaryMessage":{"message":"'
_BINARY_MID = b'","context":{"topic":'


def event_json(message: Message) -> bytes:
    """SubscriptionResponseMessage JSON for `message` (context carries the concrete topic)."""
    global _last_event
    cached = _last_event
    if cached[0] is message:
        return cached[1]
    if message.binary is not None:
        # The bytes _dumps would give for {"binaryMessage": {"message": b64, "context": {"topic":
        # topic}}}, without scanning the (base64, so escape-free) message for escapes: bridged
        # sensor chunks make this the core's busiest line.
        data = b"".join((_BINARY_HEAD, base64.b64encode(message.binary), _BINARY_MID,
                         _dumps(message.topic).encode(), b"}}}"))
    else:
        body = {"jsonMessage": {"message": message.json, "context": {"topic": message.topic}}}
        data = _dumps(body).encode()
    _last_event = (message, data)
    return data


def subscribe_to_topic(ctx: CallContext, request: dict[str, Any], stream: EventStream) -> dict[str, Any]:
    topic = subscribe_filter(request)
    mode = one_of(optional_str(request, "receiveMode"), "receiveMode", (RECEIVE_ALL, RECEIVE_OTHERS), RECEIVE_ALL)
    send = stream.send_json

    def deliver(message: Message) -> None:
        send(event_json(message))

    subscription = ctx.core.bus.subscribe(topic, deliver, subscriber=ctx.component,
                                          receive_own=mode == RECEIVE_ALL)
    stream.on_close(subscription.close)
    return {"topicName": topic}


OPERATIONS = [
    Operation(PREFIX + "PublishToTopic", publish_to_topic, policy_service=SERVICE, resource=publish_topic),
    Operation(PREFIX + "SubscribeToTopic", subscribe_to_topic, streaming=True,
              event_type=PREFIX + "SubscriptionResponseMessage", policy_service=SERVICE, resource=subscribe_filter),
]
