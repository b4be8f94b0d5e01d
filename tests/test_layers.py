"""The layering, checked: which area may import which, no import cycles, imports at module top.

The folders are the architecture (docs/ARCHITECTURE.md, "Layers"): components run on gateways and
reach the core only through Greengrass IPC, so they import neither edgeloop's core nor the cloud;
the core stands in for the Greengrass nucleus and imports neither components nor the cloud; the
component SDK (edgeloop's IPC wrapper, runtime, model files, contracts) is shared by all of them and
imports none. The import graph is read from the source with `ast` (nothing is imported), so this
test also sees imports on paths a run would not take; imports under `if TYPE_CHECKING:` are left
out, as they never run (a module may name a type of a module that imports it). A function-local import is allowed only with
a `# lazy: <why>` comment (a start-up time that was measured), because a hidden import hides a
dependency from the reader and from this test.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Source folder -> the package it installs as (pyproject.toml [tool.setuptools.package-dir]).
PACKAGES = {"edgeloop": "edgeloop", "simulator": "edgeloop.simulator", "cloud": "edgeloop.cloud",
            "components": "edgeloop.components"}
SDK = ("edgeloop.ipc", "edgeloop.runtime", "edgeloop.model_component", "edgeloop.modelfiles", "edgeloop.brokers",
       "edgeloop.contracts", "edgeloop.errors")
AREAS = ("edgeloop.components", "edgeloop.cloud", "edgeloop.simulator", "edgeloop.demo")
CORE = "edgeloop.simulator.core"

# (importer prefix, imported prefixes it must not use, why)
FORBIDDEN = [
    ("edgeloop.components", (CORE, "edgeloop.cloud", "edgeloop.demo"),
     "components run on real gateways: they reach the core only through IPC and know no cloud"),
    (CORE, ("edgeloop.components", "edgeloop.cloud", "edgeloop.demo"),
     "the core stands in for the Greengrass nucleus, which knows no component or cloud"),
    *[(sdk, AREAS, "the component SDK is shared by every area and depends on none") for sdk in SDK],
]


def _module_name(path: Path) -> str:
    folder, *rest = path.relative_to(ROOT).with_suffix("").parts
    parts = [PACKAGES[folder], *rest]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> Iterator[tuple[str, Path, ast.Module]]:
    for folder in PACKAGES:
        for path in sorted((ROOT / folder).rglob("*.py")):
            yield _module_name(path), path, ast.parse(path.read_text(), str(path))


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _runtime_nodes(tree: ast.AST) -> Iterator[ast.AST]:
    """Every node of the tree except those under `if TYPE_CHECKING:`, which never run."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            yield from (n for branch in node.orelse for n in ast.walk(branch))
            continue
        yield node
        yield from _runtime_nodes(node)


def _imports(module: str, path: Path, tree: ast.Module, known: set[str]) -> Iterator[str]:
    """Every module the file imports at run time: `from a import b` is a.b when that is a module, else a."""
    for node in _runtime_nodes(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, path, node)
            for alias in node.names:
                yield f"{target}.{alias.name}" if f"{target}.{alias.name}" in known else target


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    sources = list(_sources())
    known = {name for name, _, _ in sources}
    edges: dict[str, set[str]] = {name: set() for name in known}
    for name, path, tree in sources:
        for target in _imports(name, path, tree, known):
            if target in known and target != name:
                edges[name].add(target)
    return edges


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def test_areas_import_only_what_their_layer_allows(graph: dict[str, set[str]]) -> None:
    wrong = [f"{importer} imports {target}: {why}"
             for importer, targets in graph.items() for target in sorted(targets)
             for prefix, banned, why in FORBIDDEN
             if _under(importer, prefix) and any(_under(target, b) for b in banned)]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles(graph: dict[str, set[str]]) -> None:
    """Tarjan's strongly connected components over module imports (package __init__ included)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    # A package importing its own submodules (to re-export them) is not a cycle a reader trips on
    # unless a submodule imports the package back; Tarjan counts both directions, so it is real.
    assert not cycles, "\n".join(" <-> ".join(c) for c in cycles)


def _marked_lazy(lines: list[str], lineno: int) -> bool:
    """A `# lazy: <why>` on the import's line, on the first line of the run of imports it stands in, or
    on the line above that run (one comment may explain a block of imports)."""
    i = lineno - 1
    while True:
        if "# lazy:" in lines[i]:
            return True
        if i == 0 or not lines[i - 1].lstrip().startswith(("import ", "from ", "# lazy:")):
            return False
        i -= 1


def test_imports_are_at_module_top_unless_marked_lazy() -> None:
    hidden = []
    for _, path, tree in _sources():
        lines = path.read_text().splitlines()
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for sub in ast.walk(node):
                if isinstance(sub, (ast.Import, ast.ImportFrom)) and not _marked_lazy(lines, sub.lineno):
                    hidden.append(f"{path.relative_to(ROOT)}:{sub.lineno}: {lines[sub.lineno - 1].strip()}")
    assert not hidden, f"{len(hidden)} function-local imports without '# lazy: <why>':\n" + "\n".join(hidden)
