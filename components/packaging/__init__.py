"""Build edgeloop's Greengrass components in the Greengrass CLI local-deployment layout:

    <recipe_dir>/<Name>-<version>.yaml
    <artifact_dir>/<Name>/<version>/<files>

so `edgeloop core deploy --recipe-dir R --artifact-dir A --merge Name=version` (or the Greengrass CLI)
deploys them, and the cloud promotion publishes the same files. Two kinds of component, one builder each:

* model components (com.edgeloop.TwinModel, com.edgeloop.EcgModel): artifact-only; one ZIP holding
  exactly the files of a verified model directory, `Unarchive: ZIP`, no lifecycle. Greengrass unpacks
  a ZIP into a folder named after the archive, so the model lands in `<root>/packages/
  artifacts-unarchived/<Name>/<version>/<archive stem>/` (a folder inside the zip would land one level
  deeper). The recipe is generated, not templated, so the cloud can build one from an installed wheel.
  Its configuration names the model: componentVersion, modelVersion (the registry version), modelSha256
  (hex SHA-256 of the model's metadata.json, which pins every model file; edgeloop.modelfiles), metrics.
* inference components (com.edgeloop.DigitalTwin, com.edgeloop.EcgPrefilter): the recipe comes from a
  template under recipes/ (GDK placeholders {COMPONENT_NAME}, {COMPONENT_VERSION}, {COMPONENT_AUTHOR},
  BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION in artifact URIs, plus {EDGELOOP_VERSION} and
  {MODEL_REQUIREMENT}); the artifact `edgeloop.zip` is the edgeloop source shaped like an sdist, which
  the recipe's Install step pip-installs only when the gateway lacks that exact edgeloop version.

Zips are deterministic (sorted entries, fixed timestamps and modes): the same input, the same digest.

  __init__   this builder: ModelKind, InferenceKind and the two build functions, shared by every line
  catalogue  the kinds edgeloop builds (each line declares its own in <component>/packaging.py) and
             GDK's custom build
  __main__   the command line, `python -m edgeloop.components.packaging` (see there)
"""

from __future__ import annotations

import base64
import hashlib
import shutil
import zipfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nodesemver
import yaml

from edgeloop import __version__ as EDGELOOP_VERSION
from edgeloop.components.errors import PackagingError
from edgeloop.errors import ArtifactError
from edgeloop.model_component import ModelComponent
from edgeloop.modelfiles import METADATA_FILE, metadata_sha256

SOURCE_ARCHIVE = "edgeloop.zip"
DEFAULT_BUCKET = "edgeloop-components"
DEFAULT_AUTHOR = "edgeloop"
DEFAULT_MODEL_REQUIREMENT = ">=1.0.0 <2.0.0"
MAX_RECIPE_BYTES = 16_000              # the Greengrass service's recipe size limit
SOURCE_ROOT = Path(__file__).resolve().parents[2]
# The folders pyproject.toml's [tool.setuptools] package-dir installs as edgeloop packages; a
# constant rather than pyproject.toml parsed at build time (tests/test_packaging.py checks they agree).
SOURCE_FOLDERS = ("edgeloop", "simulator", "cloud", "components")
RECIPE_TEMPLATES = SOURCE_ROOT / "recipes"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)      # the earliest time a zip entry can carry
_SKIP_PARTS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}


@dataclass(frozen=True)
class ModelKind:
    """An artifact-only model component: its name, archive, the component that reads it and how to
    check a model directory (a loader that raises ArtifactError) and describe it in the recipe."""

    component: str
    archive: str
    reader: str
    describe: str                                        # "{model_version}" is filled in
    load: Callable[[Path], Any]
    config: Callable[[Any, Path], dict[str, Any]]        # (loaded model, dir) -> extra configuration

    @property
    def on_gateway(self) -> ModelComponent:
        """The same component as its reader sees it: where the model lands, how to verify it."""
        return ModelComponent(self.component, self.archive)


@dataclass(frozen=True)
class InferenceKind:
    """An inference component built from a recipe template and the edgeloop source archive."""

    component: str
    template: Path


# -- digests and archives -------------------------------------------------------------------------
def artifact_digest(path: str | Path) -> str:
    """Base64 SHA-256 of a file: the form of a recipe artifact's `Digest` (Algorithm SHA-256)."""
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            sha.update(chunk)
    return base64.b64encode(sha.digest()).decode("ascii")


