"""The twin's two Greengrass components, as kinds of the shared builder (components/packaging.py):

* com.edgeloop.TwinModel: artifact-only, `twin-model.zip` holds exactly the files `PowerModel.save`
  wrote (verified by `PowerModel.load` before packaging); it unpacks to `<root>/packages/
  artifacts-unarchived/com.edgeloop.TwinModel/<version>/twin-model/`.
* com.edgeloop.DigitalTwin: from the template `recipes/com.edgeloop.DigitalTwin.yaml` (the same file as
  the GDK project's `recipe.yaml`) plus the edgeloop source archive.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeloop.components.errors import PackagingError
from edgeloop.components.packaging import (
    DEFAULT_AUTHOR,
    DEFAULT_BUCKET,
    DEFAULT_MODEL_REQUIREMENT,
    METADATA_FILE,
    RECIPE_TEMPLATES,
    SOURCE_ARCHIVE,
    InferenceKind,
    ModelKind,
    build_inference_component,
    build_source_archive,
    model_sha256,
)
from edgeloop.components.packaging import (
    build_model_component as _build_model_component,
)

from .model import PowerModel

MODEL_COMPONENT = "com.edgeloop.TwinModel"
TWIN_COMPONENT = "com.edgeloop.DigitalTwin"
MODEL_ARCHIVE = "twin-model.zip"
MODEL_FOLDER = Path(MODEL_ARCHIVE).stem   # Greengrass unarchives into <version>/<archive stem>/
TWIN_TEMPLATE = RECIPE_TEMPLATES / f"{TWIN_COMPONENT}.yaml"


def _load(model_dir: Path) -> Any:
    return PowerModel.load(model_dir)


def _config(model: Any, model_dir: Path) -> dict[str, Any]:
    metadata = model.metadata_
    return {"trainedOn": str((metadata.get("training_data") or {}).get("sha256", "unknown")),
            "metrics": metadata.get("metrics") or {"test_mae_kw": dict(model.test_mae_)}}


TWIN_MODEL_KIND = ModelKind(MODEL_COMPONENT, MODEL_ARCHIVE, TWIN_COMPONENT,
                       "Power model {model_version} of the compressed-air plant twin", _load, _config)
TWIN_INFERENCE_KIND = InferenceKind(TWIN_COMPONENT, TWIN_TEMPLATE)


def build_model_component(model_dir: Path, version: str, recipe_dir: Path, artifact_dir: Path, *,
                          model_version: str, extra_config: dict | None = None) -> Path:
    """Write the TwinModel recipe and its `twin-model.zip`; returns the recipe path."""
    return _build_model_component(TWIN_MODEL_KIND, model_dir, version, recipe_dir, artifact_dir,
                                  model_version=model_version, extra_config=extra_config)


def build_twin_component(version: str, recipe_dir: Path, artifact_dir: Path, *,
                         model_requirement: str = DEFAULT_MODEL_REQUIREMENT,
                         template: Path = TWIN_TEMPLATE, author: str = DEFAULT_AUTHOR,
                         bucket: str = DEFAULT_BUCKET, recipe_name: str | None = None) -> Path:
    """Write the DigitalTwin recipe (from the template) and its `edgeloop.zip`; returns the recipe path."""
    return build_inference_component(TWIN_INFERENCE_KIND, version, recipe_dir, artifact_dir,
                                     model_requirement=model_requirement, template=template, author=author,
                                     bucket=bucket, recipe_name=recipe_name)


__all__ = ["METADATA_FILE", "MODEL_ARCHIVE", "MODEL_COMPONENT", "MODEL_FOLDER", "SOURCE_ARCHIVE", "TWIN_INFERENCE_KIND",
           "TWIN_COMPONENT", "TWIN_MODEL_KIND", "TWIN_TEMPLATE", "PackagingError", "build_model_component",
           "build_source_archive", "build_twin_component", "model_sha256"]
