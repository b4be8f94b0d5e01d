"""Helpers for the component tests: the reference request, fast training, unpacking a TwinModel."""

from __future__ import annotations

import zipfile
from pathlib import Path

from edgeloop.cloud.twin.train import train
from edgeloop.components.digital_twin import packaging
from edgeloop.simulator.plant import Plant
from edgeloop.simulator.plant.telemetry import history_batch, write_csv_file

FAST = {"n_estimators": 40, "max_depth": 3}
# The reference Lambda's test event, values as strings, accepted unchanged.
REFERENCE_EVENT = {"flow": "[280, 300]", "pressure": "[69, 70]", "simulations": "10", "no_of_trials": "10",
                   "train_error_weight": "1.0"}


def train_model(plant: Plant, folder: Path, seed: int) -> Path:
    """Two weeks of the plant's history -> CSV -> the cloud trainer -> a model directory."""
    folder.mkdir(parents=True)
    write_csv_file(history_batch(plant, 336, seed), folder / "history.csv")
    plant.write_boundaries(folder / "boundaries.json")
    return train(folder / "history.csv", folder / "model", folder / "boundaries.json", params=FAST).artifact


def install_model(root: Path, artifact_dir: Path, version: str) -> Path:
    """Unarchive a built TwinModel the way Greengrass does: artifacts-unarchived/<name>/<version>/<zip stem>/."""
    target = root / "packages" / "artifacts-unarchived" / packaging.MODEL_COMPONENT / version
    archive = artifact_dir / packaging.MODEL_COMPONENT / version / packaging.MODEL_ARCHIVE
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(target / packaging.MODEL_FOLDER)
    return target / packaging.MODEL_FOLDER
