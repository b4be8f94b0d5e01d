"""Many wearables as MQTT client devices publishing `dt/sensor/<device_id>`.

One paho connection per device does not scale to thousands of devices (a socket and a network
thread each), so `connections` paho clients (default 1) publish on behalf of all device ids,
round-robin. The gateway only sees topics and payloads; each device keeps its own seq and
timestamps. QoS 1 with paho's unlimited queue so a short broker outage does not break seq.

Cost (1,000 wearables must leave the 2-core gateway most of its CPU): each device's signal is
generated in `block_s` blocks (30 s by default; device i's first block is shorter by i mod the
block, so only one device in 30 generates in any one second) and written as JSON a block at a
time (`encoding`): ~0.12 ms CPU per chunk instead of ~1.1 ms. The devices are spread evenly over
each interval, as unsynchronised wearables are, instead of all publishing in the same instant
(`spread=False` restores that burst). paho's QoS 1 publish is then the largest cost (~0.15 ms).
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edgeloop.brokers import BrokerAddress
from edgeloop.contracts.ecg import sensor_topic
from edgeloop.simulator.errors import PublisherError

from .simulator import Interval, WearableSimulator, labels_of, stream_json

SLOT_S = 0.05  # spread mode: publish every 50 ms the devices whose turn it is


class WearablePublisher:
    """Publishes one chunk per device every chunk_s / speedup wall seconds."""

    def __init__(self, sim: WearableSimulator, device_ids: list[str], broker: BrokerAddress, *,
                 chunk_s: float = 1.0, speedup: float = 1.0, connections: int = 1,
                 connect_timeout_s: float = 10.0, block_s: float = 30.0, spread: bool = True,
                 join_s: float = 0.0, on_publish: Callable[[int, int], None] | None = None,
                 log: Callable[[str], None] = lambda line: None) -> None:
        if not device_ids:
            raise ValueError("no devices to simulate")
        if not speedup > 0 or not chunk_s > 0:
            raise ValueError(f"chunk_s {chunk_s!r} and speedup {speedup!r} must be positive")
        if not join_s >= 0:
            raise ValueError(f"join_s {join_s!r} must not be negative")
        self.topics = {d: sensor_topic(d) for d in device_ids}
        self.sim, self.broker, self.log = sim, broker, log
        self.chunk_s, self.interval_s = chunk_s, chunk_s / speedup
        self.connect_timeout_s = connect_timeout_s
        self.block_chunks = max(1, round(block_s / chunk_s))
        self.spread, self.on_publish = spread, on_publish
        self.generators = {d: sim.device(d) for d in device_ids}
        self.sent = dict.fromkeys(device_ids, 0)  # chunks published per device
        # device i joins at this round: switched on at different times, so gateway windows end
        # spread over the minute instead of all in the same second
        rounds = round(join_s / chunk_s)
        self.join_round = [i * rounds // len(device_ids) for i in range(len(device_ids))]
        self.speedup = speedup
        self.clients = [self._client(k) for k in range(max(1, min(connections, len(device_ids))))]
        self._connected = [threading.Event() for _ in self.clients]
        self._refused: str | None = None
        self._stop_event = threading.Event()
        self.chunks_sent = 0
        self.start_times: dict[str, float] = {}   # epoch of each device's first sample, once running

    def _client(self, k: int) -> mqtt.Client:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, clean_session=True,
                             client_id=f"edgeloop-wearables-{os.getpid()}-{k}")
        client.max_queued_messages_set(0)
        client.max_inflight_messages_set(1000)
        client.reconnect_delay_set(min_delay=1, max_delay=10)

        def on_connect(client, userdata, flags, reason_code, properties) -> None:
            if reason_code.is_failure:
                self._refused = str(reason_code)
            else:
                self._connected[k].set()

        def on_disconnect(client, userdata, flags, reason_code, properties) -> None:
            self._connected[k].clear()

        client.on_connect, client.on_disconnect = on_connect, on_disconnect
        return client

    def connect(self) -> None:
        for client in self.clients:
            try:
                client.connect(self.broker.host, self.broker.port, keepalive=30)
            except (OSError, ValueError) as exc:
                raise PublisherError(f"cannot reach MQTT broker {self.broker}: {exc}") from None
            client.loop_start()
        deadline = time.monotonic() + self.connect_timeout_s
        for event in self._connected:
            while not event.wait(0.1):
                if self._refused or time.monotonic() > deadline:
                    self._stop()
                    reason = self._refused or f"no CONNACK within {self.connect_timeout_s:g} s"
                    raise PublisherError(f"MQTT broker {self.broker}: {reason}")

    def run(self, duration_s: float | None = None, count: int | None = None) -> int:
        """Publish until `duration_s` wall seconds or `count` chunks per device; returns chunks
        per device sent (complete rounds over all devices)."""
        self.connect()
        slots = self._slots(len(self.generators))
        offsets = [offset for offset, first, stop in slots for _ in range(first, stop)]
        start = time.time()
        k = self.block_chunks
        streams = []
        for i, (d, g) in enumerate(self.generators.items()):
            # A wearable sends a chunk once its last sample is taken: its first sample came chunk_s
            # before its first publish, so at speedup 1 a window's end is the wall-clock time its
            # last chunk leaves the device.
            self.start_times[d] = (start + self.join_round[i] * self.chunk_s + offsets[i] * self.speedup
                                   - self.chunk_s)
            stream = stream_json(g, d, self.chunk_s, self.start_times[d], k, 1 + i % k)
            # Every device's first block is generated here; afterwards about one device in k
            # generates per interval.
            streams.append((d, self.topics[d], itertools.chain([next(stream)], stream)))
        last: dict[int, mqtt.MQTTMessageInfo] = {}
        # the schedule starts when the timestamps say (a round that generating the first blocks
        # made late is published at once), so chunk timestamps and publish times agree
        t0 = time.monotonic() - (time.time() - start)
        last_report = time.monotonic()
        try:
            while (count is None or self.chunks_sent < count) and not self._stop_event.is_set():
                due = t0 + self.chunks_sent * self.interval_s
                if duration_s is not None and due - t0 >= duration_s:
                    break
                for offset, first, stop in slots:
                    wait = due + offset - time.monotonic()
                    if wait > 0:
                        time.sleep(wait)
                    for i in range(first, stop):
                        if self.chunks_sent < self.join_round[i]:
                            continue
                        device_id, topic, stream = streams[i]
                        c = i % len(self.clients)
                        last[c] = self.clients[c].publish(topic, next(stream), qos=1)
                        self.sent[device_id] += 1
                        if self.on_publish is not None:
                            self.on_publish(i, self.chunks_sent)
                self.chunks_sent += 1
                now = time.monotonic()
                if now - last_report >= 5.0:
                    last_report = now
                    behind = now - (due + self.interval_s)
                    lag = (f"; falling behind real time by {behind:.1f} s: too many devices"
                           if behind > self.interval_s else "")
                    self.log(f"published {self.chunks_sent} chunks x {len(streams)} devices{lag}")
            return self.chunks_sent
        finally:
            for info in last.values():
                try:
                    info.wait_for_publish(timeout=10.0)
                except (RuntimeError, ValueError):
                    self.log("some chunks were not acknowledged before exit")
            self._stop()

    def stop(self) -> None:
        """Make `run` return after the round in progress (safe from another thread)."""
        self._stop_event.set()

    def _slots(self, n: int) -> list[tuple[float, int, int]]:
        """(offset in the interval, first device, end device) of each publishing slot."""
        count = max(1, min(n, int(self.interval_s / SLOT_S))) if self.spread else 1
        bounds = [round(j * n / count) for j in range(count + 1)]
        return [(j * self.interval_s / count, bounds[j], bounds[j + 1]) for j in range(count)
                if bounds[j + 1] > bounds[j]]

    def _stop(self) -> None:
        for client in self.clients:
            client.disconnect()
            client.loop_stop()

    def labels(self) -> dict[str, list[Interval]]:
        """Ground truth of what was published (never sent to the gateway)."""
        return {d: labels_of(g, self.sent[d] * self.chunk_s) for d, g in self.generators.items()}
