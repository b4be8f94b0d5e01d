"""SageMaker Model Registry backend: the same ModelRegistry interface on AWS (boto3).

Mapping: group -> ModelPackageGroup; version -> ModelPackage (SageMaker numbers them 1, 2, 3 ...);
ModelDataUrl -> InferenceSpecification.Containers[0].ModelDataUrl (must be s3://, so upload the
model first); metrics and run id -> CustomerMetadataProperties. That map holds at most 50 string
entries of up to 256 characters, so metrics are flattened to one entry per scalar
(`metric.<path>` = JSON value) rather than stored as one JSON blob that would not fit.
Approval -> UpdateModelPackage(ModelApprovalStatus, ApprovalDescription), after the same
`check_transition` rules as the local backend.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from edgeloop.cloud.errors import RegistryError

from .base import ModelPackage, check_group_name, check_transition

METRIC_PREFIX = "metric."
RUN_KEY = "run_id"
MAX_ENTRIES = 50


def flatten_metrics(metrics: dict[str, Any], prefix: str = METRIC_PREFIX) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in metrics.items():
        if isinstance(value, dict):
            out.update(flatten_metrics(value, f"{prefix}{key}."))
        else:
            text = json.dumps(value)
            if len(text) > 256 or len(prefix + key) > 128:
                raise RegistryError(f"metric {prefix + key!r} does not fit SageMaker's customer metadata "
                                    "(key <= 128, value <= 256 characters)")
            out[prefix + key] = text
    return out


def unflatten_metrics(properties: dict[str, str]) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    for key, text in properties.items():
        if not key.startswith(METRIC_PREFIX):
            continue
        node = metrics
        *parents, leaf = key[len(METRIC_PREFIX):].split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = json.loads(text)
    return metrics


class SageMakerRegistry:
    def __init__(self, client: Any, image_uri: str) -> None:
        """`client` is a boto3 SageMaker client; `image_uri` the inference image recorded with each version."""
        self.client = client
        self.image_uri = image_uri

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        try:
            return getattr(self.client, operation)(**params)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise RegistryError(f"SageMaker {operation}: {error.get('Code')}: {error.get('Message')}") from None

    def ensure_group(self, group: str, description: str = "") -> None:
        check_group_name(group)
        if group not in self.groups():
            self._call("create_model_package_group", ModelPackageGroupName=group,
                       ModelPackageGroupDescription=description)

    def groups(self) -> list[str]:
        names, token = [], None
        while True:
            page = self._call("list_model_package_groups", **({"NextToken": token} if token else {}))
            names += [g["ModelPackageGroupName"] for g in page.get("ModelPackageGroupSummaryList", [])]
            token = page.get("NextToken")
            if not token:
                return sorted(names)

    def create_version(self, group: str, model_data_url: str, metrics: dict[str, Any],
                       run_id: str | None, description: str = "") -> ModelPackage:
        check_group_name(group)
        if not model_data_url.startswith("s3://"):
            raise RegistryError(f"SageMaker needs an s3:// ModelDataUrl, got {model_data_url!r}; upload the model first")
        properties = flatten_metrics(metrics)
        if run_id:
            properties[RUN_KEY] = run_id
        if len(properties) > MAX_ENTRIES:
            raise RegistryError(f"{len(properties)} metadata entries; SageMaker allows {MAX_ENTRIES}")
        created = self._call(
            "create_model_package", ModelPackageGroupName=group, ModelPackageDescription=description[:1024],
            ModelApprovalStatus="PendingManualApproval", CustomerMetadataProperties=properties,
            InferenceSpecification={"Containers": [{"Image": self.image_uri, "ModelDataUrl": model_data_url}],
                                    "SupportedContentTypes": ["application/json"],
                                    "SupportedResponseMIMETypes": ["application/json"]})
        return self._describe(created["ModelPackageArn"])

    def _describe(self, arn: str) -> ModelPackage:
        d = self._call("describe_model_package", ModelPackageName=arn)
        properties = d.get("CustomerMetadataProperties") or {}
        modified = d.get("LastModifiedTime")
        return ModelPackage(
            group=d["ModelPackageGroupName"], version=int(d["ModelPackageVersion"]), arn=d["ModelPackageArn"],
            status=d.get("ModelApprovalStatus", "PendingManualApproval"),
            created_at=d["CreationTime"].isoformat(), updated_at=modified.isoformat() if modified else None,
            model_data_url=d["InferenceSpecification"]["Containers"][0]["ModelDataUrl"],
            metrics=unflatten_metrics(properties), run_id=properties.get(RUN_KEY),
            description=d.get("ModelPackageDescription", ""), approval_description=d.get("ApprovalDescription", ""))

    def _summaries(self, group: str) -> list[dict[str, Any]]:
        found, token = [], None
        while True:
            page = self._call("list_model_packages", ModelPackageGroupName=group, ModelPackageType="Versioned",
                              **({"NextToken": token} if token else {}))
            found += page.get("ModelPackageSummaryList", [])
            token = page.get("NextToken")
            if not token:
                return sorted(found, key=lambda s: s["ModelPackageVersion"])

    def get(self, group: str, version: int) -> ModelPackage:
        summaries = self._summaries(group)
        for summary in summaries:
            if summary["ModelPackageVersion"] == version:
                return self._describe(summary["ModelPackageArn"])
        hint = (f"group {group!r} has versions 1..{summaries[-1]['ModelPackageVersion']}" if summaries
                else f"group {group!r} has no versions or does not exist")
        raise RegistryError(f"no model package {group}/{version}: {hint}")

    def list(self, group: str | None = None) -> list[ModelPackage]:
        groups = [group] if group else self.groups()
        if group and group not in self.groups():
            raise RegistryError(f"there is no model package group {group!r}")
        return [self._describe(s["ModelPackageArn"]) for g in groups for s in self._summaries(g)]

    def set_status(self, group: str, version: int, status: str, description: str = "",
                   force: bool = False) -> ModelPackage:
        package = self.get(group, version)
        check_transition(package, status, force)
        self._call("update_model_package", ModelPackageArn=package.arn, ModelApprovalStatus=status,
                   ApprovalDescription=description[:1024])
        return self._describe(package.arn)
