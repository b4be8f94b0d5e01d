"""Ingest: telemetry bridged to the cloud broker (standing in for AWS IoT Core) into the data lake.

The gateway's MQTT bridge forwards `dt/compressor/+/telemetry` from LocalMqtt to IotCore; on AWS an
IoT rule would write it to S3. Here a paho-mqtt client subscribes at the cloud broker and hands each
message to `Lake.ingest`, which validates, appends or rejects. The demo runs `TelemetryIngest`
in-process (start/stop); `edgeloop cloud ingest` runs the same class in the foreground.

QoS 1 with a persistent session (clean_session False, fixed client id), so samples the broker holds
while ingest restarts are delivered afterwards; duplicates that QoS 1 may cause are removed by the
pipeline's preprocessing (plant, timestamp), not here, so ingest stays a pure append.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt
from edgeloop.simulator.plant.publisher import BrokerAddress, parse_broker
from paho.mqtt.enums import CallbackAPIVersion

from .lake import Lake

TELEMETRY_FILTER = "dt/compressor/+/telemetry"


class IngestError(Exception):
    """The broker cannot be reached or refused us; the message says which and why."""


class TelemetryIngest:
    """Subscribes at the cloud broker and writes every telemetry message to the lake."""

    def __init__(self, broker: str | BrokerAddress, lake_root: str | Path, *,
                 topic_filter: str = TELEMETRY_FILTER, client_id: str = "edgeloop-cloud-ingest",
                 connect_timeout_s: float = 10.0, log: Callable[[str], None] = lambda line: None) -> None:
        self.broker = broker if isinstance(broker, BrokerAddress) else parse_broker(broker)
        self.lake = Lake(lake_root)
        self.topic_filter = topic_filter
        self.connect_timeout_s = connect_timeout_s
        self.log = log
        self._subscribed = threading.Event()
        self._refused: str | None = None
        self._stopping = False
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        self.client.reconnect_delay_set(min_delay=1, max_delay=10)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect

    @property
    def accepted(self) -> int:
        return self.lake.accepted

    @property
    def rejected(self) -> dict[str, int]:
        return dict(self.lake.rejected)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._refused = str(reason_code)
            return
        self.log(f"connected to {self.broker}; subscribing to {self.topic_filter}")
        client.subscribe(self.topic_filter, qos=1)

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if any(code.is_failure for code in reason_codes):
            self._refused = f"subscription to {self.topic_filter} refused: {reason_codes}"
        else:
            self._subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._subscribed.clear()
        if not self._stopping:
            self.log(f"disconnected from {self.broker} ({reason_code}); reconnecting")

    def _on_message(self, client, userdata, message: mqtt.MQTTMessage) -> None:
        try:
            self.lake.ingest(message.topic, message.payload)
        except OSError as exc:  # disk full, permissions: keep the process alive and say so
            self.log(f"cannot write to the lake: {exc}")

    def start(self) -> TelemetryIngest:
        """Connect, subscribe and return once the subscription is acknowledged."""
        try:
            self.client.connect(self.broker.host, self.broker.port, keepalive=30)
        except (OSError, ValueError) as exc:
            raise IngestError(f"cannot reach MQTT broker {self.broker}: {exc}") from None
        self.client.loop_start()
        deadline = time.monotonic() + self.connect_timeout_s
        while not self._subscribed.wait(0.05):
            if self._refused or time.monotonic() > deadline:
                self.stop()
                raise IngestError(f"MQTT broker {self.broker}: "
                                  f"{self._refused or f'not subscribed within {self.connect_timeout_s:g} s'}")
        return self

    def stop(self) -> None:
        self._stopping = True
        self.client.disconnect()
        self.client.loop_stop()

    def summary(self) -> str:
        rejected = self.rejected
        detail = ", ".join(f"{reason}: {n}" for reason, n in sorted(rejected.items()))
        return (f"accepted {self.accepted}, rejected {sum(rejected.values())}"
                + (f" ({detail})" if detail else "") + f"; lake {self.lake.root}")

    def __enter__(self) -> TelemetryIngest:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
