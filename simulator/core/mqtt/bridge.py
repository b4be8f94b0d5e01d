"""The MQTT bridge (aws.greengrass.clientdevices.mqtt.Bridge semantics) between the local MQTT broker,
local pub/sub and IoT Core.

Each route `{topic, source, target, targetTopicPrefix}` (see `bridge_config`) republishes a message
that arrives from `source` on a topic matching `topic` to `target` on `targetTopicPrefix + topic`.

Payloads, as Greengrass's bridge does it:
- into pub/sub, every MQTT message becomes a *binary* message (`Message(binary=payload)`), published
  with `source="bridge"`;
- out of pub/sub, a binary message's bytes are forwarded as they are, and a JSON message is forwarded
  as its compact JSON serialisation (UTF-8).
QoS: IoT Core is published and subscribed with QoS 1 (as Greengrass does); the local broker is
subscribed with QoS 1 and published with QoS 1.

Loop prevention (the rule): a message the bridge itself published is never bridged again from where
it published it. On pub/sub the bus enforces it: the bridge subscribes as subscriber "bridge" with
`receive_own=False` and publishes with source "bridge". On the local broker and IoT Core, which hand
a subscribed publisher its own message back (MQTT 3.1.1 has no "no local"), the bridge remembers
what it published (`echo.EchoFilter`) and drops those copies when they return. Greengrass's bridge
leaves this to configuration (its MQTT 5 `noLocal` route option, off by default).

Threads: the local client's callbacks run on paho's thread and IoT Core callbacks on the link's
thread; the bus is owned by the core's event loop, so every bus call (publish, subscribe, close) goes
through `call_soon` (the core passes `loop.call_soon_threadsafe`; the default runs it inline).
Messages into pub/sub are queued and handed over in batches (one call_soon per batch, in order):
at 1,000 wearables a call per message woke the core's loop 1,000 times a second.
Pub/sub callbacks run on the bus owner's thread and publish to MQTT directly (paho and the link are
thread-safe).

Known limit: with two partially overlapping filters for one source (`a/+/c` and `a/b/+`), a broker
delivers a message matching both twice, and it is bridged twice; nested filters (`a/#` and `a/b`)
are merged and do not duplicate.
"""

from __future__ import annotations

import functools
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho

from edgeloop.brokers import parse_broker
from edgeloop.simulator.core.errors import BridgeConfigError

from ..ipc.core_api import IotCoreLinkApi, IotMessage
from ..pubsub import Message, PubSubBus, Subscription
from ..topics import topic_matches
from .bridge_config import Route, parse_mapping
from .echo import EchoFilter
from .filters import minimal_filters

log = logging.getLogger(__name__)

BRIDGE_SOURCE = "bridge"


def _inline(fn: Callable[[], None]) -> None:
    fn()


def pubsub_payload(message: Message) -> bytes:
    """The MQTT payload for a pub/sub message: binary bytes as-is, JSON as compact UTF-8 JSON."""
    if message.binary is not None:
        return bytes(message.binary)
    return json.dumps(message.json, separators=(",", ":")).encode()


