"""The SageMaker registry backend against moto in server mode (real HTTP, botocore's service model)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto.server import ThreadedMotoServer

from edgeloop.cloud.errors import RegistryError
from edgeloop.cloud.registry import APPROVED, PENDING, REJECTED
from edgeloop.cloud.registry.sagemaker import SageMakerRegistry
from tests.kits.brokers import free_port

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/edgeloop-twin:latest"


@pytest.fixture(scope="module")
def sagemaker() -> Iterator[object]:
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield boto3.client("sagemaker", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing")
    server.stop()


def test_versions_metrics_and_approval_round_trip(sagemaker):
    registry = SageMakerRegistry(sagemaker, IMAGE)
    registry.ensure_group("edgeloop-twin", "twin")
    registry.ensure_group("edgeloop-twin", "twin")   # idempotent, like the local backend
    metrics = {"mean_regret_pct": 2.37, "infeasible": 0, "meets_targets": {"infeasible": True},
               "evaluation": {"grid": "reference", "simulations": 30}}
    first = registry.create_version("edgeloop-twin", "s3://models/run-1/model.tar.gz", metrics, "run-1", "first")
    second = registry.create_version("edgeloop-twin", "s3://models/run-2/model.tar.gz", {"mean_regret_pct": 9.0},
                                     "run-2")
    assert (first.ref, first.status, first.run_id, first.metrics) == ("edgeloop-twin/1", PENDING, "run-1", metrics)
    assert second.version == 2 and second.arn.endswith("model-package/edgeloop-twin/2")

    approved = registry.set_status("edgeloop-twin", 1, APPROVED, "good")
    assert approved.status == APPROVED and approved.approval_description == "good"
    with pytest.raises(RegistryError, match="already Approved"):
        registry.set_status("edgeloop-twin", 1, APPROVED)
    registry.set_status("edgeloop-twin", 2, REJECTED, "worse")
    with pytest.raises(RegistryError, match="was Rejected"):
        registry.set_status("edgeloop-twin", 2, APPROVED)
    assert [(p.ref, p.status) for p in registry.list("edgeloop-twin")] == [
        ("edgeloop-twin/1", APPROVED), ("edgeloop-twin/2", REJECTED)]
    with pytest.raises(RegistryError, match="group 'edgeloop-twin' has versions 1..2"):
        registry.get("edgeloop-twin", 3)
    with pytest.raises(RegistryError, match="needs an s3:// ModelDataUrl"):
        registry.create_version("edgeloop-twin", "file:///tmp/model", {}, None)
