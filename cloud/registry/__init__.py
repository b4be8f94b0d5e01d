"""Model registry with the semantics of the SageMaker Model Registry.

Module map:
  base       the interface every backend implements, ModelPackage, approval rules and errors
  local      SQLite backend under the cloud home (registry.sqlite)
  sagemaker  the same interface on the SageMaker Model Registry (boto3; imported on demand)
  cli        the `edgeloop registry` command group (approval triggers promotion)
"""

from edgeloop.cloud.errors import RegistryError

from .base import APPROVED, PENDING, REJECTED, ModelPackage, ModelRegistry, parse_ref
from .local import LocalRegistry

__all__ = ["APPROVED", "PENDING", "REJECTED", "LocalRegistry", "ModelPackage", "ModelRegistry",
           "RegistryError", "parse_ref"]
