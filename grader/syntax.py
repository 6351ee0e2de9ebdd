"""Parsing Python source safely from several threads: the one home of ``ast.parse`` in Stride.

CPython 3.11 keeps the AST converter's recursion depth in one per-interpreter counter, so two
threads running ``ast.parse`` at once can corrupt it, and one of them raises "SystemError: AST
constructor recursion depth mismatch" (python/cpython#106905) on valid text. `grader batch`
grades from several threads and the web app serves from several (gthread workers, the bank
reload): every parse of a student's file, a template's answer expression or a detector's
rewrite goes through :func:`parse_python`, one at a time (a parse takes well under a
millisecond per KB). A lock cannot cover parses that other libraries run in the same process
(pytest, hypothesis, a notebook's own code in the student kit), so that one SystemError is
also retried: the converter's counter starts afresh on each call, and the text is valid.
"""

from __future__ import annotations

import ast
import threading

_AST_LOCK = threading.Lock()
_DEPTH_MISMATCH = "recursion depth mismatch"
_TRIES = 5


def parse_python(text: str, mode: str = "exec") -> ast.AST:
    """``ast.parse(text, mode=mode)``, safe to call from several threads at once.

    Raises what ``ast.parse`` raises (SyntaxError, ValueError, RecursionError, MemoryError).
    """
    for attempt in range(_TRIES):
        try:
            with _AST_LOCK:
                return ast.parse(text, mode=mode)
        except SystemError as exc:  # python/cpython#106905, never the text's fault
            if _DEPTH_MISMATCH not in str(exc) or attempt == _TRIES - 1:
                raise
    raise AssertionError("unreachable")
