"""Every module imports on its own (no import cycle hides behind an import order), and the dependency rules of
docs/architecture.md hold (import-linter, the same check .ci/run makes)."""

from __future__ import annotations

import ast
import importlib.util
import pkgutil
import subprocess
import sys
from pathlib import Path

import genloom

ROOT = Path(__file__).resolve().parents[2]

def _module_level_imports(path: Path, name: str, package: bool) -> set[str]:
    """The genloom modules ``name`` imports when it is imported: top-level statements only (imports inside
    functions run later, and ``if TYPE_CHECKING:`` blocks never run)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                visit(node.orelse)
                continue
            if isinstance(node, ast.If | ast.Try):
                visit(node.body)
                visit(node.orelse)
                for handler in getattr(node, "handlers", []):
                    visit(handler.body)
                continue
            if isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = name.split(".")[: len(name.split(".")) - node.level + (1 if package else 0)]
                    base = ".".join(parts + ([base] if base else []))
                found.add(base)
                found.update(f"{base}.{alias.name}" for alias in node.names)

    visit(tree.body)
    return {m for m in found if m == "genloom" or m.startswith("genloom.")}


def _graph() -> dict[str, set[str]]:
    modules: dict[str, tuple[Path, bool]] = {}
    for info in pkgutil.walk_packages(genloom.__path__, "genloom."):
        if ".migrations" in info.name:
            continue  # Alembic loads these itself, with its context
        spec = importlib.util.find_spec(info.name)
        assert spec is not None and spec.origin is not None
        modules[info.name] = (Path(spec.origin), info.ispkg)
    graph = {}
    for name, (path, package) in modules.items():
        targets = {t for t in _module_level_imports(path, name, package) if t in modules}
        # importing a.b.c first runs a/__init__ and a/b/__init__
        for target in list(targets):
            parts = target.split(".")
            targets.update(".".join(parts[:i]) for i in range(2, len(parts)) if ".".join(parts[:i]) in modules)
        # a package's own __init__ has already run when one of its modules runs: not an edge worth following
        graph[name] = {t for t in targets if t != name and not name.startswith(t + ".")}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0

    def connect(v: str) -> None:
        nonlocal counter
        index[v] = low[v] = counter
        counter += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                connect(w)
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
                out.append(sorted(component))

    for v in graph:
        if v not in index:
            connect(v)
    return out


def test_no_module_level_import_cycle() -> None:
    """With no cycle among the imports that run at import time, every module imports on its own, whatever
    was imported before it (``python -c "import genloom.x"`` works for each)."""
    graph = _graph()
    assert len(graph) > 100
    assert _cycles(graph) == []


def test_every_module_imports() -> None:
    done = subprocess.run([sys.executable, "-c", "import sys, importlib; [importlib.import_module(m) for m in sys.argv[1:]]",
                           *_graph()], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]


def test_dependency_rules_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
