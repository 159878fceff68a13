"""The shape of ui/: no import cycles among its modules (type-checking imports included), and
each part of the page in its own module of a few hundred lines."""

from __future__ import annotations

import ast
from pathlib import Path

UI = Path(__file__).resolve().parents[2] / "ui"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(UI.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def ui_imports() -> dict[str, set[str]]:
    """Each ui module -> the ui modules it imports (anywhere in it)."""
    modules = {module_name(p): p for p in UI.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                base = node.module
                found |= {f"{base}.{a.name}" for a in node.names} | {base}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def test_no_import_cycles():
    graph = ui_imports()
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> None:
        if name in path:
            raise AssertionError(" -> ".join([*path[path.index(name) :], name]))
        if name in done:
            return
        for dep in sorted(graph[name]):
            visit(dep, [*path, name])
        done.add(name)

    for name in sorted(graph):
        visit(name, [])


def test_the_page_is_composed_not_written_in_one_place():
    graph = ui_imports()
    assert {"ui.layout.chat", "ui.layout.corpus", "ui.layout.settings"} <= graph["ui.app"]
    assert {"ui.events.chat", "ui.events.corpus", "ui.events.settings"} <= graph["ui.app"]
    # layout builds components only: it neither wires events nor calls handlers
    for name, deps in graph.items():
        if name.startswith("ui.layout"):
            assert not {d for d in deps if d.startswith(("ui.events", "ui.handlers"))}, name
        if name.startswith("ui.handlers"):
            assert not {d for d in deps if d.startswith(("ui.events", "ui.layout"))}, name
    sizes = {
        module_name(p): len(p.read_text(encoding="utf-8").splitlines())
        for p in [UI / "app.py", *(UI / "layout").glob("*.py"), *(UI / "events").glob("*.py")]
        + list((UI / "handlers").glob("*.py"))
    }
    assert max(sizes.values()) <= 400, sizes


def test_no_signature_probing():
    """The page calls the Assistant's declared methods; it does not inspect them."""
    for path in UI.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        assert "inspect" not in names, path
        calls = [
            n.func.id
            for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)
        ]
        assert "hasattr" not in calls, path
