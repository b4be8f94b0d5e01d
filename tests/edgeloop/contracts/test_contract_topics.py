"""Topic templates: each one's filter matches what it formats, and its levels read back out."""

from __future__ import annotations

import pytest

from edgeloop.contracts import ecg, plant, twin
from edgeloop.contracts.topics import placeholders, topic_filter, topic_levels
from edgeloop.simulator.core.topics import topic_matches

TEMPLATES = [plant.TELEMETRY_TOPIC, plant.RECOMMENDATION_TOPIC, plant.LIVE_ERROR_TOPIC,
             twin.REQUEST_TOPIC, twin.RESPONSE_TOPIC, twin.IOT_REQUEST_TOPIC, twin.IOT_RESPONSE_TOPIC,
             twin.STATUS_TOPIC, twin.IOT_STATUS_TOPIC, ecg.SENSOR_TOPIC, ecg.WINDOW_TOPIC, ecg.ALERT_TOPIC,
             ecg.SUMMARY_TOPIC, ecg.ERROR_TOPIC, ecg.STATUS_TOPIC, ecg.IOT_STATUS_TOPIC]


@pytest.mark.parametrize("template", TEMPLATES)
def test_each_template_formats_a_topic_its_filter_matches_and_reads_back(template):
    values = {name: f"{name}-7" for name in placeholders(template)}
    topic = template.format(**values)
    assert topic_matches(topic_filter(template), topic)
    assert topic_levels(template, topic) == values


def test_the_published_filters_are_the_templates_filters():
    assert plant.TELEMETRY_FILTER == "dt/compressor/+/telemetry"
    assert plant.RECOMMENDATION_FILTER == "dt/compressor/+/recommendation"
    assert plant.LIVE_ERROR_FILTER == "dt/compressor/+/twin/error"
    assert ecg.SENSOR_FILTER == "dt/sensor/+"
    assert (ecg.WINDOW_FILTER, ecg.ALERT_FILTER, ecg.SUMMARY_FILTER, ecg.ERROR_FILTER) == (
        "dt/ecg/+/window", "dt/ecg/+/alert", "dt/ecg/+/summary", "dt/ecg/+/error")
    assert twin.RESPONSE_FILTER == "edgeloop/twin/response/+"
    assert twin.iot_response_filter("gw-1") == "edgeloop/gw-1/twin/response/+"


@pytest.mark.parametrize("template, topic", [
    (plant.TELEMETRY_TOPIC, "dt/compressor/p1/recommendation"),   # another message
    (plant.TELEMETRY_TOPIC, "dt/compressor//telemetry"),           # empty level
    (plant.TELEMETRY_TOPIC, "dt/compressor/+/telemetry"),          # a filter, not a topic
    (plant.TELEMETRY_TOPIC, "dt/compressor/p1/telemetry/extra"),
    (plant.LIVE_ERROR_TOPIC, "dt/compressor/p1/twin"),
    (ecg.SENSOR_TOPIC, "dt/ecg/d1/alert"),
])
def test_topics_of_another_shape_have_no_levels(template, topic):
    assert topic_levels(template, topic) is None


def test_a_filter_can_fix_some_levels():
    assert topic_filter(twin.IOT_RESPONSE_TOPIC, thing="gw") == "edgeloop/gw/twin/response/+"
    assert topic_filter(twin.IOT_RESPONSE_TOPIC) == "edgeloop/+/twin/response/+"
