"""Model directories that can be trusted: `metadata.json` names a format and the SHA-256 of every
model file, and loading re-hashes each file's bytes before XGBoost sees them.

Shared by every edgeloop model (the twin's PowerModel, the ECG classifier) so there is one way to
write, read and refuse a model directory. Models are XGBoost UBJ, never pickle: a pickle that came
over the network runs code when it is loaded.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from edgeloop.errors import ArtifactError

METADATA_FILE = "metadata.json"


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def metadata_sha256(directory: str | Path) -> str:
    """Hex SHA-256 of a model's metadata.json: it pins every file, so it identifies the model."""
    return sha256_hex((Path(directory) / METADATA_FILE).read_bytes())


def write_model_dir(directory: str | Path, files: dict[str, bytes], metadata: dict[str, Any]) -> Path:
    """Write `files` and metadata.json (with `files` -> SHA-256 added); returns the directory."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    digests = {}
    for name, raw in files.items():
        (directory / name).write_bytes(raw)
        digests[name] = sha256_hex(raw)
    (directory / METADATA_FILE).write_text(json.dumps({**metadata, "files": digests}, indent=2) + "\n",
                                           encoding="utf-8")
    return directory


def read_metadata(directory: str | Path, fmt: str, what: str = "model") -> dict[str, Any]:
    """metadata.json of a model directory, checked to be of format `fmt`."""
    meta_path = Path(directory) / METADATA_FILE
    try:
        metadata = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ArtifactError(f"{meta_path}: missing (is {directory} a {what} directory?)") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{meta_path}: unreadable: {exc}") from None
    found = metadata.get("format") if isinstance(metadata, dict) else None
    if found != fmt:
        raise ArtifactError(f"{meta_path}: format is {found!r}, expected {fmt!r}")
    return metadata


def read_verified(directory: str | Path, metadata: dict[str, Any]) -> dict[str, bytes]:
    """Every file metadata lists, each checked against its recorded SHA-256."""
    directory = Path(directory)
    meta_path = directory / METADATA_FILE
    files = metadata.get("files")
    if not isinstance(files, dict) or not files:
        raise ArtifactError(f"{meta_path}: no model files listed")
    out: dict[str, bytes] = {}
    for filename, expected in files.items():
        if not isinstance(filename, str) or Path(filename).name != filename:
            raise ArtifactError(f"{meta_path}: model file name {filename!r} must be a plain file name")
        path = directory / filename
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise ArtifactError(f"{path}: cannot read: {exc.strerror or exc}") from None
        actual = sha256_hex(raw)
        if actual != expected:
            raise ArtifactError(f"{path}: SHA-256 {actual} does not match {expected} recorded in "
                                f"{METADATA_FILE}; refusing to load a modified or corrupt model")
        out[filename] = raw
    return out
