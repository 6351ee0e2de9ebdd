"""The Stride student kit: check your exercise functions on your own machine.

In a notebook::

    from stride_kit import check
    check("conv_forward")      # one function, as defined in the notebook
    check()                    # every function of the exercise

From a terminal: ``stride-kit check my_notebook.ipynb`` (or ``my_file.py``), or
``python -m stride_kit check ...``. The stub files are in ``stride_kit/stubs/`` (see
``stride-kit stubs``). Only NumPy is needed; rich adds colour in a terminal.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["check", "check_file"]


def _notebook_source(namespace: dict[str, Any]) -> str | None:
    """The cells run so far in this IPython session, as an nbconvert export (or None)."""
    cells = namespace.get("In")
    if not isinstance(cells, list) or "get_ipython" not in namespace:
        return None
    return "\n".join(f"# In[{n}]:\n{cell}\n" for n, cell in enumerate(cells) if cell)


def _function_sources(namespace: dict[str, Any]) -> str:
    """Outside IPython: the file the functions came from, or their own sources."""
    import inspect

    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if namespace is getattr(main, "__dict__", None) and path:
        with open(path, encoding="utf-8") as fh:
            return fh.read()
    parts = ["import numpy as np\n"]
    for value in namespace.values():
        if inspect.isfunction(value):
            try:
                parts.append(inspect.getsource(value))
            except (OSError, TypeError):
                continue
    return "\n".join(parts)


def _caller_namespace() -> dict[str, Any]:
    frame = sys._getframe(1)
    try:
        outer = frame.f_back
        return outer.f_globals if outer is not None else {}
    finally:
        del frame


def check(name: str | None = None, exercise: str | None = None, *,
          namespace: dict[str, Any] | None = None):
    """Run the public tests on ``name`` (default: every function) as the notebook defines it.

    The functions run in a child process, never in the notebook's own: an endless loop or a
    crash only ends that test. Returns a result that shows as a table in Jupyter.
    """
    from .local import grade
    from .render import Result

    namespace = _caller_namespace() if namespace is None else namespace
    source = _notebook_source(namespace) or _function_sources(namespace)
    report = grade(source, exercise, [name] if name else None)
    title = f"{name or 'all functions'}: public tests"
    return Result(report, title)


def check_file(path: str, exercise: str | None = None, functions=None):
    """The public tests' result on a ``.py`` or ``.ipynb`` file."""
    from pathlib import Path

    from .local import grade
    from .render import Result

    file = Path(path)
    report = grade(file.read_bytes(), exercise, functions, filename=file.name)
    return Result(report, f"{file.name}: public tests")
