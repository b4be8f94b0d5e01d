"""One name, one thing: no two classes of the package share a name, so `except X` or `X(...)` in a
reader's head always points at one definition."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_FOLDERS = ("edgeloop", "components", "cloud", "simulator")    # installed as edgeloop.* (pyproject)


def class_definitions() -> dict[str, list[str]]:
    """Class name -> the files (relative to the checkout) that define a class of that name."""
    found: dict[str, list[str]] = defaultdict(list)
    for folder in PACKAGE_FOLDERS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                if isinstance(node, ast.ClassDef):
                    found[node.name].append(str(path.relative_to(ROOT)))
    return found


def test_no_two_classes_share_a_name() -> None:
    definitions = class_definitions()
    assert "CommandError" in definitions and "NotFittedError" in definitions     # the walk sees edgeloop/
    duplicates = {name: files for name, files in definitions.items() if len(files) > 1}
    assert duplicates == {}
