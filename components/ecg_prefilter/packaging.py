"""The ECG pre-filter's two Greengrass components, as kinds of the shared builder
(components/packaging.py):

* com.edgeloop.EcgModel: artifact-only, `ecg-model.zip` holds exactly the files `EcgClassifier.save`
  wrote (verified by `EcgClassifier.load` before packaging); it unpacks to `<root>/packages/
  artifacts-unarchived/com.edgeloop.EcgModel/<version>/ecg-model/`.
* com.edgeloop.EcgPrefilter: from the template `recipes/com.edgeloop.EcgPrefilter.yaml` plus the
  edgeloop source archive.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from edgeloop.components.packaging import (
    DEFAULT_MODEL_REQUIREMENT,
    RECIPE_TEMPLATES,
    InferenceKind,
    ModelKind,
    build_inference_component,
    build_model_component,
)

from .classifier import EcgClassifier

MODEL_COMPONENT = "com.edgeloop.EcgModel"
PREFILTER_COMPONENT = "com.edgeloop.EcgPrefilter"
MODEL_ARCHIVE = "ecg-model.zip"
MODEL_FOLDER = Path(MODEL_ARCHIVE).stem
PREFILTER_TEMPLATE = RECIPE_TEMPLATES / f"{PREFILTER_COMPONENT}.yaml"


def _load(model_dir: Path) -> Any:
    return EcgClassifier.load(model_dir)


def _config(model: Any, model_dir: Path) -> dict[str, Any]:
    metadata = model.metadata_
    return {"threshold": model.threshold_,
            "trainedOn": str((metadata.get("training_data") or {}).get("sha256", "unknown")),
            "metrics": metadata.get("metrics") or {}}


ECG_MODEL_KIND = ModelKind(MODEL_COMPONENT, MODEL_ARCHIVE, PREFILTER_COMPONENT,
                      "ECG screening classifier {model_version} (normal / af / other / noisy)", _load, _config)
PREFILTER_INFERENCE_KIND = InferenceKind(PREFILTER_COMPONENT, PREFILTER_TEMPLATE)


def build_ecg_model_component(model_dir: Path, version: str, recipe_dir: Path, artifact_dir: Path, *,
                              model_version: str, extra_config: dict | None = None) -> Path:
    """Write the EcgModel recipe and its `ecg-model.zip`; returns the recipe path."""
    return build_model_component(ECG_MODEL_KIND, model_dir, version, recipe_dir, artifact_dir,
                                 model_version=model_version, extra_config=extra_config)


def build_prefilter_component(version: str, recipe_dir: Path, artifact_dir: Path, *,
                              model_requirement: str = DEFAULT_MODEL_REQUIREMENT) -> Path:
    """Write the EcgPrefilter recipe (from the template) and its `edgeloop.zip`; returns the recipe path."""
    return build_inference_component(PREFILTER_INFERENCE_KIND, version, recipe_dir, artifact_dir,
                                     model_requirement=model_requirement)
