"""The layers hold: `server.py -> web -> grader`, no import cycle inside `grader/` or `web/`, and
no web or database framework in `grader/`.

The import graph is read with `ast` from every module at every depth, including imports inside
functions, so a lazy import cannot hide a cycle or a forbidden dependency.
"""

from __future__ import annotations

import ast
import json
import pkgutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("flask", "sqlalchemy", "werkzeug", "alembic", "flask_login", "flask_wtf")


# --- the checker ---------------------------------------------------------------------------------

def module_files(root: Path, package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every module of `package` under `root`, at every depth."""
    modules = {}
    for path in sorted((root / package).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imported_names(path: Path, module: str) -> set[str]:
    """Every dotted name `path` imports anywhere (module level or inside a function), with
    relative imports resolved, and `from a import b` giving both `a` and `a.b`."""
    is_package = path.name == "__init__.py"
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, module, is_package)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _absolute(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    keep = len(parts) - node.level + (1 if is_package else 0)
    return ".".join(parts[:keep] + ([node.module] if node.module else []))


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module -> the modules of the same package it imports."""
    files = module_files(root, package)
    graph = {}
    for module, path in files.items():
        targets = {_owner(name, files) for name in imported_names(path, module)}
        graph[module] = {t for t in targets if t is not None and t != module}
    return graph


def _owner(name: str, files: dict[str, Path]) -> str | None:
    """The longest module of `files` that `name` is or lies in (None when outside)."""
    while name:
        if name in files:
            return name
        name = name.rpartition(".")[0]
    return None


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of two or more modules (Tarjan's algorithm), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(cycles)


def forbidden_imports(root: Path, package: str, forbidden: Iterable[str],
                      prefixes: tuple[str, ...] = ()) -> dict[str, set[str]]:
    """Module -> the forbidden top-level packages (named, or starting with one of `prefixes`)
    it imports anywhere in the module."""
    banned = set(forbidden)
    found = {}
    for module, path in module_files(root, package).items():
        tops = {name.split(".")[0] for name in imported_names(path, module)}
        hits = {t for t in tops if t in banned or t.startswith(prefixes or ("\0",))}
        if hits:
            found[module] = hits
    return found


# --- the checker can fail -------------------------------------------------------------------

def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_the_checker_reports_a_cycle_hidden_in_a_function_and_a_nested_package(tmp_path):
    _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/a.py": "from pkg.sub import b\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/b.py": "def later():\n    from ..c import thing\n    return thing\n",
        "pkg/c.py": "import pkg.a\nthing = 1\n",
        "pkg/d.py": "from pkg import c\n",  # depends on the cycle, not part of it
    })
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.sub.b"] == {"pkg.c"}
    assert find_cycles(graph) == [["pkg.a", "pkg.c", "pkg.sub.b"]]


def test_the_checker_finds_no_cycle_in_a_layered_package(tmp_path):
    _write(tmp_path, {"pkg/__init__.py": "", "pkg/low.py": "import json\n",
                      "pkg/high.py": "from . import low\n"})
    # `from . import low` runs the package's __init__ too: an edge, but no cycle.
    assert import_graph(tmp_path, "pkg")["pkg.high"] == {"pkg", "pkg.low"}
    assert find_cycles(import_graph(tmp_path, "pkg")) == []


def test_the_checker_reports_a_framework_imported_inside_a_function(tmp_path):
    _write(tmp_path, {"core/__init__.py": "",
                      "core/pure.py": "def f():\n    from flask_login import current_user\n",
                      "core/ok.py": "import numpy\n"})
    assert forbidden_imports(tmp_path, "core", ("flask",), ("flask_",)) == {
        "core.pure": {"flask_login"}}


# --- the project ------------------------------------------------------------------------------

def test_grader_has_no_import_cycle():
    assert find_cycles(import_graph(ROOT, "grader")) == []


def test_web_has_no_import_cycle():
    assert find_cycles(import_graph(ROOT, "web")) == []


def test_grader_never_imports_a_web_or_database_framework():
    assert forbidden_imports(ROOT, "grader", FORBIDDEN, ("flask_",)) == {}


def test_web_never_imports_the_server():
    assert forbidden_imports(ROOT, "web", ("server",)) == {}
    assert module_files(ROOT, "web"), "the web package was not found"


def test_grader_imports_no_web_or_database_framework_when_run():
    modules = sorted(module_files(ROOT, "grader"))
    code = (
        "import importlib, json, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_every_module_is_seen_at_every_depth():
    """The files the checks read are exactly the modules Python's own walk finds."""
    for package in ("grader", "web"):
        walked = {package} | {info.name for info in pkgutil.walk_packages(
            [str(ROOT / package)], prefix=f"{package}.")}
        assert set(module_files(ROOT, package)) == walked
    assert any(name.count(".") >= 2 for name in module_files(ROOT, "web"))


@pytest.mark.parametrize("package", ["grader.code", "grader.sandbox"])
def test_every_lazily_exported_name_is_its_home_modules_own(package):
    """``grader.code`` and ``grader.sandbox`` import their names on first use: each listed
    name must exist in the module named as its home, and nothing else is exported."""
    import importlib

    module = importlib.import_module(package)
    for name in module.__all__:
        home = importlib.import_module(f"{package}.{module._HOMES[name]}")
        assert getattr(module, name) is getattr(home, name), name
    assert "_HOMES" not in module.__all__ and set(dir(module)) >= set(module.__all__)
    with pytest.raises(AttributeError, match="no attribute 'no_such_name'"):
        _ = module.no_such_name
