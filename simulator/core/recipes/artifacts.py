"""Put a component's artifacts in place for a local deployment, verified and read-only.

Local deployments follow the Greengrass CLI: the artifact with URI `s3://bucket/a/b/model.zip`
(or just `model.zip`) is taken from `<artifact_source>/<ComponentName>/<ComponentVersion>/model.zip`.
A Digest in the recipe is checked the way the Greengrass service writes it: base64 (standard
alphabet) of the SHA-256 of the file. `Unarchive: ZIP` unpacks into
`<decompressedPath>/<zip name without extension>/`, refusing entries that would land outside it.
Components may read and run artifacts but not change them.

Permissions: every component of this local core runs as the same OS user, so Read OWNER and Read
ALL cannot be told apart; files are made 0o444 (readable, never writable) and get execute bits
from Permission.Execute (OWNER: 0o100, ALL: 0o111); folders are 0o555.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from edgeloop.simulator.core.errors import ArtifactInstallError

from ..paths import CorePaths
from .model import Artifact, Manifest, Recipe

FILE_MODE = 0o444
DIR_MODE = 0o555
_EXECUTE_BITS = {"NONE": 0, "OWNER": 0o100, "ALL": 0o111}
_CHUNK = 1 << 20


def digest_of(path: Path) -> str:
    """Base64 (standard alphabet) SHA-256 of a file: the form of a recipe's artifact Digest."""
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            sha.update(chunk)
    return base64.b64encode(sha.digest()).decode("ascii")


def _make_writable(root: Path) -> None:
    """Let the core replace what it made read-only on an earlier deployment of the same version."""
    if not root.exists():
        return
    for dirpath, _, filenames in os.walk(root):
        os.chmod(dirpath, 0o755)
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.chmod(path, 0o644)


def _make_read_only(root: Path, file_mode: int) -> None:
    for dirpath, _, filenames in os.walk(root, topdown=False):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.chmod(path, file_mode)
        os.chmod(dirpath, DIR_MODE)


def _file_mode(artifact: Artifact) -> int:
    return FILE_MODE | _EXECUTE_BITS.get(artifact.permission_execute, 0)


def _source_file(recipe: Recipe, artifact: Artifact, artifact_source: Path | None) -> Path:
    if artifact_source is None:
        raise ArtifactInstallError(f"{recipe.name} {recipe.version}: artifact {artifact.uri} is needed but the "
                                   f"deployment gave no artifact directory (--artifactDir)")
    if artifact.uri.startswith("docker:"):
        raise ArtifactInstallError(f"{recipe.name} {recipe.version}: artifact {artifact.uri} is a Docker image; "
                                   f"the local core does not run Docker artifacts")
    name = artifact.file_name
    if name in ("", ".", ".."):
        raise ArtifactInstallError(f"{recipe.name} {recipe.version}: artifact URI {artifact.uri!r} names no file")
    path = Path(artifact_source) / recipe.name / recipe.version / name
    if not path.is_file():
        raise ArtifactInstallError(f"{recipe.name} {recipe.version}: artifact {artifact.uri} not found: looked "
                                   f"for {path} (local deployments read "
                                   f"<artifactDir>/<ComponentName>/<ComponentVersion>/<file>)")
    return path


def _verify(recipe: Recipe, artifact: Artifact, path: Path, shown_as: Path) -> None:
    if not artifact.digest:
        return
    algorithm = artifact.algorithm or "SHA-256"
    if algorithm != "SHA-256":
        raise ArtifactInstallError(f"{recipe.name} {recipe.version}: artifact {shown_as} uses digest algorithm "
                                   f"{algorithm!r}; only SHA-256 is supported")
    actual = digest_of(path)
    if actual != artifact.digest:
        raise ArtifactInstallError(f"{recipe.name} {recipe.version}: artifact {shown_as} does not match its recipe "
                                   f"digest: expected {artifact.digest} (SHA-256, base64), actual {actual}")


