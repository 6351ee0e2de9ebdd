"""Where Stride's data folders are: ``problems/``, ``exercises/``, ``migrations/`` and ``kit/``.

In a checkout they are the repository's top-level folders, beside ``grader/``. An installed
wheel ships them inside the package, as ``grader/_data/<folder>`` (pyproject.toml and setup.py
map them there at build time), so nothing of Stride lands at the top of site-packages.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


@cache
def data_root() -> Path:
    """The folder holding ``problems/``, ``exercises/``, ``migrations/`` and ``kit/``: the
    installed package data when there is some, else the checkout this package runs from."""
    installed = _PACKAGE / "_data"
    return installed if installed.is_dir() else _PACKAGE.parent
