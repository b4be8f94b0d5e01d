"""The two ways the IoT Core link reaches its cloud broker, behind one small interface.

- `PahoTransport`: `mqtt://host:port` (MQTT 3.1.1) or `mqtt5://host:port` (MQTT 5, carries user
  properties, content type, correlation data, response topic and expiry) to a broker standing in for
  AWS IoT Core (Mosquitto, amqtt). paho reconnects by itself with exponential backoff
  (`reconnect_delay_set`), including when the first connection fails.
- `AwsIotTransport`: AWS IoT Core over mutual TLS with awsiotsdk's MQTT 5 client
  (`mqtt5_client_builder.mtls_from_path`), which reconnects with jittered exponential backoff.

Both call `TransportEvents` from their own network thread (paho's loop thread, the CRT event loop).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import paho.mqtt.client as paho
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from edgeloop.brokers import parse_broker
from edgeloop.simulator.core.errors import CoreError, NotConnected

from ..ipc.core_api import IotMessage


@dataclass
class TransportEvents:
    on_connected: Callable[[], None]
    on_disconnected: Callable[[str], None]
    on_message: Callable[[IotMessage], None]


class PendingPublish(Protocol):
    def wait(self, timeout: float) -> bool:
        """True once the message is on the wire (QoS 0) or acknowledged by the broker (QoS 1)."""


class Transport(Protocol):
    description: str

    def start(self, events: TransportEvents) -> None: ...

    def stop(self) -> None: ...

    @property
    def connected(self) -> bool: ...

    def publish(self, msg: IotMessage) -> PendingPublish:
        """Hand `msg` to the client. Raises NotConnected."""

    def subscribe(self, topic_filter: str, qos: int) -> None: ...

    def unsubscribe(self, topic_filter: str) -> None: ...

    def pending_subscriptions(self) -> int:
        """Subscribe/unsubscribe requests the broker has not acknowledged yet."""


class _PahoPending:
    def __init__(self, info: paho.MQTTMessageInfo) -> None:
        self._info = info

    def wait(self, timeout: float) -> bool:
        try:
            self._info.wait_for_publish(timeout)
        except (RuntimeError, ValueError):
            return False
        return self._info.is_published()


def _to_paho_properties(msg: IotMessage) -> Properties | None:
    props = Properties(PacketTypes.PUBLISH)
    if msg.user_properties:
        props.UserProperty = list(msg.user_properties)
    if msg.content_type:
        props.ContentType = msg.content_type
    if msg.correlation_data:
        props.CorrelationData = msg.correlation_data
    if msg.response_topic:
        props.ResponseTopic = msg.response_topic
    if msg.payload_format:
        props.PayloadFormatIndicator = 1 if msg.payload_format.upper() == "UTF8" else 0
    if msg.message_expiry_interval_seconds is not None:
        props.MessageExpiryInterval = msg.message_expiry_interval_seconds
    return props if not props.isEmpty() else None


def _from_paho(message: paho.MQTTMessage) -> IotMessage:
    msg = IotMessage(topic=message.topic, payload=bytes(message.payload), qos=message.qos, retain=message.retain)
    props = getattr(message, "properties", None)
    if props is not None:
        msg.user_properties = [tuple(p) for p in getattr(props, "UserProperty", [])]
        msg.content_type = getattr(props, "ContentType", None)
        msg.correlation_data = getattr(props, "CorrelationData", None)
        msg.response_topic = getattr(props, "ResponseTopic", None)
        pfi = getattr(props, "PayloadFormatIndicator", None)
        msg.payload_format = None if pfi is None else ("UTF8" if pfi == 1 else "BYTES")
        msg.message_expiry_interval_seconds = getattr(props, "MessageExpiryInterval", None)
    return msg


class PahoTransport:
    def __init__(self, url: str, client_id: str, *, min_backoff: int = 1, max_backoff: int = 30,
                 keepalive: int = 30) -> None:
        self.url = parse_broker(url)
        self.description = url
        self.client_id = client_id
        protocol = paho.MQTTv5 if self.url.mqtt5 else paho.MQTTv311
        # MQTT 5 has no clean_session flag (paho refuses it); 3.1.1 starts clean.
        clean_session = None if self.url.mqtt5 else True
        self._client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol,
                                   clean_session=clean_session)
        self._client.reconnect_delay_set(min_backoff, max_backoff)
        self._client.max_inflight_messages_set(1000)
        self._keepalive = keepalive
        self._connected = False
        self._pending_subs: set[int] = set()
        self._lock = threading.Lock()
        self._events: TransportEvents | None = None

    @property
    def connected(self) -> bool:
        return self._connected

    def start(self, events: TransportEvents) -> None:
        self._events = events
        c = self._client
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = lambda _c, _u, m: events.on_message(_from_paho(m))
        c.on_subscribe = self._on_ack
        c.on_unsubscribe = self._on_ack
        c.connect_async(self.url.host, self.url.port, keepalive=self._keepalive)
        c.loop_start()

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
        self._connected = False

    def _on_connect(self, _c, _u, _flags, reason_code, _props) -> None:
        if reason_code.is_failure:
            return
        with self._lock:
            self._pending_subs.clear()
        self._connected = True
        assert self._events is not None
        self._events.on_connected()

    def _on_disconnect(self, _c, _u, _flags, reason_code, _props) -> None:
        was = self._connected
        self._connected = False
        if was and self._events is not None:
            self._events.on_disconnected(str(reason_code))

    def _on_ack(self, _c, _u, mid, *_rest) -> None:
        with self._lock:
            self._pending_subs.discard(mid)

    def publish(self, msg: IotMessage) -> PendingPublish:
        if not self._connected:
            raise NotConnected(self.description)
        props = _to_paho_properties(msg) if self.url.mqtt5 else None
        info = self._client.publish(msg.topic, msg.payload, qos=msg.qos, retain=msg.retain, properties=props)
        if info.rc == paho.MQTT_ERR_NO_CONN and msg.qos == 0:
            raise NotConnected(self.description)
        return _PahoPending(info)

    def subscribe(self, topic_filter: str, qos: int) -> None:
        if self._connected:
            with self._lock:
                rc, mid = self._client.subscribe(topic_filter, qos)
                if rc == paho.MQTT_ERR_SUCCESS and mid is not None:
                    self._pending_subs.add(mid)

    def unsubscribe(self, topic_filter: str) -> None:
        if self._connected:
            with self._lock:
                rc, mid = self._client.unsubscribe(topic_filter)
                if rc == paho.MQTT_ERR_SUCCESS and mid is not None:
                    self._pending_subs.add(mid)

    def pending_subscriptions(self) -> int:
        with self._lock:
            return len(self._pending_subs)


class _FuturePending:
    def __init__(self, future) -> None:
        self._future = future

    def wait(self, timeout: float) -> bool:
        try:
            self._future.result(timeout)
        except Exception:  # timeout, disconnect, or a negative PUBACK: the message stays spooled
            return False
        return True


class AwsIotTransport:
    """AWS IoT Core over mTLS; the client is built at construction so bad TLS material fails early."""

    def __init__(self, endpoint: str, cert_path: str | Path, key_path: str | Path, ca_path: str | Path | None,
                 client_id: str, *, port: int = 8883) -> None:
        if not endpoint or not isinstance(endpoint, str):
            raise CoreError("AWS IoT Core link: the endpoint is empty (expected e.g. "
                            "'abc123-ats.iot.eu-west-1.amazonaws.com')")
        files = {"certificate": cert_path, "private key": key_path}
        if ca_path is not None:
            files["root CA"] = ca_path
        for what, path in files.items():
            p = Path(path)
            if not p.is_file():
                raise CoreError(f"AWS IoT Core link: the {what} file {p} does not exist")
            try:
                p.open("rb").close()
            except OSError as exc:
                raise CoreError(f"AWS IoT Core link: cannot read the {what} file {p}: {exc.strerror}") from None
        from awscrt import mqtt5  # lazy: only a link to AWS IoT Core needs the CRT's MQTT 5
        from awsiot import mqtt5_client_builder

        self._mqtt5 = mqtt5
        self.description = f"AWS IoT Core {endpoint}:{port}"
        self._connected = False
        self._pending: set = set()
        self._lock = threading.Lock()
        self._events: TransportEvents | None = None
        try:
            self._client = mqtt5_client_builder.mtls_from_path(
                endpoint=endpoint, port=port, cert_filepath=str(cert_path), pri_key_filepath=str(key_path),
                ca_filepath=str(ca_path) if ca_path is not None else None, client_id=client_id,
                min_reconnect_delay_ms=1000, max_reconnect_delay_ms=60_000,
                on_publish_received=self._on_publish,
                on_lifecycle_connection_success=self._on_success,
                on_lifecycle_disconnection=self._on_disconnection)
        except Exception as exc:
            raise CoreError(f"AWS IoT Core link: cannot load the TLS material (certificate {cert_path}, "
                            f"private key {key_path}, root CA {ca_path}): {exc}") from None

    @property
    def connected(self) -> bool:
        return self._connected

    def start(self, events: TransportEvents) -> None:
        self._events = events
        self._client.start()

    def stop(self) -> None:
        self._client.stop()
        self._connected = False

    def _on_success(self, _data) -> None:
        self._connected = True
        if self._events is not None:
            self._events.on_connected()

    def _on_disconnection(self, data) -> None:
        self._connected = False
        if self._events is not None:
            self._events.on_disconnected(str(getattr(data, "exception", "") or "disconnected"))

    def _on_publish(self, data) -> None:
        p = data.publish_packet
        pfi = p.payload_format_indicator
        msg = IotMessage(
            topic=p.topic, payload=bytes(p.payload or b""), qos=int(p.qos), retain=bool(p.retain),
            user_properties=[(u.name, u.value) for u in (p.user_properties or [])],
            content_type=p.content_type, correlation_data=p.correlation_data_bytes, response_topic=p.response_topic,
            payload_format=None if pfi is None else ("UTF8" if int(pfi) == 1 else "BYTES"),
            message_expiry_interval_seconds=p.message_expiry_interval_sec)
        if self._events is not None:
            self._events.on_message(msg)

    def publish(self, msg: IotMessage) -> PendingPublish:
        if not self._connected:
            raise NotConnected(self.description)
        m = self._mqtt5
        pfi = None
        if msg.payload_format:
            pfi = (m.PayloadFormatIndicator.AWS_MQTT5_PFI_UTF8 if msg.payload_format.upper() == "UTF8"
                   else m.PayloadFormatIndicator.AWS_MQTT5_PFI_BYTES)
        packet = m.PublishPacket(
            topic=msg.topic, payload=msg.payload, qos=m.QoS(msg.qos), retain=msg.retain,
            user_properties=[m.UserProperty(k, v) for k, v in msg.user_properties] or None,
            content_type=msg.content_type, correlation_data_bytes=msg.correlation_data,
            response_topic=msg.response_topic, payload_format_indicator=pfi,
            message_expiry_interval_sec=msg.message_expiry_interval_seconds)
        return _FuturePending(self._client.publish(packet))

    def _track(self, future) -> None:
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._untrack)

    def _untrack(self, future) -> None:
        with self._lock:
            self._pending.discard(future)

    def subscribe(self, topic_filter: str, qos: int) -> None:
        if self._connected:
            m = self._mqtt5
            self._track(self._client.subscribe(
                m.SubscribePacket(subscriptions=[m.Subscription(topic_filter=topic_filter, qos=m.QoS(qos))])))

    def unsubscribe(self, topic_filter: str) -> None:
        if self._connected:
            self._track(self._client.unsubscribe(self._mqtt5.UnsubscribePacket(topic_filters=[topic_filter])))

    def pending_subscriptions(self) -> int:
        with self._lock:
            return len(self._pending)
