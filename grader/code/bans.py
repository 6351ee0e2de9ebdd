"""Banned helpers: the one home of finding where a student's functions call what an exercise
asks them to write themselves (``scipy.signal.convolve2d``, ``np.convolve``, ...).

An exercise spec declares its bans (``banned:`` in ``exercises/specs/*.yaml``, read by
:mod:`grader.code.spec`): dotted names, each banning itself and everything under it
(``scipy.ndimage`` bans ``scipy.ndimage.convolve``), and the reason told to the student.
:func:`banned_uses` reads the file's syntax only (nothing runs): it resolves the names a
function uses through the file's imports (top-level and inside the function), ``as`` aliases
and top-level assignments of such names (``conv = signal.convolve2d``), and follows calls to
the file's other functions, so a helper that calls the banned function bans its callers too.
Importing a banned module without using it is not a use.
"""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Iterable, Mapping, Sequence

from grader.code.source import parse_python

Aliases = dict[str, str]  # a name bound in the file -> the dotted name it stands for


def banned_uses(text: str, banned: Sequence[str]) -> dict[str, str]:
    """Each top-level function that uses a banned name -> the first such name, in full.

    ``{}`` when nothing is banned or the file does not parse (its error is reported elsewhere).
    """
    if not banned:
        return {}
    try:
        tree = parse_python(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return {}
    aliases = _module_aliases(tree.body)
    functions = {n.name: n for n in tree.body
                 if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
    direct = {name: _first_banned(node, aliases, banned) for name, node in functions.items()}
    calls = {name: _called(node, functions) for name, node in functions.items()}
    found = _through_calls(direct, calls)
    return {name: found[name] for name in functions if name in found}


def is_banned(dotted: str, banned: Iterable[str]) -> bool:
    return any(dotted == b or dotted.startswith(b + ".") for b in banned)


def _bind(node: ast.Import | ast.ImportFrom, aliases: Aliases) -> None:
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname:
                aliases[alias.asname] = alias.name
            else:  # `import scipy.signal` binds scipy; scipy.signal.x resolves through it
                top = alias.name.split(".")[0]
                aliases[top] = top
    elif node.level == 0 and node.module:
        for alias in node.names:
            if alias.name != "*":
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"


def _module_aliases(body: Sequence[ast.stmt]) -> Aliases:
    aliases: Aliases = {}
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            _bind(node, aliases)
        elif (isinstance(node, ast.Assign) and len(node.targets) == 1
              and isinstance(node.targets[0], ast.Name)):
            dotted = _dotted(node.value, aliases)
            if dotted is not None:
                aliases[node.targets[0].id] = dotted
    return aliases


def _dotted(node: ast.expr, aliases: Mapping[str, str]) -> str | None:
    """``np.lib.stride_tricks`` as ``numpy.lib.stride_tricks``; None for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in aliases:
        return None
    return ".".join([aliases[node.id], *reversed(parts)])


def _first_banned(function: ast.AST, module: Aliases, banned: Sequence[str]) -> str | None:
    aliases = dict(module)
    for node in ast.walk(function):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            _bind(node, aliases)
    for node in ast.walk(function):
        if isinstance(node, (ast.Attribute, ast.Name)):
            dotted = _dotted(node, aliases)
            if dotted is not None and is_banned(dotted, banned):
                return dotted  # breadth first: the whole written name before its parts
    return None


def _called(function: ast.AST, functions: Mapping[str, ast.AST]) -> list[str]:
    return [n.func.id for n in ast.walk(function) if isinstance(n, ast.Call)
            and isinstance(n.func, ast.Name) and n.func.id in functions]


def _through_calls(direct: Mapping[str, str | None],
                   calls: Mapping[str, list[str]]) -> dict[str, str]:
    """Each function that uses a banned name itself or through the functions it calls -> the
    nearest such use: its own, else the one a breadth-first walk of its calls meets first.

    The walk from every function would repeat the others' (a file of a few hundred functions
    calling each other took seconds). One walk back from the direct uses gives each function
    its distance to the nearest; a function's use is then the one of its first callee (in call
    order) one step nearer, which is what the walk from it would have met first.
    """
    callers: dict[str, list[str]] = {name: [] for name in calls}
    for name, callees in calls.items():
        for callee in dict.fromkeys(callees):
            callers[callee].append(name)
    distance = {name: 0 for name in calls if direct.get(name)}
    queue = deque(distance)
    while queue:
        current = queue.popleft()
        for caller in callers[current]:
            if caller not in distance:
                distance[caller] = distance[current] + 1
                queue.append(caller)
    found: dict[str, str] = {}
    for name in sorted(distance, key=distance.__getitem__):  # nearer ones first
        if distance[name] == 0:
            found[name] = direct[name]
        else:
            nearer = next(c for c in calls[name] if distance.get(c) == distance[name] - 1)
            found[name] = found[nearer]
    return found
