"""Validation of the MQTT bridge's `mqttTopicMapping`, as aws.greengrass.clientdevices.mqtt.Bridge reads it.

    mqttTopicMapping:
      <name>: {topic: <filter>, source: LocalMqtt|Pubsub|IotCore, target: LocalMqtt|Pubsub|IotCore,
               targetTopicPrefix: <optional string>}

Errors name the mapping and the field, e.g. `mqttTopicMapping.toCloud.source: ...`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from edgeloop.simulator.core.errors import BridgeConfigError

from ..topics import validate_filter

BROKERS = ("LocalMqtt", "Pubsub", "IotCore")
_FIELDS = ("topic", "source", "target", "targetTopicPrefix")


@dataclass(frozen=True)
class Route:
    name: str
    topic: str
    source: str
    target: str
    prefix: str = ""

    def target_topic(self, topic: str) -> str:
        return self.prefix + topic


def parse_mapping(mapping: Any) -> list[Route]:
    """Routes from a `mqttTopicMapping` value; BridgeConfigError on the first problem found."""
    if mapping is None:
        return []
    if not isinstance(mapping, dict):
        raise BridgeConfigError(f"mqttTopicMapping must be an object of named mappings, got {type(mapping).__name__}")
    routes = []
    for name, entry in mapping.items():
        where = f"mqttTopicMapping.{name}"
        if not isinstance(entry, dict):
            raise BridgeConfigError(f"{where} must be an object with topic, source and target, "
                                    f"got {type(entry).__name__}")
        unknown = sorted(set(entry) - set(_FIELDS))
        if unknown:
            raise BridgeConfigError(f"{where}.{unknown[0]}: unknown field (expected one of {', '.join(_FIELDS)})")
        topic = entry.get("topic")
        if not isinstance(topic, str):
            raise BridgeConfigError(f"{where}.topic: required, a topic or MQTT topic filter string")
        problem = validate_filter(topic)
        if problem:
            raise BridgeConfigError(f"{where}.topic: {problem}")
        ends = {}
        for field in ("source", "target"):
            value = entry.get(field)
            if value not in BROKERS:
                raise BridgeConfigError(f"{where}.{field}: must be one of {', '.join(BROKERS)}, got {value!r}")
            ends[field] = value
        prefix = entry.get("targetTopicPrefix", "") or ""
        if not isinstance(prefix, str):
            raise BridgeConfigError(f"{where}.targetTopicPrefix: must be a string, got {type(prefix).__name__}")
        if "+" in prefix or "#" in prefix:
            raise BridgeConfigError(f"{where}.targetTopicPrefix: wildcards are not allowed, got {prefix!r}")
        if ends["source"] == ends["target"] and not prefix:
            raise BridgeConfigError(f"{where}: source and target are both {ends['source']} without a "
                                    f"targetTopicPrefix, which would republish each message onto its own topic")
        routes.append(Route(str(name), topic, ends["source"], ends["target"], prefix))
    return routes
