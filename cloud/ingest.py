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

from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as mqtt

from edgeloop.brokers import BrokerAddress, parse_broker
from edgeloop.cloud.errors import IngestError
from edgeloop.contracts.plant import TELEMETRY_FILTER

from .lake import Lake
from .subscription import MqttSubscription


class TelemetryIngest:
    """Subscribes at the cloud broker and writes every telemetry message to the lake."""

    def __init__(self, broker: str | BrokerAddress, lake_root: str | Path, *,
                 topic_filter: str = TELEMETRY_FILTER, client_id: str = "edgeloop-cloud-ingest",
                 connect_timeout_s: float = 10.0, log: Callable[[str], None] = lambda line: None) -> None:
        self.broker = broker if isinstance(broker, BrokerAddress) else parse_broker(broker)
        self.lake = Lake(lake_root)
        self.topic_filter = topic_filter
        self.log = log
        self.subscription = MqttSubscription(self.broker, client_id, [topic_filter], self._on_message,
                                             connect_timeout_s=connect_timeout_s, log=log, error=IngestError)

    @property
    def accepted(self) -> int:
        return self.lake.accepted

    @property
    def rejected(self) -> dict[str, int]:
        return dict(self.lake.rejected)

    def _on_message(self, message: mqtt.MQTTMessage) -> None:
        try:
            self.lake.ingest(message.topic, bytes(message.payload))
        except OSError as exc:  # disk full, permissions: keep the process alive and say so
            self.log(f"cannot write to the lake: {exc}")

    def start(self) -> TelemetryIngest:
        """Connect, subscribe and return once the subscription is acknowledged."""
        self.subscription.start()
        return self

    def stop(self) -> None:
        self.subscription.stop()

    def summary(self) -> str:
        rejected = self.rejected
        detail = ", ".join(f"{reason}: {n}" for reason, n in sorted(rejected.items()))
        return (f"accepted {self.accepted}, rejected {sum(rejected.values())}"
                + (f" ({detail})" if detail else "") + f"; lake {self.lake.root}")

    def __enter__(self) -> TelemetryIngest:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
