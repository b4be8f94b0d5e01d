"""The components edgeloop builds, by name, and GDK's custom build of one of them.

Each line declares its own kinds beside its code (components/digital_twin/packaging.py,
components/ecg_prefilter/packaging.py) on the shared builder (this package's __init__); this module
lists them, so the builder itself knows no line.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from edgeloop.components.digital_twin.packaging import TWIN_INFERENCE_KIND, TWIN_MODEL_KIND
from edgeloop.components.ecg_prefilter.packaging import ECG_MODEL_KIND, PREFILTER_INFERENCE_KIND
from edgeloop.components.errors import PackagingError

from . import DEFAULT_AUTHOR, DEFAULT_BUCKET, InferenceKind, ModelKind, build_inference_component, check_version


def model_kinds() -> dict[str, ModelKind]:
    """Model (artifact-only) components by name."""
    return {k.component: k for k in (TWIN_MODEL_KIND, ECG_MODEL_KIND)}


def inference_kinds() -> dict[str, InferenceKind]:
    """Inference components by name."""
    return {k.component: k for k in (TWIN_INFERENCE_KIND, PREFILTER_INFERENCE_KIND)}


# -- GDK custom build -----------------------------------------------------------------------------
def read_gdk_config(project: Path) -> tuple[str, dict[str, Any]]:
    """(component name, its entry) from `gdk-config.json`, checked for what this build needs."""
    path = project / "gdk-config.json"
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PackagingError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise PackagingError(f"{path}: not JSON: {exc.msg} at line {exc.lineno}") from None
    components = config.get("component") if isinstance(config, dict) else None
    if not isinstance(components, dict) or len(components) != 1:
        raise PackagingError(f"{path}: 'component' must hold exactly one component")
    (name, entry), = components.items()
    known = inference_kinds()
    if name not in known:
        raise PackagingError(f"{path}: component {name!r}: this build makes {', '.join(sorted(known))}")
    if not isinstance(entry, dict):
        raise PackagingError(f"{path}: component {name}: expected an object")
    version = entry.get("version")
    if version == "NEXT_PATCH":
        raise PackagingError(f"{path}: component {name}: version NEXT_PATCH is chosen by `gdk component "
                             f"publish` against the Greengrass service; a local build needs a semantic version")
    check_version(version, f"{path}: component {name}: version")
    return name, entry


def gdk_build(project: Path) -> Path:
    """GDK's custom build step: `greengrass-build/recipes/recipe.yaml` and
    `greengrass-build/artifacts/<name>/<version>/` from the project's gdk-config.json and recipe.yaml."""
    project = Path(project).resolve()
    name, entry = read_gdk_config(project)
    template = project / "recipe.yaml"
    if not template.is_file():
        raise PackagingError(f"{project}: no recipe.yaml beside gdk-config.json")
    out = project / "greengrass-build"
    if out.exists():
        shutil.rmtree(out)
    bucket = str((entry.get("publish") or {}).get("bucket") or DEFAULT_BUCKET)
    return build_inference_component(inference_kinds()[name], entry["version"], out / "recipes",
                                     out / "artifacts", template=template,
                                     author=str(entry.get("author") or DEFAULT_AUTHOR), bucket=bucket,
                                     recipe_name="recipe.yaml")


