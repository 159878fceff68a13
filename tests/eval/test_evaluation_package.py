"""The shape of rag.evaluation: a light package (the pipeline, torch, FAISS and matplotlib load
on first use), modules without import cycles, and rag/ kept free of ui/ except the CLI."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "rag" / "evaluation"


def _imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth of the file."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def test_importing_the_package_loads_nothing_heavy():
    code = (
        "import sys, rag.evaluation as e\n"
        "heavy = ('torch', 'faiss', 'matplotlib', 'sentence_transformers', 'rag.pipeline')\n"
        "print([m for m in heavy if m in sys.modules])\n"
        "e.run_eval, e.run_compare, e.write_report\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["[]", "[]"]


def test_the_public_names_resolve():
    import rag.evaluation as evaluation

    for name in evaluation.__all__:
        assert getattr(evaluation, name).__name__ == name
    assert set(evaluation.__all__) <= set(dir(evaluation))


def test_no_import_cycles_inside_the_package():
    modules = {p.stem: p for p in PACKAGE.glob("*.py") if p.stem != "__init__"}
    graph = {
        name: {
            m.rsplit(".", 1)[1]
            for m in _imports(path)
            if m.startswith("rag.evaluation.") and m.rsplit(".", 1)[1] in modules
        }
        for name, path in modules.items()
    }
    done: set[str] = set()
    while len(done) < len(graph):
        ready = [n for n, deps in graph.items() if n not in done and deps <= done]
        assert ready, f"import cycle among {sorted(set(graph) - done)}: {graph}"
        done.update(ready)


def test_rag_imports_ui_only_from_the_cli():
    offenders = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "rag").rglob("*.py"))
        if path.name != "cli.py" or path.parent != ROOT / "rag"
        if any(m == "ui" or m.startswith("ui.") for m in _imports(path))
    ]
    assert offenders == []