def model_sha256(model_dir: str | Path) -> str:
    """Hex SHA-256 of a model directory's metadata.json (the modelSha256 a component checks)."""
    try:
        return metadata_sha256(model_dir)
    except OSError as exc:
        raise PackagingError(f"{Path(model_dir) / METADATA_FILE}: cannot read: {exc.strerror or exc}") from None


def deterministic_zip(out: Path, entries: Iterable[tuple[str, Path]]) -> Path:
    """Write `(archive name, file)` entries sorted by name with fixed timestamps and modes."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as archive:
        for name, path in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o100644 << 16)
            info.create_system = 3   # unix, so the mode above is honoured on every host
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    tmp.replace(out)
    return out


def files_under(folder: Path) -> list[Path]:
    """Regular files below `folder`, without caches, bytecode, egg-info and hidden files."""
    return sorted(p for p in folder.rglob("*") if p.is_file()
                  and not _SKIP_PARTS.intersection(p.relative_to(folder).parts)
                  and p.suffix not in (".pyc", ".pyo")
                  and not any(part.endswith(".egg-info") or part.startswith(".")
                              for part in p.relative_to(folder).parts))


def check_version(version: object, what: str) -> str:
    """`version` if it is a semantic version; PackagingError naming `what` if not."""
    if not isinstance(version, str) or nodesemver.valid(version, False) is None:
        raise PackagingError(f"{what}: {version!r} is not a semantic version like 1.0.0")
    return version


def write_recipe(recipe: Mapping[str, Any], path: Path) -> Path:
    text = yaml.safe_dump(dict(recipe), sort_keys=False, width=100)
    size = len(text.encode("utf-8"))
    if size >= MAX_RECIPE_BYTES:
        raise PackagingError(f"{path.name}: the recipe is {size} bytes; Greengrass accepts less than "
                             f"{MAX_RECIPE_BYTES}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- model components -----------------------------------------------------------------------------
def build_model_component(kind: ModelKind, model_dir: Path, version: str, recipe_dir: Path,
                          artifact_dir: Path, *, model_version: str,
                          extra_config: dict | None = None) -> Path:
    """Write a model component's recipe and archive; returns the recipe path.

    The model directory must load with `kind.load` (which verifies every file), so a model that a
    gateway would refuse is never packaged. `extra_config` is merged over the generated configuration.
    """
    model_dir, recipe_dir, artifact_dir = Path(model_dir), Path(recipe_dir), Path(artifact_dir)
    check_version(version, f"{kind.component} version")
    if not isinstance(model_version, str) or not model_version:
        raise PackagingError(f"model_version must be a non-empty string, got {model_version!r}")
    try:
        model = kind.load(model_dir)
    except ArtifactError as exc:
        raise PackagingError(f"cannot package {model_dir}: {exc}") from None
    archive = deterministic_zip(artifact_dir / kind.component / version / kind.archive,
                                [(p.relative_to(model_dir).as_posix(), p) for p in files_under(model_dir)])
    config: dict[str, Any] = {"componentVersion": version, "modelVersion": model_version,
                              "modelSha256": model_sha256(model_dir), **kind.config(model, model_dir)}
    config.update(extra_config or {})
    recipe = {
        "RecipeFormatVersion": "2020-01-25",
        "ComponentName": kind.component,
        "ComponentVersion": version,
        "ComponentDescription": kind.describe.format(model_version=model_version)
                                + f" (artifact only; read by {kind.reader}).",
        "ComponentPublisher": DEFAULT_AUTHOR,
        "ComponentConfiguration": {"DefaultConfiguration": config},
        "Manifests": [{"Artifacts": [{
            "URI": f"s3://{DEFAULT_BUCKET}/{kind.component}/{version}/{kind.archive}",
            "Unarchive": "ZIP",
            "Digest": artifact_digest(archive),
            "Algorithm": "SHA-256",
            "Permission": {"Read": "ALL"},   # read by another component
        }]}],
    }
    return write_recipe(recipe, recipe_dir / f"{kind.component}-{version}.yaml")


# -- inference components -------------------------------------------------------------------------
def source_folders(source_root: Path = SOURCE_ROOT) -> list[Path]:
    """The source folders of an edgeloop checkout; PackagingError if `source_root` is not one."""
    folders = [source_root / name for name in SOURCE_FOLDERS]
    missing = [str(f) for f in folders if not f.is_dir()]
    if missing or not (source_root / "pyproject.toml").is_file():
        raise PackagingError(f"{source_root} is not an edgeloop source checkout (missing: "
                             f"{', '.join(missing) or 'pyproject.toml'}); components are built from one")
    return folders


def build_source_archive(out: Path, source_root: Path = SOURCE_ROOT) -> Path:
    """The edgeloop source as an sdist-shaped zip (`edgeloop-<version>/pyproject.toml, ...`) that pip installs."""
    top = f"edgeloop-{EDGELOOP_VERSION}"
    entries = [(f"{top}/{name}", source_root / name) for name in ("pyproject.toml", "README.md")
               if (source_root / name).is_file()]
    for folder in source_folders(source_root):
        entries += [(f"{top}/{p.relative_to(source_root).as_posix()}", p) for p in files_under(folder)]
    return deterministic_zip(out, entries)


def _substitute(node: Any, values: Mapping[str, str]) -> Any:
    if isinstance(node, str):
        for placeholder, value in values.items():
            node = node.replace(placeholder, value)
        return node
    if isinstance(node, list):
        return [_substitute(item, values) for item in node]
    if isinstance(node, dict):
        return {_substitute(key, values): _substitute(value, values) for key, value in node.items()}
    return node


def render_recipe(template: Path, component: str, version: str, artifact_folder: Path, *,
                  author: str = DEFAULT_AUTHOR, bucket: str = DEFAULT_BUCKET,
                  model_requirement: str = DEFAULT_MODEL_REQUIREMENT) -> dict[str, Any]:
    """A recipe from its template, with each artifact's Digest computed from `artifact_folder`."""
    if nodesemver.valid_range(model_requirement, False) is None:
        raise PackagingError(f"model requirement {model_requirement!r} is not an npm-style version range")
    try:
        recipe = yaml.safe_load(template.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise PackagingError(f"{template}: cannot read the recipe template: {exc}") from None
    if not isinstance(recipe, dict):
        raise PackagingError(f"{template}: the recipe template is not a YAML mapping")
    recipe = _substitute(recipe, {
        "{COMPONENT_NAME}": component, "{COMPONENT_VERSION}": version, "{COMPONENT_AUTHOR}": author,
        "{EDGELOOP_VERSION}": EDGELOOP_VERSION, "{MODEL_REQUIREMENT}": model_requirement,
        "s3://BUCKET_NAME/COMPONENT_NAME/COMPONENT_VERSION/": f"s3://{bucket}/{component}/{version}/"})
    for m, manifest in enumerate(recipe.get("Manifests") or []):
        for a, artifact in enumerate(manifest.get("Artifacts") or []):
            name = str(artifact.get("URI", "")).rsplit("/", 1)[-1]
            path = artifact_folder / name
            if not path.is_file():
                raise PackagingError(f"{template}: Manifests[{m}].Artifacts[{a}] names {name!r}, which the "
                                     f"build did not produce in {artifact_folder}")
            artifact["Digest"] = artifact_digest(path)
            artifact["Algorithm"] = "SHA-256"
    return recipe


def build_inference_component(kind: InferenceKind, version: str, recipe_dir: Path, artifact_dir: Path, *,
                              model_requirement: str = DEFAULT_MODEL_REQUIREMENT,
                              template: Path | None = None, author: str = DEFAULT_AUTHOR,
                              bucket: str = DEFAULT_BUCKET, recipe_name: str | None = None) -> Path:
    """Write an inference component's recipe (from its template) and `edgeloop.zip`; returns the recipe."""
    check_version(version, f"{kind.component} version")
    folder = Path(artifact_dir) / kind.component / version
    if folder.exists():
        shutil.rmtree(folder)
    build_source_archive(folder / SOURCE_ARCHIVE)
    recipe = render_recipe(Path(template or kind.template), kind.component, version, folder, author=author,
                           bucket=bucket, model_requirement=model_requirement)
    return write_recipe(recipe, Path(recipe_dir) / (recipe_name or f"{kind.component}-{version}.yaml"))
