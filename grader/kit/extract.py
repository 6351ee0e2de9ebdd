"""Copying the grader's own code into the student kit: one implementation, copied at build time.

The kit judges a student's outputs with the very functions the server uses (the verdict
ladder, the report, the child's status, the matching of a wrong output with the known bugs'
outputs). Rather than a second implementation, :func:`copy_definitions` copies the named
top-level definitions of a grader module, together with every definition they use from the
same module (found with :mod:`ast`), and only the imports those definitions need, rewritten to
the kit's flat ``_core`` package (imports inside a copied function too, where a module imports
what only a slower path needs). Whatever is not reachable from the named roots (the
reference, the bug families, the spec loader, the sandbox's POSIX machinery) is never copied.

The copy fails loudly (:class:`KitBuildError`) when a named root is missing or an import
cannot be mapped, so a change in the grader breaks the kit's build, not a student's check.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from grader.errors import GraderError
from grader.syntax import parse_python

GRADER_ROOT = Path(__file__).resolve().parents[1]

# Where the grader's modules live in the kit (relative to the kit's ``_core`` package).
MODULE_MAP = {
    "grader.errors": ".errors",
    "grader.syntax": ".syntax",
    "grader.code.report": ".report",
    "grader.code.verdicts": ".verdicts",
    "grader.code.diagnosis": ".diagnosis",
    "grader.code.matching": ".matching",
    "grader.code.plan": ".plan",
    "grader.code.cases": ".cases",
    "grader.code.fresh": ".fresh",
    "grader.code.bans": ".bans",
    "grader.code.spec": ".spec",
    "grader.code.functions": ".functions",
    "grader.code.source": ".source",
    "grader.code.grade": ".grade",
    "grader.sandbox": ".sandbox",
    "grader.sandbox.outcome": ".sandbox",
    "grader.sandbox.limits": ".sandbox",
    "grader.sandbox.runner": ".sandbox",
}
# Standard-library modules with POSIX-only parts the kit reads through a portable stand-in.
PORTABLE = {"signal": "._portable_signal"}


class KitBuildError(GraderError):
    """The kit cannot be built from the grader's current sources (the message says why)."""


@dataclass(frozen=True)
class Part:
    """What to copy from one grader module: ``roots`` and what they use (None: everything)."""

    module: str
    roots: tuple[str, ...] | None = None
    provided: tuple[str, ...] = ()  # names the kit defines itself; never copied
    replace: tuple[tuple[str, str], ...] = ()  # exact text edits, each must match once

    @property
    def path(self) -> Path:
        return GRADER_ROOT.parent / (self.module.replace(".", "/") + ".py")


