"""Authorization of IPC calls from each component's accessControl: the rules themselves (against the
real configuration store) and what a real awsiotsdk client sees when a call is denied."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from typing import Any

import pytest
from awsiot.greengrasscoreipc import model

from edgeloop.simulator.core.config_store import ConfigStore
from edgeloop.simulator.core.errors import Unauthorized
from edgeloop.simulator.core.ipc.authz import CLI, MQTTPROXY, PUBSUB, Authorizer
from edgeloop.simulator.core.ipc.services import OPERATIONS
from tests.kits.ipc_harness import THING, CoreHarness, pubsub_policy

PUB = "aws.greengrass#PublishToTopic"
SUB = "aws.greengrass#SubscribeToTopic"
IOT_PUB = "aws.greengrass#PublishToIoTCore"
IOT_SUB = "aws.greengrass#SubscribeToIoTCore"


def authorizer_for(component: str, access_control: dict[str, Any]) -> tuple[Authorizer, ConfigStore]:
    store = ConfigStore()
    store.apply_deployment(component, {"accessControl": access_control})
    return Authorizer(store, THING), store


def policy(*operations: str, resources: list[str]) -> dict[str, Any]:
    return {"policyDescription": "test", "operations": list(operations), "resources": resources}


def test_pubsub_treats_mqtt_wildcards_as_literal_and_star_as_any_characters() -> None:
    authz, _ = authorizer_for("A", {PUBSUB: {"p1": policy(SUB, PUB, resources=["a/#"]),
                                             "p2": policy(PUB, resources=["sensors/*/flow"])}})
    assert authz.is_allowed("A", PUBSUB, SUB, "a/#")
    assert not authz.is_allowed("A", PUBSUB, SUB, "a/b")
    assert not authz.is_allowed("A", PUBSUB, SUB, "a/+")
    assert not authz.is_allowed("A", PUBSUB, PUB, "a/b")
    assert authz.is_allowed("A", PUBSUB, PUB, "sensors/c1/flow")
    assert authz.is_allowed("A", PUBSUB, PUB, "sensors/line/c1/flow")  # `*` spans levels
    assert not authz.is_allowed("A", PUBSUB, PUB, "sensors/c1/power")
    assert not authz.is_allowed("A", PUBSUB, SUB, "sensors/c1/flow")  # p2 grants publish only


def test_mqttproxy_resources_match_as_mqtt_filters() -> None:
    authz, _ = authorizer_for("A", {MQTTPROXY: {"p": policy(IOT_PUB, IOT_SUB, resources=["dt/+/telemetry",
                                                                                           "cmd/#"])}})
    assert authz.is_allowed("A", MQTTPROXY, IOT_PUB, "dt/c1/telemetry")
    assert authz.is_allowed("A", MQTTPROXY, IOT_SUB, "dt/+/telemetry")
    assert authz.is_allowed("A", MQTTPROXY, IOT_SUB, "cmd/+/reboot")
    assert authz.is_allowed("A", MQTTPROXY, IOT_SUB, "cmd")  # `cmd/#` covers its parent, as MQTT says
    assert not authz.is_allowed("A", MQTTPROXY, IOT_SUB, "dt/#")  # broader than the policy
    assert not authz.is_allowed("A", MQTTPROXY, IOT_PUB, "dt/c1/c2/telemetry")
    assert not authz.is_allowed("A", MQTTPROXY, IOT_PUB, "dt/c1/status")


def test_star_operation_thing_name_and_service_boundaries() -> None:
    authz, _ = authorizer_for("A", {PUBSUB: {"all": policy("*", resources=["things/{iot:thingName}/*"])}})
    assert authz.is_allowed("A", PUBSUB, PUB, f"things/{THING}/state")
    assert authz.is_allowed("A", PUBSUB, SUB, f"things/{THING}/cmd")
    assert not authz.is_allowed("A", PUBSUB, PUB, "things/other-thing/state")
    assert not authz.is_allowed("A", MQTTPROXY, IOT_PUB, f"things/{THING}/state")  # another service
    assert not authz.is_allowed("B", PUBSUB, PUB, f"things/{THING}/state")  # another component


def test_cli_policies_name_components_and_the_cli_identity_needs_none() -> None:
    authz, _ = authorizer_for("Ops", {CLI: {"p": policy("aws.greengrass#RestartComponent",
                                                        "aws.greengrass#ListComponents",
                                                        resources=["com.example.Twin"])}})
    assert authz.is_allowed("Ops", CLI, "aws.greengrass#RestartComponent", "com.example.Twin")
    assert not authz.is_allowed("Ops", CLI, "aws.greengrass#RestartComponent", "com.example.Other")
    assert not authz.is_allowed("Ops", CLI, "aws.greengrass#StopComponent", "com.example.Twin")
    assert authz.is_allowed("Ops", CLI, "aws.greengrass#ListComponents", None)
    assert authz.is_allowed("aws.greengrass.Cli", CLI, "aws.greengrass#StopComponent", "anything")
    assert not authz.is_allowed("aws.greengrass.Cli", PUBSUB, PUB, "t")  # privileged for the CLI only


def test_denial_message_names_principal_operation_and_resource() -> None:
    authz, _ = authorizer_for("com.example.A", {})
    with pytest.raises(Unauthorized) as err:
        authz.check("com.example.A", PUBSUB, PUB, "secret/x")
    assert err.value.message == ("Principal com.example.A is not authorized to perform "
                                 "aws.greengrass.ipc.pubsub:aws.greengrass#PublishToTopic on resource secret/x")


def test_policy_changes_take_effect_with_the_next_configuration_version() -> None:
    authz, store = authorizer_for("A", {PUBSUB: {"p": policy(PUB, resources=["t"])}})
    assert authz.is_allowed("A", PUBSUB, PUB, "t")
    store.apply_deployment("A", {}, {"RESET": ["/accessControl"]})
    assert not authz.is_allowed("A", PUBSUB, PUB, "t")
    store.apply_deployment("A", {}, {"MERGE": {"accessControl": {PUBSUB: {"p": policy(PUB, resources=["t"])}}}})
    assert authz.is_allowed("A", PUBSUB, PUB, "t")


def test_malformed_policies_are_skipped_without_breaking_valid_ones(caplog: pytest.LogCaptureFixture) -> None:
    authz, _ = authorizer_for("A", {PUBSUB: {"broken": {"operations": PUB, "resources": ["t"]},
                                             "weird": "not an object",
                                             "good": policy(PUB, resources=["t"])},
                                    MQTTPROXY: ["not", "an", "object"]})
    assert authz.is_allowed("A", PUBSUB, PUB, "t")
    assert [p.policy_id for p in authz.policies("A")] == ["good"]
    assert "accessControl.aws.greengrass.ipc.pubsub.broken.operations" in caplog.text


def test_every_operation_that_needs_a_policy_is_in_the_operation_table() -> None:
    from edgeloop.simulator.core.ipc.authz import SERVICES
    for service, operations in SERVICES.items():
        for name in operations:
            assert OPERATIONS[name].policy_service == service, name


# -- through the wire, with the real client -----------------------------------------------------

@pytest.fixture
def core() -> Iterator[CoreHarness]:
    harness = CoreHarness()
    yield harness
    harness.close()


def test_client_gets_unauthorized_for_pubsub_beyond_its_policy(core: CoreHarness) -> None:
    client = core.client(core.add_component("com.example.A", pubsub_policy(subscribe=["a/#"], publish=["a/x"])))
    client.subscribe_to_topic(topic="a/#", on_stream_event=lambda e: None)  # the literal filter is allowed
    with pytest.raises(model.UnauthorizedError) as err:
        client.subscribe_to_topic(topic="a/b", on_stream_event=lambda e: None)
    assert err.value.message == ("Principal com.example.A is not authorized to perform "
                                 "aws.greengrass.ipc.pubsub:aws.greengrass#SubscribeToTopic on resource a/b")
    with pytest.raises(model.UnauthorizedError) as err:
        client.publish_to_topic(topic="a/y", publish_message=model.PublishMessage(
            json_message=model.JsonMessage(message=1)))
    assert "PublishToTopic on resource a/y" in err.value.message
    assert core.call(core.core.bus.subscription_count) == 1  # the denied subscription left nothing behind


def test_client_uses_iot_core_within_an_mqtt_wildcard_policy(core: CoreHarness) -> None:
    access = {"accessControl": {MQTTPROXY: {"p": policy(IOT_PUB, IOT_SUB, resources=["sensors/#"])}}}
    client = core.client(core.add_component("com.example.Gw", access))
    events: queue.Queue[Any] = queue.Queue()
    client.subscribe_to_iot_core(topic_name="sensors/+/temp", qos=model.QOS.AT_LEAST_ONCE,
                                 on_stream_event=events.put)
    client.publish_to_iot_core(topic_name="sensors/c1/temp", qos=model.QOS.AT_MOST_ONCE, payload=b"\x01\x02",
                               user_properties=[model.UserProperty(key="unit", value="C")])
    message = events.get(timeout=5).message
    assert (message.topic_name, message.payload) == ("sensors/c1/temp", b"\x01\x02")
    assert [(p.key, p.value) for p in message.user_properties] == [("unit", "C")]
    assert core.iot.published[0].user_properties == [("unit", "C")]
    with pytest.raises(model.UnauthorizedError) as err:
        client.publish_to_iot_core(topic_name="actuators/valve", qos=model.QOS.AT_MOST_ONCE, payload=b"open")
    assert "aws.greengrass.ipc.mqttproxy:aws.greengrass#PublishToIoTCore on resource actuators/valve" \
        in err.value.message
    with pytest.raises(model.UnauthorizedError):
        client.subscribe_to_iot_core(topic_name="#", qos=model.QOS.AT_MOST_ONCE, on_stream_event=events.put)
    assert core.iot.subscriber_count() == 1


def test_cli_operations_need_a_policy_unless_called_as_the_cli(core: CoreHarness) -> None:
    core.add_component("com.example.Twin")
    plain = core.client(core.add_component("com.example.Plain"))
    with pytest.raises(model.UnauthorizedError) as err:
        plain.restart_component(component_name="com.example.Twin")
    assert "aws.greengrass.Cli:aws.greengrass#RestartComponent on resource com.example.Twin" in err.value.message
    with pytest.raises(model.UnauthorizedError):
        plain.list_components()
    granted = core.client(core.add_component("com.example.Ops", {"accessControl": {CLI: {
        "p": policy("aws.greengrass#RestartComponent", resources=["com.example.Twin"])}}}))
    assert granted.restart_component(component_name="com.example.Twin").restart_status == "SUCCEEDED"
    with pytest.raises(model.UnauthorizedError):
        granted.restart_component(component_name="com.example.Ops")
    assert core.lifecycle.restarted == ["com.example.Twin"]
