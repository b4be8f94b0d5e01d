"""Greengrass IPC authorization: each component's `accessControl` policies decide what it may call.

Policies live in the component's configuration:
    accessControl: {<service>: {<policyId>: {policyDescription?, operations: [...], resources: [...]}}}
Operation `*` grants the whole service. Resource matching depends on the service, as on Greengrass:
  - aws.greengrass.ipc.pubsub: `*` matches any characters; MQTT `+`/`#` are literal characters
    (a policy for `a/#` allows subscribing to exactly the filter `a/#`);
  - aws.greengrass.ipc.mqttproxy: a resource is also an MQTT filter (`+`/`#` match as in MQTT; a
    requested filter must be covered by it), and `*` matches any characters;
  - aws.greengrass.Cli: component names or `*`.
`{iot:thingName}` in a resource is the device's thing name. The `edgeloop core` CLI connects as
`aws.greengrass.Cli` and may perform every Cli operation without a policy.

Parsed policies are cached per component and rebuilt when `config.version(component)` moves;
decisions are memoised per (service, operation, resource), so the publish hot path costs two dict
look-ups.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from edgeloop.simulator.core.errors import Unauthorized

from ..config_store import ConfigStore
from ..topics import filter_covers

log = logging.getLogger(__name__)

ACCESS_CONTROL = "accessControl"
PUBSUB = "aws.greengrass.ipc.pubsub"
MQTTPROXY = "aws.greengrass.ipc.mqttproxy"
CLI = "aws.greengrass.Cli"
CLI_IDENTITY = "aws.greengrass.Cli"
THING_NAME_VAR = "{iot:thingName}"

SERVICES: dict[str, frozenset[str]] = {
    PUBSUB: frozenset({"aws.greengrass#PublishToTopic", "aws.greengrass#SubscribeToTopic"}),
    MQTTPROXY: frozenset({"aws.greengrass#PublishToIoTCore", "aws.greengrass#SubscribeToIoTCore"}),
    CLI: frozenset({"aws.greengrass#CreateLocalDeployment", "aws.greengrass#GetLocalDeploymentStatus",
                    "aws.greengrass#ListLocalDeployments", "aws.greengrass#ListComponents",
                    "aws.greengrass#GetComponentDetails", "aws.greengrass#RestartComponent",
                    "aws.greengrass#StopComponent"}),
}

_MAX_DECISIONS = 4096  # per component; distinct topics beyond this just re-evaluate


@dataclass(frozen=True)
class Policy:
    policy_id: str
    service: str
    operations: frozenset[str]
    resources: tuple[str, ...]


@lru_cache(maxsize=1024)
def _glob(pattern: str) -> re.Pattern[str]:
    """`*` matches any characters (including `/`); everything else is literal."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


def glob_matches(pattern: str, resource: str) -> bool:
    if pattern == "*" or pattern == resource:
        return True
    return "*" in pattern and _glob(pattern).fullmatch(resource) is not None


def resource_matches(service: str, pattern: str, resource: str) -> bool:
    if glob_matches(pattern, resource):
        return True
    return service == MQTTPROXY and filter_covers(pattern, resource)


def parse_policies(component: str, access_control: Any, thing_name: str) -> list[Policy]:
    """The valid policies in an accessControl tree; malformed entries are logged and skipped."""
    if not isinstance(access_control, dict):
        if access_control is not None:
            log.warning("%s: accessControl must be an object, ignoring it", component)
        return []
    policies: list[Policy] = []
    for service, by_id in access_control.items():
        if not isinstance(by_id, dict):
            log.warning("%s: accessControl.%s must be an object of policies, ignoring it", component, service)
            continue
        for policy_id, body in by_id.items():
            where = f"{component}: accessControl.{service}.{policy_id}"
            if not isinstance(body, dict):
                log.warning("%s must be an object, ignoring it", where)
                continue
            operations, resources = body.get("operations"), body.get("resources")
            if not isinstance(operations, list) or not all(isinstance(o, str) for o in operations):
                log.warning("%s.operations must be a list of strings, ignoring the policy", where)
                continue
            if resources is None:
                resources = []
            if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
                log.warning("%s.resources must be a list of strings, ignoring the policy", where)
                continue
            policies.append(Policy(policy_id, service, frozenset(operations),
                                   tuple(r.replace(THING_NAME_VAR, thing_name) for r in resources)))
    return policies


class Authorizer:
    """Answers "may component C perform service:operation on resource R?" from the configuration store."""

    def __init__(self, config: ConfigStore, thing_name: str) -> None:
        self._config = config
        self._thing_name = thing_name
        # component -> (config version, policies, memoised decisions)
        self._cache: dict[str, tuple[int, list[Policy], dict[tuple[str, str, str | None], bool]]] = {}

    def policies(self, component: str) -> list[Policy]:
        return self._entry(component)[1]

    def _entry(self, component: str) -> tuple[int, list[Policy], dict[tuple[str, str, str | None], bool]]:
        version = self._config.version(component)
        entry = self._cache.get(component)
        if entry is None or entry[0] != version:
            try:
                access_control = self._config.get(component, [ACCESS_CONTROL])
            except KeyError:
                access_control = None
            entry = (version, parse_policies(component, access_control, self._thing_name), {})
            self._cache[component] = entry
        return entry

    def is_allowed(self, component: str, service: str, operation: str, resource: str | None) -> bool:
        """`resource` None means the operation has no resource: any policy granting it allows it."""
        if service == CLI and component == CLI_IDENTITY:
            return True
        _, policies, decisions = self._entry(component)
        key = (service, operation, resource)
        decision = decisions.get(key)
        if decision is None:
            decision = any(self._grants(p, service, operation, resource) for p in policies)
            if len(decisions) >= _MAX_DECISIONS:
                decisions.clear()
            decisions[key] = decision
        return decision

    @staticmethod
    def _grants(policy: Policy, service: str, operation: str, resource: str | None) -> bool:
        if policy.service != service:
            return False
        if "*" not in policy.operations and operation not in policy.operations:
            return False
        if resource is None:
            return True
        return any(resource_matches(service, pattern, resource) for pattern in policy.resources)

    def check(self, component: str, service: str, operation: str, resource: str | None) -> None:
        """Raise Unauthorized (worded as Greengrass words it) unless the call is allowed."""
        if not self.is_allowed(component, service, operation, resource):
            raise Unauthorized(f"Principal {component} is not authorized to perform {service}:{operation} "
                               f"on resource {resource if resource is not None else '*'}")