def _defined(node: ast.stmt) -> set[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return {node.name}
    names = set()
    targets = node.targets if isinstance(node, ast.Assign) else (
        [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else [])
    for target in targets:
        names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    if isinstance(node, ast.Try):
        for child in ast.walk(node):
            if isinstance(child, (ast.Assign, ast.AnnAssign)):
                names |= _defined(child)
    return names


def _used(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _bound(alias: ast.alias) -> str:
    return (alias.asname or alias.name).split(".")[0]


def _is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(
        node.value.value, str)


def _segment(lines: Sequence[str], node: ast.stmt) -> str:
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", ()))])
    return "".join(lines[first - 1:node.end_lineno])


def _target(module: str, part: Part) -> str:
    if module in MODULE_MAP:
        return MODULE_MAP[module]
    if module in PORTABLE:
        return PORTABLE[module]
    if module.split(".")[0] == "grader":
        raise KitBuildError(f"{part.module}: the kit has no copy of {module}")
    return module


def _import_text(node: ast.Import | ast.ImportFrom, needed: set[str], part: Part,
                 home: str) -> str:
    """The import as the kit writes it; "" when nothing it binds is needed or it is ``home``."""
    if isinstance(node, ast.ImportFrom):
        aliases = [a for a in node.names if _bound(a) in needed]
        if node.module == "__future__" or not aliases:
            return ""
        target = _target(node.module or "", part)
        if target == home:
            return ""  # the same kit module: the names are defined right here
        names = ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in aliases)
        return f"from {target} import {names}\n"
    out = []
    for alias in node.names:
        if _bound(alias) not in needed:
            continue
        target = _target(alias.name, part)
        if target.startswith("."):
            out.append(f"from . import {target[1:]} as {_bound(alias)}\n")
        else:
            out.append(f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
                       + "\n")
    return "".join(out)


def copy_definitions(part: Part, home: str = "") -> tuple[str, str]:
    """(imports, body) copied from ``part``'s module, as text for one kit module."""
    text = part.path.read_text(encoding="utf-8")
    for old, new in part.replace:
        if text.count(old) != 1:
            raise KitBuildError(f"{part.module}: expected the text {old!r} exactly once")
        text = text.replace(old, new)
    tree = parse_python(text)
    lines = text.splitlines(keepends=True)
    body = [n for n in tree.body if not _is_docstring(n)]
    imports = [n for n in body if isinstance(n, (ast.Import, ast.ImportFrom))]
    statements = [n for n in body if n not in imports]
    chosen = statements if part.roots is None else _reachable(statements, part)
    needed = set().union(*(_used(n) for n in chosen)) if chosen else set()
    import_text = "".join(_import_text(n, needed, part, home) for n in imports)
    _rewrite_local_imports(lines, chosen, part, home)
    return import_text, "\n".join(_segment(lines, n) for n in chosen)


def _rewritten(node: ast.AST) -> bool:
    """Is ``node`` an import the kit writes differently (of the grader, or made portable)?"""
    def ours(module: str) -> bool:
        return module.split(".")[0] == "grader" or module in PORTABLE

    if isinstance(node, ast.ImportFrom):
        return node.level == 0 and ours(node.module or "")
    return isinstance(node, ast.Import) and any(ours(a.name) for a in node.names)


def _rewrite_local_imports(lines: list[str], chosen: Sequence[ast.stmt], part: Part,
                           home: str) -> None:
    """Rewrite, in place, the imports inside the chosen definitions (a function that imports
    what only it needs) as the kit writes them: each keeps its indentation, and an import of
    ``home`` itself (the names are defined right there) becomes ``pass``."""
    for node in chosen:
        for inner in ast.walk(node):
            if inner is node or not _rewritten(inner):
                continue
            names = {_bound(a) for a in inner.names}
            text = _import_text(inner, names, part, home) or "pass\n"
            indent = lines[inner.lineno - 1][:inner.col_offset]
            lines[inner.lineno - 1] = indent + text.rstrip("\n").replace("\n", "\n" + indent) + "\n"
            for number in range(inner.lineno, inner.end_lineno):
                lines[number] = "\n"  # the rest of a parenthesized import: its line stays


def _reachable(statements: list[ast.stmt], part: Part) -> list[ast.stmt]:
    definers: dict[str, list[ast.stmt]] = {}
    for node in statements:
        for name in _defined(node):
            definers.setdefault(name, []).append(node)
    missing = [r for r in part.roots or () if r not in definers]
    if missing:
        raise KitBuildError(f"{part.module}: no top-level definition of {', '.join(missing)}")
    chosen: set[int] = set()
    todo = list(part.roots or ())
    seen: set[str] = set(part.provided)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for node in definers.get(name, ()):
            if id(node) not in chosen:
                chosen.add(id(node))
                todo.extend(_used(node) - seen)
    return [n for n in statements if id(n) in chosen]


def kit_module(name: str, parts: Iterable[Part], extra: str = "") -> str:
    """The text of the kit module ``_core.<name>``: ``parts``, then ``extra`` (the kit's own)."""
    parts = list(parts)
    origin = f"The kit's copy of the grader's {name} code."
    copied = [copy_definitions(p, "." + name) for p in parts]
    sources = ", ".join(p.module.replace(".", "/") + ".py" for p in parts)
    imports = _unique_lines("".join(i for i, _ in copied))
    bodies = "\n\n".join(b for _, b in copied)
    header = (f'"""{origin}\n\nCopied from {sources} when this kit was built; do not edit: the '
              'grader is the one source of this code."""\n\n'
              "# ruff: noqa\nfrom __future__ import annotations\n\n")
    module = header + imports + "\n\n" + bodies + ("\n\n" + extra if extra else "")
    compile(module, origin, "exec")  # a copy that does not compile fails the build, here
    return module


def _unique_lines(text: str) -> str:
    seen: list[str] = []
    for line in text.splitlines(keepends=True):
        if line not in seen:
            seen.append(line)
    return "".join(seen)
