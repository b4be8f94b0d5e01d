"""The plant as an MQTT client device: live telemetry on `dt/compressor/<plant_id>/telemetry`.

One sample per simulated minute; `speedup` compresses simulated time (speedup 60 sends one
sample per wall second, stamped one simulated minute apart, starting from the wall clock).
QoS 1 with paho's automatic reconnect: samples produced while the broker is away are queued by
paho and delivered after reconnecting, so `seq` stays continuous for the subscriber.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edgeloop.brokers import BrokerAddress
from edgeloop.contracts import plant as contract
from edgeloop.simulator.errors import PublisherError

from .plant import Plant
from .telemetry import TelemetrySource

SIMULATED_STEP_S = 60.0
CHUNK = 60  # samples generated at a time


def check_plant_id(plant_id: str) -> str:
    """A plant id the gateway and the lake accept (the contract's rule); ValueError says why not."""
    try:
        return contract.check_plant_id(plant_id)
    except contract.TelemetryError as exc:
        raise ValueError(f"plant id {exc.problem}") from None


def telemetry_topic(plant_id: str) -> str:
    return contract.TELEMETRY_TOPIC.format(plant_id=check_plant_id(plant_id))


class PlantPublisher:
    """Publishes the plant's live telemetry until a duration or message count is reached."""

    def __init__(self, plant: Plant, plant_id: str, broker: BrokerAddress, *,
                 speedup: float = 60.0, seed: int = 0, connect_timeout_s: float = 10.0,
                 log: Callable[[str], None] = lambda line: None) -> None:
        if not speedup > 0:
            raise ValueError(f"speedup must be positive, got {speedup!r}")
        self.plant = plant
        self.plant_id = check_plant_id(plant_id)
        self.topic = telemetry_topic(plant_id)
        self.broker = broker
        self.interval_s = SIMULATED_STEP_S / speedup
        self.seed = seed
        self.connect_timeout_s = connect_timeout_s
        self.log = log
        self._connected = threading.Event()
        self._refused: str | None = None
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2,
                                  client_id=f"edgeloop-plant-{plant_id}", clean_session=True)
        self.client.max_queued_messages_set(0)  # 0 = unlimited, keep samples across outages
        self.client.reconnect_delay_set(min_delay=1, max_delay=10)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        # paho marks a sample published while disconnected as failed (MQTT_ERR_NO_CONN) yet
        # keeps it and sends it after reconnecting, so PUBACKs, not publish() return codes, tell
        # what was delivered. A PUBACK may arrive before publish() returns the mid.
        self._unacked: set[int] = set()
        self._acked_early: set[int] = set()
        self._lock = threading.Lock()  # never held while calling into paho (its locks nest)
        self._closing = False

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._refused = str(reason_code)
            self.log(f"broker {self.broker} refused the connection: {reason_code}")
        else:
            self.log(f"connected to {self.broker}")
            self._connected.set()

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        with self._lock:
            if mid in self._unacked:
                self._unacked.discard(mid)
            else:
                self._acked_early.add(mid)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._connected.clear()
        if not self._closing:
            self.log(f"disconnected from {self.broker} ({reason_code}); reconnecting")

    def connect(self) -> None:
        """Connect and wait for CONNACK; PublisherError explains why it failed."""
        try:
            self.client.connect(self.broker.host, self.broker.port, keepalive=30)
        except (OSError, ValueError) as exc:
            raise PublisherError(f"cannot reach MQTT broker {self.broker}: {exc}") from None
        self.client.loop_start()
        deadline = time.monotonic() + self.connect_timeout_s
        while not self._connected.wait(0.1):
            if self._refused or time.monotonic() > deadline:
                self.client.loop_stop()
                reason = self._refused or f"no CONNACK within {self.connect_timeout_s:g} s"
                raise PublisherError(f"MQTT broker {self.broker}: {reason}")

    def run(self, duration_s: float | None = None, count: int | None = None) -> int:
        """Publish until `duration_s` wall seconds or `count` samples; returns samples sent."""
        self.connect()
        source = TelemetrySource(self.plant, datetime.now(UTC), self.seed,
                                 SIMULATED_STEP_S)
        seq, t0, last_report = 0, time.monotonic(), time.monotonic()
        try:
            while count is None or seq < count:
                rows = source.next(CHUNK if count is None else min(CHUNK, count - seq)).rows()
                for row in rows:
                    wait = t0 + seq * self.interval_s - time.monotonic()
                    if duration_s is not None and time.monotonic() - t0 + max(wait, 0) > duration_s:
                        return seq
                    if wait > 0:
                        time.sleep(wait)
                    sample = contract.Telemetry(self.plant_id, contract.parse_timestamp(row["timestamp"]),
                                                row["flow"], row["pressure"], row["power"], row["config"], seq)
                    info = self.client.publish(self.topic, contract.encode_telemetry(sample), qos=1)
                    with self._lock:
                        if info.mid in self._acked_early:
                            self._acked_early.discard(info.mid)
                        else:
                            self._unacked.add(info.mid)
                    seq += 1
                    if time.monotonic() - last_report >= 5.0:
                        last_report = time.monotonic()
                        self.log(f"published {seq} samples, sim time {row['timestamp']}, "
                                 f"flow {row['flow']:.0f} cfm, {row['config']}, "
                                 f"{len(self._unacked)} awaiting ack")
            return seq
        finally:
            self._drain()
            self._closing = True
            self.client.disconnect()
            self.client.loop_stop()

    def _drain(self, timeout_s: float = 10.0) -> None:
        """Give unacknowledged QoS 1 samples a bounded time to be delivered before leaving."""
        deadline = time.monotonic() + timeout_s
        while self._unacked and time.monotonic() < deadline:
            time.sleep(0.02)
        if self._unacked:
            self.log(f"{len(self._unacked)} samples were not acknowledged before exit")
