"""The core's link to AWS IoT Core (or a broker standing in for it), with a durable spool.

Publishing: while connected and nothing is spooled, a message goes straight to the client; otherwise
it is appended to the SQLite spool (`Spool`) and the link's sender thread drains the spool in order
once connected, deleting each message only after the broker acknowledged it (QoS 1) or it was
written to the socket (QoS 0). So messages survive disconnections and restarts of the core, in order,
at least once. A full spool drops QoS 0 messages oldest-first (counted) and refuses QoS 1 messages
with CoreError.

Subscribing: the link holds one broker subscription per filter that no other filter covers
(`filters.minimal_filters`), re-establishes them after every reconnect, and hands each arriving
message to every local subscriber whose filter matches.

Threads: subscriber callbacks run on the transport's network thread (paho's loop thread or the CRT
event loop), which the link owns; they must return quickly. The IPC layer hands them to its event
loop with `loop.call_soon_threadsafe`. `publish` and `subscribe` may be called from any thread.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edgeloop.simulator.core.errors import CoreError, InvalidArguments, NotConnected

from ..ipc.core_api import IotMessage
from ..topics import filter_covers, topic_matches, validate_filter, validate_topic
from .filters import minimal_filters
from .spool import DEFAULT_MAX_BYTES, Spool
from .transports import AwsIotTransport, PahoTransport, PendingPublish, Transport, TransportEvents

log = logging.getLogger(__name__)

_BATCH = 200


@dataclass
class _Sub:
    topic_filter: str
    qos: int
    callback: Callable[[IotMessage], None]
    subscriber: str


class IotCoreLink:
    """Implements `IotCoreLinkApi`. Build one with `for_broker`, `for_aws_iot` or `disabled`."""

    def __init__(self, transport: Transport | None, spool: Spool, *, ack_timeout: float = 10.0) -> None:
        self._transport = transport
        self._spool = spool
        self.ack_timeout = ack_timeout
        self.sent = 0
        self.spooled = 0
        self.received = 0
        self.callback_errors = 0
        self._subs: dict[int, _Sub] = {}
        self._ids = itertools.count(1)
        self._broker_filters: dict[str, int] = {}  # filter -> qos, as subscribed at the broker
        self._sub_lock = threading.Lock()
        self._send_lock = threading.Lock()  # orders direct sends against the spool drain
        self._wake = threading.Condition()
        self._state = "disabled" if transport is None else "new"
        self._stopping = False
        self._closed = False
        self._sender: threading.Thread | None = None

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def for_broker(cls, url: str, thing_name: str, spool_path: str | Path, *,
                   max_spool_bytes: int = DEFAULT_MAX_BYTES, min_backoff: int = 1, max_backoff: int = 30,
                   ack_timeout: float = 10.0) -> IotCoreLink:
        """A link to `mqtt://host:port` (MQTT 3.1.1) or `mqtt5://host:port`; the client id is the thing name."""
        transport = PahoTransport(url, thing_name, min_backoff=min_backoff, max_backoff=max_backoff)
        return cls(transport, Spool(spool_path, max_spool_bytes), ack_timeout=ack_timeout)

    @classmethod
    def for_aws_iot(cls, endpoint: str, cert_path: str | Path, key_path: str | Path, ca_path: str | Path | None,
                    thing_name: str, spool_path: str | Path, *, port: int = 8883,
                    max_spool_bytes: int = DEFAULT_MAX_BYTES, ack_timeout: float = 10.0) -> IotCoreLink:
        """A link to AWS IoT Core over mutual TLS. Raises CoreError naming a missing or unreadable file."""
        transport = AwsIotTransport(endpoint, cert_path, key_path, ca_path, thing_name, port=port)
        return cls(transport, Spool(spool_path, max_spool_bytes), ack_timeout=ack_timeout)

    @classmethod
    def disabled(cls, spool_path: str | Path, *, max_spool_bytes: int = DEFAULT_MAX_BYTES) -> IotCoreLink:
        """No cloud configured: publishes are spooled (nothing is lost), subscriptions are accepted."""
        return cls(None, Spool(spool_path, max_spool_bytes))

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """disabled, new, connecting, connected, disconnected or stopped."""
        return self._state

    @property
    def connected(self) -> bool:
        return self._transport is not None and self._transport.connected

    @property
    def description(self) -> str:
        return self._transport.description if self._transport else "no cloud configured"

    def start(self) -> None:
        if self._transport is None or self._sender is not None:
            return
        self._stopping = False
        self._state = "connecting"
        self._sender = threading.Thread(target=self._drain_loop, name="iotcore-spool", daemon=True)
        self._sender.start()
        self._transport.start(TransportEvents(self._on_connected, self._on_disconnected, self._on_message))

    def stop(self) -> None:
        """Disconnect and close the spool; what is still spooled stays on disk for the next start."""
        self._stopping = True
        with self._wake:
            self._wake.notify_all()
        if self._sender is not None:
            self._sender.join(timeout=self.ack_timeout + 5)
            self._sender = None
        if self._transport is not None:
            self._transport.stop()
            self._state = "stopped"
        with self._send_lock:
            self._closed = True
            self._spool.close()

    def wait_connected(self, timeout: float) -> bool:
        return self._wait(lambda: self.connected, timeout)

    def wait_ready(self, timeout: float) -> bool:
        """Connected and every subscription acknowledged by the broker (tests, start-up)."""
        transport = self._transport
        return self._wait(lambda: transport is not None and transport.connected
                          and transport.pending_subscriptions() == 0, timeout)

    def wait_drained(self, timeout: float) -> bool:
        """True once the spool is empty."""
        return self._wait(lambda: len(self._spool) == 0, timeout)

    @staticmethod
    def _wait(condition: Callable[[], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    # -- publishing -----------------------------------------------------------------------------

    def publish(self, message: IotMessage) -> None:
        problem = validate_topic(message.topic)
        if problem:
            raise InvalidArguments(f"cannot publish to IoT Core: {problem}")
        if message.qos not in (0, 1):
            raise InvalidArguments(f"cannot publish to IoT Core topic {message.topic!r}: QoS must be 0 or 1, "
                                   f"got {message.qos}")
        with self._send_lock:
            if self._closed:
                raise CoreError(f"the IoT Core link to {self.description} is stopped; "
                                f"the message to {message.topic!r} was not accepted")
            if self._transport is not None and self._transport.connected and len(self._spool) == 0:
                try:
                    self._transport.publish(message)
                    self.sent += 1
                    return
                except NotConnected:
                    pass
            if self._spool.put(message):
                self.spooled += 1
        with self._wake:
            self._wake.notify_all()

    def _drain_loop(self) -> None:
        while not self._stopping:
            with self._wake:
                while not self._stopping and not (self.connected and len(self._spool)):
                    self._wake.wait(0.5)
            if self._stopping:
                return
            try:
                self._drain_batch()
            except Exception:  # never let the sender die: log, back off, retry
                log.exception("IoT Core spool: sending failed")
                time.sleep(1)

    def _drain_batch(self) -> None:
        batch = self._spool.peek(_BATCH)
        handed: list[tuple[int, PendingPublish]] = []
        if self._transport is None:
            return
        with self._send_lock:
            for row_id, msg in batch:
                try:
                    handed.append((row_id, self._transport.publish(msg)))
                except NotConnected:
                    break
        done: list[int] = []
        for row_id, pending in handed:
            if not pending.wait(self.ack_timeout):
                break  # keep this one and the rest spooled, in order, for the next connection
            done.append(row_id)
        self._spool.remove(done)
        self.sent += len(done)
        if len(done) < len(handed):
            time.sleep(0.2)

    # -- subscribing ----------------------------------------------------------------------------

    def subscribe(self, topic_filter: str, qos: int, callback: Callable[[IotMessage], None],
                  *, subscriber: str) -> Callable[[], None]:
        problem = validate_filter(topic_filter)
        if problem:
            raise InvalidArguments(f"cannot subscribe to IoT Core: {problem}")
        if qos not in (0, 1):
            raise InvalidArguments(f"cannot subscribe to IoT Core topic {topic_filter!r}: QoS must be 0 or 1, "
                                   f"got {qos}")
        with self._sub_lock:
            sub_id = next(self._ids)
            self._subs[sub_id] = _Sub(topic_filter, qos, callback, subscriber)
            self._sync_broker_filters()

        def unsubscribe() -> None:
            with self._sub_lock:
                if self._subs.pop(sub_id, None) is not None:
                    self._sync_broker_filters()
        return unsubscribe

    def _wanted_filters(self) -> dict[str, int]:
        wanted = minimal_filters(s.topic_filter for s in self._subs.values())
        return {f: max(s.qos for s in self._subs.values() if filter_covers(f, s.topic_filter)) for f in wanted}

    def _sync_broker_filters(self) -> None:
        """Bring the broker's subscriptions in line with the local ones (caller holds _sub_lock)."""
        wanted = self._wanted_filters()
        if self._transport is not None and self._transport.connected:
            for f, qos in wanted.items():
                if self._broker_filters.get(f) != qos:
                    self._transport.subscribe(f, qos)
            for f in self._broker_filters.keys() - wanted.keys():
                self._transport.unsubscribe(f)
            self._broker_filters = wanted

    def _on_connected(self) -> None:
        self._state = "connected"
        log.info("IoT Core link connected to %s", self.description)
        with self._sub_lock:
            self._broker_filters = {}  # a clean session: the broker remembers nothing
            self._sync_broker_filters()
        with self._wake:
            self._wake.notify_all()

    def _on_disconnected(self, reason: str) -> None:
        self._state = "disconnected"
        log.warning("IoT Core link lost its connection to %s: %s; reconnecting with backoff",
                    self.description, reason)

    def _on_message(self, msg: IotMessage) -> None:
        self.received += 1
        with self._sub_lock:
            targets = [s for s in self._subs.values() if topic_matches(s.topic_filter, msg.topic)]
        for sub in targets:
            try:
                sub.callback(msg)
            except Exception:  # one bad subscriber never costs the others
                self.callback_errors += 1
                log.exception("IoT Core subscriber %s failed on topic %s", sub.subscriber, msg.topic)

    # -- observability --------------------------------------------------------------------------

    @property
    def dropped(self) -> int:
        return self._spool.dropped

    def counters(self) -> dict[str, int | str | bool]:
        return {"state": self._state, "connected": self.connected, "sent": self.sent, "spooled": self.spooled,
                "dropped": self._spool.dropped, "received": self.received, "callbackErrors": self.callback_errors,
                "spoolMessages": len(self._spool), "spoolBytes": self._spool.bytes}
