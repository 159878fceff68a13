"""The layering of DESIGN.md, read from the source: ui -> rag -> embeddings, one way.

Every import statement counts, at module level or inside a function (a lazy import is still a
dependency); only imports under ``if TYPE_CHECKING:`` are left out, since they never run.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("embeddings", "rag", "ui")
# The one composition root that may import ui/ (it starts the server).
COMPOSITION_ROOT = "rag.cli"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skip


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules ``name`` imports (a package's module when ``from pkg import mod``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_nodes(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(name, path, set(modules)) for name, path in modules.items()}


def _layer(module: str) -> str:
    return module.split(".")[0]


ALLOWED = {"embeddings": {"embeddings"}, "rag": {"rag", "embeddings"}, "ui": set(PACKAGES)}


def _upward(graph: dict[str, set[str]]) -> list[str]:
    return [
        f"{m} imports {t}"
        for m, targets in sorted(graph.items())
        for t in sorted(targets)
        if _layer(t) not in ALLOWED[_layer(m)] and not (m == COMPOSITION_ROOT and _layer(t) == "ui")
    ]


def test_no_upward_import(graph):
    bad = _upward(graph)
    assert not bad, "imports against ui -> rag -> embeddings:\n" + "\n".join(bad)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle(graph):
    cycles = _cycles(graph)
    assert not cycles, "modules that import each other: " + "; ".join(
        " <-> ".join(c) for c in cycles
    )


def test_the_checks_can_fail():
    # The detectors themselves: a cycle and an upward edge are found when present.
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    upward = {"embeddings.x": {"rag.y"}, "rag.y": {"ui.z"}, "rag.cli": {"ui.app"}, "ui.z": set()}
    assert _upward(upward) == ["embeddings.x imports rag.y", "rag.y imports ui.z"]


def test_imports_are_read_from_the_source(tmp_path):
    # Lazy (function-level) imports count, package members and relative imports resolve,
    # TYPE_CHECKING ones do not.
    source = tmp_path / "mod.py"
    source.write_text(
        "from typing import TYPE_CHECKING\n"
        "from rag import fusion\n"
        "from .lexical import tokenize\n"
        "if TYPE_CHECKING:\n"
        "    from rag.store import Snapshot\n"
        "def f():\n"
        "    import embeddings.encoder\n"
    )
    known = {"rag", "rag.fusion", "rag.lexical", "rag.store", "embeddings.encoder"}
    assert _imports("rag.mod", source, known) == {
        "rag",
        "rag.fusion",
        "rag.lexical",
        "embeddings.encoder",
    }
