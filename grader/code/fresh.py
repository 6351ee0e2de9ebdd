"""A fresh exercise file: judged from its syntax and the spec, without running anything.

A file that is only docstrings, ``import numpy`` and functions whose body raises
``NotImplementedError`` (the exercise file as handed out, perhaps with some functions deleted)
cannot tell more by running: every call of such a function raises ``NotImplementedError`` and
a function it does not define is missing. :func:`unwritten_functions` recognizes such a file
from its syntax, and :func:`fresh_reports` gives the reports the verdict ladder
(:mod:`grader.code.verdicts`) would give after running it, from the tests' slots alone
(:mod:`grader.code.cases`): no inputs are built, no reference runs, no child starts and NumPy
is not imported, so a stub is checked in a blink. The not-attempted verdicts are made here,
and the ladder uses the same functions for a file that ran.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from typing import Any

from grader.code.cases import TestSlot
from grader.code.report import FunctionReport, TestReport, Verdict
from grader.code.source import MAX_SOURCE_BYTES
from grader.syntax import parse_python


def not_implemented(test: Any) -> TestReport:
    """``test``'s function raised ``NotImplementedError``: not written yet."""
    message = f"{test.func} still raises NotImplementedError."
    return TestReport.of(test, Verdict.NOT_ATTEMPTED, message, student=message)


def not_defined(test: Any) -> TestReport:
    """The file does not define ``test``'s function."""
    message = f"{test.func} is not defined in your file."
    return TestReport.of(test, Verdict.NOT_ATTEMPTED, message, student=message)


def speed_unmeasured(test: Any, verdict: Verdict) -> TestReport:
    """A speed challenge whose output test did not pass (with that test's ``verdict``)."""
    return TestReport.of(test, verdict, "Speed is measured only once the output is correct "
                         f"(see the test {test.case.name!r}).")


def _docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)


def _raises_not_implemented(node: ast.stmt) -> bool:
    """Is ``node`` a function whose body (after its docstring) is ``raise NotImplementedError``,
    with nothing evaluated when it is defined (no decorator, default or annotation)?"""
    if not isinstance(node, ast.FunctionDef) or node.decorator_list or node.returns:
        return False
    arguments = node.args
    every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs,
             *filter(None, [arguments.vararg, arguments.kwarg])]
    defaults = [*arguments.defaults, *filter(None, arguments.kw_defaults)]
    if any(a.annotation for a in every) or not all(isinstance(d, ast.Constant) for d in defaults):
        return False
    body = node.body[1:] if _docstring(node.body[0]) else node.body
    if len(body) != 1 or not isinstance(body[0], ast.Raise) or body[0].cause is not None:
        return False
    exc = body[0].exc
    if isinstance(exc, ast.Call):
        if exc.keywords or not all(isinstance(a, ast.Constant) for a in exc.args):
            return False
        exc = exc.func
    return isinstance(exc, ast.Name) and exc.id == "NotImplementedError"


def unwritten_functions(text: str) -> frozenset[str] | None:
    """The functions of a fresh file (each raises ``NotImplementedError``), or None.

    None when running the file could tell more: anything but docstrings, ``import numpy`` and
    such functions (a written function, any other statement, a syntax error), or a function
    that redefines ``NotImplementedError`` itself; and for a file too large to run at all, which
    gets its own verdict from the ladder.
    """
    if len(text.encode("utf-8")) > MAX_SOURCE_BYTES:
        return None
    try:
        tree = parse_python(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    unwritten = set()
    for node in tree.body:
        if _docstring(node) or (isinstance(node, ast.Import)
                                and all(a.name == "numpy" for a in node.names)):
            continue
        if not _raises_not_implemented(node) or node.name == "NotImplementedError":
            return None
        unwritten.add(node.name)
    return frozenset(unwritten)


def fresh_reports(slots: Sequence[TestSlot], functions: Iterable[str],
                  unwritten: frozenset[str]) -> tuple[FunctionReport, ...]:
    """Each of ``functions``' reports on a fresh file that defines ``unwritten``."""
    reports = []
    for name in functions:
        tests = []
        for slot in (s for s in slots if s.func == name):
            if slot.speed is not None:
                tests.append(speed_unmeasured(slot, Verdict.NOT_ATTEMPTED))
            elif name in unwritten:
                tests.append(not_implemented(slot))
            else:
                tests.append(not_defined(slot))
        reports.append(FunctionReport.of(name, tests))
    return tuple(reports)
