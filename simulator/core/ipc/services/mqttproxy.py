"""AWS IoT Core MQTT over IPC (service `aws.greengrass.ipc.mqttproxy`): PublishToIoTCore, SubscribeToIoTCore.

Both go through the core's IoT Core link (`core.iot`), which spools while disconnected.
"""

from __future__ import annotations

import base64
from typing import Any

from edgeloop.simulator.core.errors import InvalidArguments

from ..core_api import IotMessage
from .base import (
    PREFIX,
    CallContext,
    EventStream,
    Operation,
    base64_field,
    filter_field,
    one_of,
    optional_bool,
    optional_int,
    optional_str,
    topic_field,
)

SERVICE = "aws.greengrass.ipc.mqttproxy"
_QOS = ("0", "1")
_PAYLOAD_FORMATS = ("BYTES", "UTF8")


def publish_topic(request: dict[str, Any]) -> str:
    return topic_field(request, "topicName")


def subscribe_filter(request: dict[str, Any]) -> str:
    return filter_field(request, "topicName")


def _qos(request: dict[str, Any]) -> int:
    """QoS arrives as the enum string "0"/"1" (the client's QOS enum); a bare integer is accepted too."""
    value = request.get("qos")
    if value is None:
        return 0
    text = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if text not in _QOS:
        raise InvalidArguments(f"qos must be one of {', '.join(_QOS)}, got {value!r}")
    return int(text)


def _user_properties(request: dict[str, Any]) -> list[tuple[str, str]]:
    props = request.get("userProperties")
    if props is None:
        return []
    if not isinstance(props, list):
        raise InvalidArguments("userProperties must be a list of {key, value} objects")
    out = []
    for i, prop in enumerate(props):
        if not isinstance(prop, dict) or not isinstance(prop.get("key"), str) \
                or not isinstance(prop.get("value"), str):
            raise InvalidArguments(f"userProperties[{i}] must be an object with string key and value")
        out.append((prop["key"], prop["value"]))
    return out


def publish_to_iot_core(ctx: CallContext, request: dict[str, Any]) -> dict[str, Any]:
    payload_format = optional_str(request, "payloadFormat")
    if payload_format is not None:
        one_of(payload_format, "payloadFormat", _PAYLOAD_FORMATS, "BYTES")
    message = IotMessage(
        topic=publish_topic(request),
        payload=base64_field(request, "payload") or b"",
        qos=_qos(request),
        retain=optional_bool(request, "retain"),
        user_properties=_user_properties(request),
        content_type=optional_str(request, "contentType"),
        correlation_data=base64_field(request, "correlationData"),
        response_topic=optional_str(request, "responseTopic"),
        payload_format=payload_format,
        message_expiry_interval_seconds=optional_int(request, "messageExpiryIntervalSeconds"),
    )
    ctx.core.iot.publish(message)
    return {}


def iot_event(message: IotMessage) -> dict[str, Any]:
    """IoTCoreMessage event: the MQTTMessage with bytes as base64."""
    body: dict[str, Any] = {"topicName": message.topic,
                            "payload": base64.b64encode(message.payload).decode("ascii"),
                            "retain": message.retain}
    if message.user_properties:
        body["userProperties"] = [{"key": k, "value": v} for k, v in message.user_properties]
    if message.content_type is not None:
        body["contentType"] = message.content_type
    if message.correlation_data is not None:
        body["correlationData"] = base64.b64encode(message.correlation_data).decode("ascii")
    if message.response_topic is not None:
        body["responseTopic"] = message.response_topic
    if message.payload_format is not None:
        body["payloadFormat"] = message.payload_format
    if message.message_expiry_interval_seconds is not None:
        body["messageExpiryIntervalSeconds"] = message.message_expiry_interval_seconds
    return {"message": body}


def subscribe_to_iot_core(ctx: CallContext, request: dict[str, Any], stream: EventStream) -> dict[str, Any]:
    topic = subscribe_filter(request)
    qos = _qos(request)
    unsubscribe = ctx.core.iot.subscribe(topic, qos, lambda m: stream.send(iot_event(m)), subscriber=ctx.component)
    stream.on_close(unsubscribe)
    return {}


OPERATIONS = [
    Operation(PREFIX + "PublishToIoTCore", publish_to_iot_core, policy_service=SERVICE, resource=publish_topic),
    Operation(PREFIX + "SubscribeToIoTCore", subscribe_to_iot_core, streaming=True,
              event_type=PREFIX + "IoTCoreMessage", policy_service=SERVICE, resource=subscribe_filter),
]
