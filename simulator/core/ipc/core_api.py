"""What the IPC services need from the rest of the core, as narrow protocols.

The IPC layer (wire, server, authorization, one module per operation) depends only on these; the
nucleus passes the real owners (the pub/sub bus, the configuration store, the IoT Core link, the
lifecycle manager and the deployment handler).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..config_store import ConfigStore
from ..pubsub import PubSubBus


@dataclass
class IotMessage:
    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    user_properties: list[tuple[str, str]] = field(default_factory=list)
    content_type: str | None = None
    correlation_data: bytes | None = None
    response_topic: str | None = None
    payload_format: str | None = None
    message_expiry_interval_seconds: int | None = None


class IotCoreLinkApi(Protocol):
    """The core's connection to AWS IoT Core (or the broker standing in for it)."""

    def publish(self, message: IotMessage) -> None:
        """Send now, or spool durably while disconnected. Raises CoreError if the spool is full."""

    def subscribe(self, topic_filter: str, qos: int, callback: Callable[[IotMessage], None],
                  *, subscriber: str) -> Callable[[], None]:
        """Subscribe; returns a function that removes this subscription."""


@dataclass
class ComponentInfo:
    name: str
    version: str
    state: str  # NEW INSTALLED STARTING RUNNING STOPPING FINISHED ERRORED BROKEN


@dataclass
class UpdateEvent:
    """A component-update notification for SubscribeToComponentUpdates."""

    kind: str  # "pre" or "post"
    deployment_id: str
    is_ggc_restarting: bool = False


class LifecycleApi(Protocol):
    def components(self) -> list[ComponentInfo]: ...

    def component(self, name: str) -> ComponentInfo:
        """Raises ComponentNotFound."""

    def report_state(self, name: str, state: str) -> None:
        """UpdateState from the component itself: RUNNING or ERRORED."""

    def restart(self, name: str) -> None:
        """Raises ComponentNotFound."""

    def stop(self, name: str) -> None:
        """Raises ComponentNotFound."""


class DeploymentApi(Protocol):
    def create_local_deployment(self, request: dict[str, Any]) -> str:
        """Queue a deployment (the CreateLocalDeploymentRequest payload, camelCase); returns its id."""

    def deployment_status(self, deployment_id: str) -> dict[str, Any]:
        """The LocalDeployment payload (camelCase). Raises ResourceNotFound."""

    def list_deployments(self) -> list[dict[str, Any]]: ...

    def subscribe_updates(self, component: str, callback: Callable[[UpdateEvent], None]) -> Callable[[], None]:
        """SubscribeToComponentUpdates; returns the unsubscribe function."""

    def defer_update(self, component: str, deployment_id: str, recheck_after_ms: int, message: str) -> None:
        """DeferComponentUpdate; recheck_after_ms == 0 acknowledges the update."""


@dataclass
class CoreApi:
    """Everything the IPC services use. `thing_name` feeds `{iot:thingName}` in policy resources."""

    bus: PubSubBus
    config: ConfigStore
    iot: IotCoreLinkApi
    lifecycle: LifecycleApi
    deployments: DeploymentApi
    thing_name: str