def _copy(recipe: Recipe, artifact: Artifact, source: Path, dest_dir: Path) -> Path:
    """Copy into dest_dir under a temporary name, verify the copy, then move it into place."""
    target = dest_dir / source.name
    fd, tmp_name = tempfile.mkstemp(dir=dest_dir, prefix=".artifact-", suffix=".tmp")
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        shutil.copyfile(source, tmp)
        _verify(recipe, artifact, tmp, source)
        os.chmod(tmp, _file_mode(artifact))
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def _safe_members(archive: zipfile.ZipFile, zip_path: Path) -> list[zipfile.ZipInfo]:
    """Every entry, after refusing any that could write outside the unpack folder."""
    members = archive.infolist()
    for info in members:
        name = info.filename
        pure = PurePosixPath(name.replace("\\", "/"))
        mode = info.external_attr >> 16
        if pure.is_absolute() or (len(name) > 1 and name[1] == ":"):
            problem = "is an absolute path"
        elif ".." in pure.parts:
            problem = "climbs out with '..'"
        elif stat.S_ISLNK(mode):
            problem = "is a symbolic link"
        else:
            continue
        raise ArtifactInstallError(f"{zip_path}: refusing to unpack entry {name!r}: it {problem} and could write "
                                   f"outside the unpack folder")
    return members


def _unzip(zip_path: Path, dest: Path, file_mode: int) -> None:
    try:
        with zipfile.ZipFile(zip_path) as archive:
            members = _safe_members(archive, zip_path)
            _make_writable(dest)
            if dest.exists():
                shutil.rmtree(dest)
            dest.mkdir(parents=True)
            root = dest.resolve()
            for info in members:
                target = (dest / info.filename.replace("\\", "/")).resolve()
                if target != root and root not in target.parents:
                    raise ArtifactInstallError(f"{zip_path}: refusing to unpack entry {info.filename!r}: it resolves "
                                               f"outside {dest}")
                archive.extract(info, dest)
    except zipfile.BadZipFile as exc:
        raise ArtifactInstallError(f"{zip_path}: Unarchive is ZIP but the file is not a readable ZIP archive ({exc})") \
            from None
    _make_read_only(dest, file_mode)


def prepare_artifacts(recipe: Recipe, manifest: Manifest, artifact_source: Path | None, paths: CorePaths) -> None:
    """Copy, verify, unpack and lock down the artifacts of `manifest` for `recipe`'s component version.

    `artifact_source` may be None only when the manifest has no artifacts.
    """
    names: dict[str, str] = {}
    for artifact in manifest.artifacts:
        if artifact.file_name in names:
            raise ArtifactInstallError(f"{recipe.name} {recipe.version}: artifacts {names[artifact.file_name]} and "
                                       f"{artifact.uri} share the file name {artifact.file_name!r}; Greengrass "
                                       f"requires unique file names within a manifest")
        names[artifact.file_name] = artifact.uri
    sources = [(artifact, _source_file(recipe, artifact, artifact_source)) for artifact in manifest.artifacts]

    dest_dir = paths.artifact_dir(recipe.name, recipe.version)
    unpacked = paths.decompressed_dir(recipe.name, recipe.version)
    _make_writable(dest_dir)
    if unpacked.is_dir():
        os.chmod(unpacked, 0o755)  # its sub-folders are made writable one by one when replaced
    dest_dir.mkdir(parents=True, exist_ok=True)
    try:
        for artifact, source in sources:
            placed = _copy(recipe, artifact, source, dest_dir)
            if artifact.unarchive == "ZIP":
                unpack_to = paths.decompressed_dir(recipe.name, recipe.version) / placed.stem
                _unzip(placed, unpack_to, _file_mode(artifact))
    finally:
        _make_read_only(dest_dir, FILE_MODE)
        for artifact, source in sources:
            target = dest_dir / source.name
            if target.exists():
                os.chmod(target, _file_mode(artifact))
        if unpacked.is_dir():
            os.chmod(unpacked, DIR_MODE)
