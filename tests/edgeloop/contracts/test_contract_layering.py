"""The contract package stays importable by every area, and owns every message topic."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
SOURCE = ["edgeloop", "components", "cloud", "simulator", "bench"]
TOPIC = re.compile(r"^(dt|edgeloop)(/[\w{}+.:-]+)+$")   # a whole literal shaped like one of our topics


def test_contracts_import_no_area_and_nothing_heavy():
    code = ("import sys; before = set(sys.modules); "
            "import edgeloop.contracts.plant, edgeloop.contracts.twin, edgeloop.contracts.ecg; "
            "print('\\n'.join(sorted(set(sys.modules) - before)))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    ours = {m for m in loaded if m.startswith("edgeloop.")}
    assert ours <= {"edgeloop.contracts", "edgeloop.contracts.errors", "edgeloop.contracts.topics",
                    "edgeloop.contracts.plant", "edgeloop.contracts.twin", "edgeloop.contracts.ecg"}
    third_party = {m.split(".")[0] for m in loaded} - set(sys.stdlib_module_names) - {"edgeloop"}
    assert third_party <= {"numpy", "orjson"}, third_party


def _topic_literals(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
            and TOPIC.match(node.value)]


def test_each_topic_is_written_once_in_its_contract():
    found: dict[str, list[str]] = {}
    for folder in SOURCE:
        for path in sorted((ROOT / folder).rglob("*.py")):
            for literal in _topic_literals(path):
                found.setdefault(literal, []).append(str(path.relative_to(ROOT)))
    outside = {t: where for t, where in found.items() if any(not w.startswith("edgeloop/contracts/") for w in where)}
    assert outside == {}
    assert all(len(where) == 1 for where in found.values()), found