class Bridge:
    def __init__(self, bus: PubSubBus, iot_link: IotCoreLinkApi | None, local_broker_url: str,
                 client_id: str = "aws.greengrass.clientdevices.mqtt.Bridge", *,
                 call_soon: Callable[[Callable[[], None]], object] | None = None,
                 echo_window_s: float = 30.0) -> None:
        self.bus = bus
        self.iot_link = iot_link
        self.local_url = parse_broker(local_broker_url)
        self.call_soon = call_soon or _inline
        self._counters: Counter[str] = Counter()
        self._counter_lock = threading.Lock()
        self._routes: dict[str, list[Route]] = {b: [] for b in ("LocalMqtt", "Pubsub", "IotCore")}
        self._echo = {"LocalMqtt": EchoFilter(echo_window_s), "IotCore": EchoFilter(echo_window_s)}
        self._lock = threading.RLock()
        self._local_filters: set[str] = set()
        # Snapshots of the filters the bridge holds per broker, replaced whole (read without a lock).
        self._echo_filters: dict[str, frozenset[str]] = {"LocalMqtt": frozenset(), "IotCore": frozenset()}
        self._iot_subs: dict[str, Callable[[], None]] = {}
        self._bus_subs: dict[str, Subscription | None] = {}
        self._started = False
        self._local_connected = False
        self._pending_local: set[int] = set()
        self._bus_lock = threading.Lock()
        self._bus_queue: list[Message] = []
        self._bus_drain_scheduled = False
        protocol = paho.MQTTv5 if self.local_url.mqtt5 else paho.MQTTv311
        self._local = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol)
        self._local.reconnect_delay_set(1, 30)
        self._local.max_inflight_messages_set(1000)
        self._local.on_connect = self._on_local_connect
        self._local.on_disconnect = self._on_local_disconnect
        self._local.on_message = self._on_local_message
        self._local.on_subscribe = self._on_local_ack
        self._local.on_unsubscribe = self._on_local_ack

    def _count(self, key: str, n: int = 1) -> None:
        with self._counter_lock:
            self._counters[key] += n

    def counters(self) -> dict[str, int | bool]:
        """received<Source>, sent<Target>, echoesDropped, errors, and whether the local broker is connected."""
        with self._counter_lock:
            out: dict[str, int | bool] = dict(self._counters)
        out["localConnected"] = self._local_connected
        return out

    # -- configuration --------------------------------------------------------------------------

    @property
    def routes(self) -> list[Route]:
        return [r for rs in self._routes.values() for r in rs]

    @property
    def _link(self) -> IotCoreLinkApi:
        """The IoT Core link; only IotCore routes use it, and apply() refuses them without one."""
        if self.iot_link is None:
            raise RuntimeError("the bridge has no IoT Core link")
        return self.iot_link

    def apply(self, mapping: dict[str, Any] | None) -> None:
        """Validate `mqttTopicMapping` and replace the routes and subscriptions live.

        Raises BridgeConfigError (naming the mapping and field) and then changes nothing."""
        routes = parse_mapping(mapping)
        if self.iot_link is None and any("IotCore" in (r.source, r.target) for r in routes):
            bad = next(r for r in routes if "IotCore" in (r.source, r.target))
            raise BridgeConfigError(f"mqttTopicMapping.{bad.name}: uses IotCore but the bridge has no IoT Core link")
        by_source: dict[str, list[Route]] = {b: [] for b in self._routes}
        for route in routes:
            by_source[route.source].append(route)
        with self._lock:
            self._routes = by_source
            if self._started:
                self._sync_subscriptions()

    def _filters(self, source: str) -> set[str]:
        return minimal_filters(r.topic for r in self._routes[source])

    def _sync_subscriptions(self) -> None:
        """Subscribe to what the routes need and drop the rest (caller holds _lock)."""
        wanted = self._filters("LocalMqtt")
        if self._local_connected:
            for f in wanted - self._local_filters:
                self._subscribe_local(f)
            for f in self._local_filters - wanted:
                rc, mid = self._local.unsubscribe(f)
                if rc == paho.MQTT_ERR_SUCCESS and mid is not None:
                    self._pending_local.add(mid)
        self._local_filters = wanted

        wanted = self._filters("IotCore")
        for f in set(self._iot_subs) - wanted:
            self._iot_subs.pop(f)()
        for f in wanted - set(self._iot_subs):
            self._iot_subs[f] = self._link.subscribe(f, 1, self._on_iot_message, subscriber=BRIDGE_SOURCE)

        self._echo_filters = {"LocalMqtt": frozenset(self._local_filters), "IotCore": frozenset(self._iot_subs)}

        wanted = self._filters("Pubsub")
        for f in set(self._bus_subs) - wanted:
            self._close_bus_sub(self._bus_subs.pop(f))
        for f in wanted - set(self._bus_subs):
            self._bus_subs[f] = None
            self.call_soon(functools.partial(self._open_bus_sub, f))

    def _open_bus_sub(self, topic_filter: str) -> None:
        # Runs on the bus owner's thread.
        with self._lock:
            if topic_filter in self._bus_subs and self._bus_subs[topic_filter] is None:
                self._bus_subs[topic_filter] = self.bus.subscribe(
                    topic_filter, self._on_bus_message, subscriber=BRIDGE_SOURCE, receive_own=False)

    def _close_bus_sub(self, sub: Subscription | None) -> None:
        # None: the subscription was never opened, and _open_bus_sub will now not open it.
        if sub is not None:
            self.call_soon(sub.close)

    def _subscribe_local(self, topic_filter: str) -> None:
        rc, mid = self._local.subscribe(topic_filter, 1)
        if rc == paho.MQTT_ERR_SUCCESS and mid is not None:
            self._pending_local.add(mid)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect to the local broker (retrying with backoff) and subscribe every source."""
        with self._lock:
            if self._started:
                return
            self._started = True
            self._sync_subscriptions()
        self._local.connect_async(self.local_url.host, self.local_url.port, keepalive=30)
        self._local.loop_start()

    def stop(self) -> None:
        with self._lock:
            self._started = False
            for unsubscribe in self._iot_subs.values():
                unsubscribe()
            self._iot_subs.clear()
            for sub in self._bus_subs.values():
                self._close_bus_sub(sub)
            self._bus_subs.clear()
        self._local.disconnect()
        self._local.loop_stop()
        self._local_connected = False

    def wait_ready(self, timeout: float) -> bool:
        """Connected locally with every local subscription acknowledged, and the IoT Core link ready."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                ok = self._local_connected and not self._pending_local and all(
                    s is not None for s in self._bus_subs.values())
            wait_link = getattr(self.iot_link, "wait_ready", None)  # the link's own readiness, where it has one
            if ok and self._iot_subs and wait_link is not None:
                ok = wait_link(max(0.0, deadline - time.monotonic()))
            if ok:
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)

    def _on_local_connect(self, _c, _u, _flags, reason_code, _props) -> None:
        if reason_code.is_failure:
            log.warning("bridge: the local broker %s refused the connection: %s", self.local_url, reason_code)
            return
        with self._lock:
            self._local_connected = True
            self._pending_local.clear()
            for f in self._local_filters:  # a clean session: subscribe again after every (re)connect
                self._subscribe_local(f)

    def _on_local_disconnect(self, _c, _u, _flags, reason_code, _props) -> None:
        with self._lock:
            self._local_connected = False
        if self._started:
            log.warning("bridge: lost the local broker %s (%s); reconnecting", self.local_url, reason_code)

    def _on_local_ack(self, _c, _u, mid, *_rest) -> None:
        with self._lock:
            self._pending_local.discard(mid)

    # -- message flow ---------------------------------------------------------------------------

    def _on_local_message(self, _c, _u, message: paho.MQTTMessage) -> None:
        payload = bytes(message.payload)
        if self._echo["LocalMqtt"].is_echo(message.topic, payload):
            self._count("echoesDropped")
            return
        self._count("receivedLocalMqtt")
        self._route("LocalMqtt", message.topic, payload)

    def _on_iot_message(self, message: IotMessage) -> None:
        if self._echo["IotCore"].is_echo(message.topic, message.payload):
            self._count("echoesDropped")
            return
        self._count("receivedIotCore")
        self._route("IotCore", message.topic, message.payload)

    def _on_bus_message(self, message: Message) -> None:
        self._count("receivedPubsub")
        self._route("Pubsub", message.topic, pubsub_payload(message))

    def _route(self, source: str, topic: str, payload: bytes) -> None:
        for route in self._routes[source]:
            if topic_matches(route.topic, topic):
                try:
                    self._forward(route.target, route.target_topic(topic), payload)
                except Exception as exc:  # one failed target never stops the others
                    self._count("errors")
                    log.warning("bridge: mapping %s could not forward %s to %s: %s", route.name, topic,
                                route.target, exc)

    def _forward(self, target: str, topic: str, payload: bytes) -> None:
        if target == "Pubsub":
            self._to_bus(Message(topic, binary=payload, source=BRIDGE_SOURCE))
        elif target == "LocalMqtt":
            self._expect_echo("LocalMqtt", topic, payload)
            self._local.publish(topic, payload, qos=1)
        else:
            copies = self._expect_echo("IotCore", topic, payload)
            try:
                self._link.publish(IotMessage(topic=topic, payload=payload, qos=1))
            except Exception:
                for _ in range(copies):  # nothing was sent, so nothing will come back
                    self._echo["IotCore"].is_echo(topic, payload)
                raise
        self._count(f"sent{target}")

    def _to_bus(self, message: Message) -> None:
        """Queue a message for the bus; one hand-off to the bus's thread drains all that queued
        up meanwhile, so a stream of device messages costs one wake-up of the core's loop per
        batch instead of one per message. Order is kept."""
        with self._bus_lock:
            self._bus_queue.append(message)
            if self._bus_drain_scheduled:
                return
            self._bus_drain_scheduled = True
        self.call_soon(self._drain_to_bus)

    def _drain_to_bus(self) -> None:
        # Runs on the bus owner's thread.
        with self._bus_lock:
            batch, self._bus_queue = self._bus_queue, []
            self._bus_drain_scheduled = False
        for message in batch:
            self.bus.publish(message)

    def _expect_echo(self, broker: str, topic: str, payload: bytes) -> int:
        # Recorded before publishing: the echo can arrive before publish() returns.
        copies = sum(1 for f in self._echo_filters[broker] if topic_matches(f, topic))
        self._echo[broker].expect(topic, payload, copies)
        return copies
