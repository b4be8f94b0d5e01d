"""The local publish/subscribe bus that components reach through IPC and the MQTT bridge feeds.

Delivery is synchronous from the publisher's call: each subscriber's callback must only enqueue
(an IPC connection writes a frame to its transport buffer; the bridge hands over to its client).
A subscriber that raises is counted and logged and never costs the publisher or other subscribers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .topics import topic_matches

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Message:
    """One pub/sub message: JSON (any JSON value) or binary, as the IPC API distinguishes them."""

    topic: str
    json: Any = None
    binary: bytes | None = None
    source: str = ""  # the publisher: a component name, or "bridge" for the MQTT bridge

    @property
    def is_binary(self) -> bool:
        return self.binary is not None


Callback = Callable[[Message], None]


@dataclass(eq=False)
class Subscription:
    topic_filter: str
    callback: Callback
    subscriber: str
    receive_own: bool = True
    _bus: PubSubBus | None = field(default=None, repr=False)

    def close(self) -> None:
        if self._bus is not None:
            self._bus._remove(self)
            self._bus = None


class PubSubBus:
    def __init__(self) -> None:
        self._exact: dict[str, list[Subscription]] = {}
        self._wildcard: list[Subscription] = []
        self.delivered = 0
        self.subscriber_errors = 0

    def subscribe(self, topic_filter: str, callback: Callback, *, subscriber: str,
                  receive_own: bool = True) -> Subscription:
        sub = Subscription(topic_filter, callback, subscriber, receive_own, self)
        if "+" in topic_filter or "#" in topic_filter:
            self._wildcard.append(sub)
        else:
            self._exact.setdefault(topic_filter, []).append(sub)
        return sub

    def _remove(self, sub: Subscription) -> None:
        if sub in self._wildcard:
            self._wildcard.remove(sub)
            return
        subs = self._exact.get(sub.topic_filter, [])
        if sub in subs:
            subs.remove(sub)
            if not subs:
                del self._exact[sub.topic_filter]

    def matching(self, topic: str) -> list[Subscription]:
        subs = list(self._exact.get(topic, ()))
        subs.extend(s for s in self._wildcard if topic_matches(s.topic_filter, topic))
        return subs

    def publish(self, message: Message) -> int:
        """Deliver to every matching subscriber; returns how many received it."""
        count = 0
        for sub in self.matching(message.topic):
            if not sub.receive_own and sub.subscriber == message.source:
                continue
            try:
                sub.callback(message)
                count += 1
            except Exception:  # one bad subscriber never costs the others
                self.subscriber_errors += 1
                log.exception("pub/sub subscriber %s failed on topic %s", sub.subscriber, message.topic)
        self.delivered += count
        return count

    def subscription_count(self) -> int:
        return sum(len(v) for v in self._exact.values()) + len(self._wildcard)
