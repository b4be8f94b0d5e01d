"""The local cloud's home folder: one place for everything the cloud side keeps.

    HOME/
      lake/                 ingested telemetry (lake.py owns it)
      runs/<run_id>/        pipeline run artifacts: training CSV, evaluation, offline grid
      models/<run_id>/      trained model directories (what registry versions point at)
      experiments.sqlite    pipeline runs (experiments.py)
      registry.sqlite       model package groups and versions (registry/local.py)
      promotions.sqlite     which registry version became which component version (promotion.py)
      components/           component store in the Greengrass CLI layout: recipes/, artifacts/
      ecg-archive/          the ECG pathology archive: forwarded windows, alerts log (ecg/archive.py)

The default is `~/.edgeloop`, or `EDGELOOP_HOME` when set, so every `edgeloop cloud|pipeline|registry`
command finds the same state without repeating `--home`.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "EDGELOOP_HOME"


def default_home() -> Path:
    return Path(os.environ.get(ENV_VAR) or "~/.edgeloop").expanduser()


@dataclass(frozen=True)
class CloudHome:
    root: Path

    @classmethod
    def at(cls, root: str | Path | None = None) -> CloudHome:
        """The home at `root` (default: EDGELOOP_HOME or ~/.edgeloop), created if missing."""
        home = cls(Path(root).expanduser().resolve() if root else default_home().resolve())
        home.root.mkdir(parents=True, exist_ok=True)
        return home

    @property
    def lake(self) -> Path:
        return self.root / "lake"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def experiments_db(self) -> Path:
        return self.root / "experiments.sqlite"

    @property
    def registry_db(self) -> Path:
        return self.root / "registry.sqlite"

    @property
    def promotions_db(self) -> Path:
        return self.root / "promotions.sqlite"

    @property
    def components(self) -> Path:
        return self.root / "components"

    @property
    def recipe_dir(self) -> Path:
        return self.components / "recipes"

    @property
    def artifact_dir(self) -> Path:
        return self.components / "artifacts"

    @property
    def ecg_archive(self) -> Path:
        return self.root / "ecg-archive"


def add_home_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", metavar="DIR", default=None,
                        help=f"the local cloud's folder (default ${ENV_VAR} or ~/.edgeloop)")
