"""One cloud-side MQTT subscriber: a paho client with a persistent session (clean_session False,
fixed client id) subscribed at QoS 1, again after every reconnect, so messages the broker holds while
the subscriber restarts are delivered afterwards. Used by telemetry ingest and the ECG receiver."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edgeloop.brokers import BrokerAddress


class MqttSubscription:
    """One paho client with a persistent session, subscribed at QoS 1 to `filters` (again after
    every reconnect); `start()` returns once the broker acknowledged the subscription."""

    def __init__(self, broker: BrokerAddress, client_id: str, filters: Sequence[str],
                 on_message: Callable[[mqtt.MQTTMessage], None], *, connect_timeout_s: float = 10.0,
                 log: Callable[[str], None] = lambda line: None,
                 error: type[Exception] = ConnectionError) -> None:
        self.broker, self.filters, self.log = broker, list(filters), log
        self.connect_timeout_s, self.error = connect_timeout_s, error
        self._handler = on_message
        self._subscribed = threading.Event()
        self._refused: str | None = None
        self._stopping = False
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        self.client.reconnect_delay_set(min_delay=1, max_delay=10)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = lambda client, userdata, message: self._handler(message)

    @property
    def connected(self) -> bool:
        return self._subscribed.is_set()

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self._refused = str(reason_code)
            return
        self.log(f"connected to {self.broker}; subscribing to {', '.join(self.filters)}")
        client.subscribe([(f, 1) for f in self.filters])

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        if any(code.is_failure for code in reason_codes):
            self._refused = f"subscription to {', '.join(self.filters)} refused: {reason_codes}"
        else:
            self._subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self._subscribed.clear()
        if not self._stopping:
            self.log(f"disconnected from {self.broker} ({reason_code}); reconnecting")

    def start(self) -> None:
        try:
            self.client.connect(self.broker.host, self.broker.port, keepalive=30)
        except (OSError, ValueError) as exc:
            raise self.error(f"cannot reach MQTT broker {self.broker}: {exc}") from None
        self.client.loop_start()
        deadline = time.monotonic() + self.connect_timeout_s
        while not self._subscribed.wait(0.05):
            if self._refused or time.monotonic() > deadline:
                self.stop()
                raise self.error(f"MQTT broker {self.broker}: "
                                    f"{self._refused or f'not subscribed within {self.connect_timeout_s:g} s'}")

    def stop(self) -> None:
        self._stopping = True
        self.client.disconnect()
        self.client.loop_stop()
