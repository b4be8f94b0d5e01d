"""The recipes' access control (YAML, so it restates topics) grants exactly what the contracts name:
every topic a component subscribes to or publishes on is allowed by its recipe."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from edgeloop.contracts import ecg, plant, twin
from edgeloop.simulator.core.ipc.authz import parse_policies, resource_matches

ROOT = Path(__file__).resolve().parents[3]
THING = "gw-1"
PUBSUB, MQTTPROXY = "aws.greengrass.ipc.pubsub", "aws.greengrass.ipc.mqttproxy"
SUBSCRIBE, PUBLISH = "aws.greengrass#SubscribeToTopic", "aws.greengrass#PublishToTopic"
SUBSCRIBE_IOT, PUBLISH_IOT = "aws.greengrass#SubscribeToIoTCore", "aws.greengrass#PublishToIoTCore"

TWIN = ROOT / "recipe.yaml"
PREFILTER = ROOT / "recipes" / "com.edgeloop.EcgPrefilter.yaml"
CASES = [
    (TWIN, PUBSUB, SUBSCRIBE, [twin.REQUEST_TOPIC, plant.TELEMETRY_FILTER]),
    (TWIN, PUBSUB, PUBLISH, [twin.RESPONSE_TOPIC.format(request_id="r-1"),
                             plant.RECOMMENDATION_TOPIC.format(plant_id="p1"),
                             plant.LIVE_ERROR_TOPIC.format(plant_id="p1"), twin.STATUS_TOPIC]),
    (TWIN, MQTTPROXY, SUBSCRIBE_IOT, [twin.IOT_REQUEST_TOPIC.format(thing=THING)]),
    (TWIN, MQTTPROXY, PUBLISH_IOT, [twin.IOT_RESPONSE_TOPIC.format(thing=THING, request_id="r-1"),
                                    twin.IOT_STATUS_TOPIC.format(thing=THING)]),
    (PREFILTER, PUBSUB, SUBSCRIBE, [ecg.SENSOR_FILTER]),
    (PREFILTER, PUBSUB, PUBLISH, [ecg.ALERT_TOPIC.format(device_id="w-1"), ecg.ERROR_TOPIC.format(device_id="w-1"),
                                  ecg.STATUS_TOPIC]),
    (PREFILTER, MQTTPROXY, PUBLISH_IOT, [t.format(device_id="w-1") for t in (ecg.WINDOW_TOPIC, ecg.ALERT_TOPIC,
                                                                             ecg.SUMMARY_TOPIC, ecg.ERROR_TOPIC)]
     + [ecg.IOT_STATUS_TOPIC.format(thing=THING)]),
]


@pytest.mark.parametrize("recipe, service, operation, topics", CASES,
                         ids=[f"{r.stem}-{o.split('#')[1]}" for r, _, o, _ in CASES])
def test_each_contract_topic_a_component_uses_is_granted(recipe, service, operation, topics):
    access = yaml.safe_load(recipe.read_text())["ComponentConfiguration"]["DefaultConfiguration"]["accessControl"]
    policies = [p for p in parse_policies(recipe.stem, access, THING)
                if p.service == service and operation in p.operations]
    refused = [t for t in topics if not any(resource_matches(service, r, t) for p in policies for r in p.resources)]
    assert refused == []
