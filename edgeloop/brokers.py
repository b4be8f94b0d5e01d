"""MQTT broker addresses as edgeloop's clients take them: `mqtt://HOST:PORT`.

One parser for every MQTT client edgeloop runs: the device simulators, the cloud's subscriptions
(ingest, the ECG receiver), the core's bridge and its IoT Core link to a stand-in broker.
`mqtt://` is MQTT 3.1.1 and `mqtt5://` MQTT 5; the port defaults to 1883. The core's link is the
one client that speaks MQTT 5; the others connect with 3.1.1 to either.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

SCHEMES = {"mqtt": False, "mqtt5": True}   # scheme -> MQTT 5


@dataclass(frozen=True)
class BrokerAddress:
    host: str
    port: int
    mqtt5: bool = False

    def __str__(self) -> str:
        return f"{'mqtt5' if self.mqtt5 else 'mqtt'}://{self.host}:{self.port}"


def parse_broker(url: str) -> BrokerAddress:
    """`mqtt://HOST:PORT` or `mqtt5://HOST:PORT` -> BrokerAddress; ValueError naming what is wrong."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"broker URL {url!r}: bad port ({exc})") from None
    if parts.scheme not in SCHEMES:
        raise ValueError(f"broker URL {url!r}: expected mqtt://HOST:PORT (MQTT 3.1.1) or mqtt5://HOST:PORT "
                         f"(MQTT 5); scheme {parts.scheme or 'missing'!r} is not supported")
    if not parts.hostname:
        raise ValueError(f"broker URL {url!r}: missing host, expected mqtt://HOST:PORT")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"broker URL {url!r}: unexpected path or query after HOST:PORT")
    return BrokerAddress(parts.hostname, 1883 if port is None else port, SCHEMES[parts.scheme])
