"""A wheel built from pyproject.toml must carry every package: setuptools maps the top-level folders
(components/, simulator/, cloud/) onto `edgeloop.*` from an explicit list, so a new subpackage that
is not listed would import in a checkout and be missing from an installed gateway."""

from __future__ import annotations

import tomllib
from pathlib import Path

from edgeloop.components.packaging import SOURCE_FOLDERS

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_is_listed_in_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    setuptools = project["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    found = set()
    for package, folder in setuptools["package-dir"].items():
        base = ROOT / folder
        for init in base.rglob("__init__.py"):
            rel = init.parent.relative_to(base)
            found.add(".".join([package, *rel.parts]) if rel.parts else package)
    missing = sorted(found - listed)
    assert not missing, f"add these to [tool.setuptools] packages in pyproject.toml: {missing}"
    assert not sorted(listed - found), "pyproject.toml lists packages that do not exist"


def test_the_gateway_zip_ships_the_folders_pyproject_installs() -> None:
    """components/packaging.py names the source folders itself (it does not parse pyproject.toml)."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert sorted(SOURCE_FOLDERS) == sorted(set(setuptools["package-dir"].values()))
