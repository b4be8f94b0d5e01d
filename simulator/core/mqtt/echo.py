"""Recognises the bridge's own messages when a broker hands them back (loop prevention).

MQTT 3.1.1 (amqtt speaks only 3.1.1) has no "no local" subscription option, so a client subscribed to
a topic it publishes on receives its own message back. The bridge records each message it publishes
to a broker as (topic, payload digest) with the number of copies it expects back (one per matching
subscription it holds there) and drops that many arrivals of an identical message. Two identical
messages are indistinguishable, so dropping a device's identical copy instead of the echo changes
nothing a subscriber can observe. Records expire after `window_s`: an echo that arrives later (for
example one spooled for a long IoT Core outage) is bridged once more, but never circles, because
the next hop's record is fresh.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque

Key = tuple[str, bytes]


def _key(topic: str, payload: bytes) -> Key:
    return topic, hashlib.blake2b(payload, digest_size=16).digest()


class EchoFilter:
    def __init__(self, window_s: float = 30.0, max_entries: int = 100_000) -> None:
        self.window_s = window_s
        self.max_entries = max_entries
        # Each record is [expires_at, key, copies_left]; per key the oldest record is consumed first.
        self._by_key: dict[Key, deque[list]] = {}
        self._records: deque[list] = deque()
        self._lock = threading.Lock()

    def expect(self, topic: str, payload: bytes, copies: int = 1) -> None:
        """Remember that `copies` copies of this message will come back from the broker."""
        if copies <= 0:
            return
        key = _key(topic, payload)
        now = time.monotonic()
        record = [now + self.window_s, key, copies]
        with self._lock:
            self._expire(now)
            self._records.append(record)
            self._by_key.setdefault(key, deque()).append(record)
            while len(self._records) > self.max_entries:
                self._drop_oldest()

    def is_echo(self, topic: str, payload: bytes) -> bool:
        """True (and one expected copy consumed) if this arrival is the bridge's own message."""
        if not self._by_key:
            # Nothing is expected back (the usual case for device telemetry): skip hashing the
            # payload. expect() runs before the publish whose echo this could be, so a record
            # added for it is always visible here.
            return False
        key = _key(topic, payload)
        with self._lock:
            self._expire(time.monotonic())
            records = self._by_key.get(key)
            while records:
                record = records[0]
                if record[2] > 0:
                    record[2] -= 1
                    if record[2] == 0:
                        records.popleft()
                    if not records:
                        del self._by_key[key]
                    return True
                records.popleft()
            self._by_key.pop(key, None)
            return False

    def pending(self) -> int:
        """Copies still expected back (within the window)."""
        with self._lock:
            self._expire(time.monotonic())
            return sum(r[2] for r in self._records)

    def _expire(self, now: float) -> None:
        while self._records and self._records[0][0] <= now:
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        record = self._records.popleft()
        if record[2] <= 0:
            return  # fully consumed, already gone from its key's queue
        record[2] = 0
        records = self._by_key.get(record[1])
        if records and records[0] is record:
            records.popleft()
            if not records:
                del self._by_key[record[1]]
