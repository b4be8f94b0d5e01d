"""The Greengrass CLI's IPC service (`aws.greengrass.Cli`): component and local-deployment management.

Used by `edgeloop core ...` (identity `aws.greengrass.Cli`, allowed everything) and by components
whose accessControl grants it. Component-specific operations authorize on the component name.
"""

from __future__ import annotations

from typing import Any

from edgeloop.simulator.core.errors import InvalidArguments

from ..core_api import ComponentInfo
from .base import PREFIX, CallContext, Operation, require_str

SERVICE = "aws.greengrass.Cli"


def _component_name(request: dict[str, Any]) -> str:
    return require_str(request, "componentName")


def _details(ctx: CallContext, info: ComponentInfo) -> dict[str, Any]:
    details: dict[str, Any] = {"componentName": info.name, "version": info.version, "state": info.state}
    if info.name in ctx.core.config.components():
        details["configuration"] = ctx.core.config.get(info.name)
    return details


def list_components(ctx: CallContext, request: dict[str, Any]) -> dict[str, Any]:
    return {"components": [_details(ctx, info) for info in ctx.core.lifecycle.components()]}


def get_component_details(ctx: CallContext, request: dict[str, Any]) -> dict[str, Any]:
    return {"componentDetails": _details(ctx, ctx.core.lifecycle.component(_component_name(request)))}


def restart_component(ctx: CallContext, request: dict[str, Any]) -> dict[str, Any]:
    name = _component_name(request)
    ctx.core.lifecycle.restart(name)
    return {"restartStatus": "SUCCEEDED", "message": f"{name} restarted"}


def stop_component(ctx: CallContext, request: dict[str, Any]) -> dict[str, Any]:
    name = _component_name(request)
    ctx.core.lifecycle.stop(name)
    return {"stopStatus": "SUCCEEDED", "message": f"{name} stopped"}


_DEPLOYMENT_FIELDS = {
    "groupName": str, "rootComponentVersionsToAdd": dict, "rootComponentsToRemove": list,
    "componentToConfiguration": dict, "componentToRunWithInfo": dict, "recipeDirectoryPath": str,
    "artifactsDirectoryPath": str, "failureHandlingPolicy": str,
}


def create_local_deployment(ctx: CallContext, request: dict[str, Any]) -> dict[str, Any]:
    for field, kind in _DEPLOYMENT_FIELDS.items():
        value = request.get(field)
        if value is not None and not isinstance(value, kind):
            raise InvalidArguments(f"{field} must be {'an object' if kind is dict else 'a ' + kind.__name__}, "
                                   f"got {type(value).__name__}")
    return {"deploymentId": ctx.core.deployments.create_local_deployment(request)}


def get_local_deployment_status(ctx: CallContext, request: dict[str, Any]) -> dict[str, Any]:
    return {"deployment": ctx.core.deployments.deployment_status(require_str(request, "deploymentId"))}


def list_local_deployments(ctx: CallContext, request: dict[str, Any]) -> dict[str, Any]:
    return {"localDeployments": ctx.core.deployments.list_deployments()}


OPERATIONS = [
    Operation(PREFIX + "ListComponents", list_components, policy_service=SERVICE),
    Operation(PREFIX + "GetComponentDetails", get_component_details, policy_service=SERVICE,
              resource=_component_name),
    Operation(PREFIX + "RestartComponent", restart_component, policy_service=SERVICE, resource=_component_name),
    Operation(PREFIX + "StopComponent", stop_component, policy_service=SERVICE, resource=_component_name),
    Operation(PREFIX + "CreateLocalDeployment", create_local_deployment, policy_service=SERVICE),
    Operation(PREFIX + "GetLocalDeploymentStatus", get_local_deployment_status, policy_service=SERVICE),
    Operation(PREFIX + "ListLocalDeployments", list_local_deployments, policy_service=SERVICE),
]
