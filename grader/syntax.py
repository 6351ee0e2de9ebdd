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

Parsing never warns: a student's ``"\\d"`` or ``is 1`` would make CPython print a
``DeprecationWarning``/``SyntaxWarning`` per line to the server's log (Python 3.12 shows them by
default), so a file of many such lines could flood it. The text is compiled under its own
file name, and warnings from that name alone are ignored, which needs no lock on the process's
warning filters.
"""

from __future__ import annotations

import ast
import threading
import warnings

_AST_LOCK = threading.Lock()
SOURCE_NAME = "<stride-parsed>"  # the file name parsed text is compiled under
for _category in (SyntaxWarning, DeprecationWarning):
    warnings.filterwarnings("ignore", category=_category, module=SOURCE_NAME)
_DEPTH_MISMATCH = "recursion depth mismatch"
_TRIES = 5


def parse_python(text: str, mode: str = "exec") -> ast.AST:
    """``ast.parse(text, mode=mode)``, safe to call from several threads at once.

    Raises what ``ast.parse`` raises (SyntaxError, ValueError, RecursionError, MemoryError).
    """
    for attempt in range(_TRIES):
        try:
            with _AST_LOCK:
                return ast.parse(text, filename=SOURCE_NAME, mode=mode)
        except SystemError as exc:  # python/cpython#106905, never the text's fault
            if _DEPTH_MISMATCH not in str(exc) or attempt == _TRIES - 1:
                raise
    raise AssertionError("unreachable")
