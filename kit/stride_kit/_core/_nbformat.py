"""``nbformat.reads`` when nbformat is installed, else a reader of the notebook's JSON.

The kit depends on NumPy only; the code cells of a version 4 (or 3) notebook are plain JSON.
"""

from __future__ import annotations

import json
from typing import Any


def _text(source: Any) -> str:
    return "".join(source) if isinstance(source, list) else str(source or "")


def reads(text: str, as_version: int = 4) -> dict[str, Any]:
    try:
        import nbformat
    except ImportError:
        pass
    else:
        return nbformat.reads(text, as_version=as_version)
    data = json.loads(text)
    if data.get("nbformat") == 3:
        cells = [c for sheet in data.get("worksheets", ()) for c in sheet.get("cells", ())]
        return {"cells": [{"cell_type": c.get("cell_type"), "source": _text(c.get("input")),
                           "execution_count": c.get("prompt_number")}
                          for c in cells if isinstance(c, dict)]}
    cells = data.get("cells")
    if not isinstance(cells, list):
        raise ValueError("a notebook needs a list of cells")
    return {"cells": [{"cell_type": c.get("cell_type"), "source": _text(c.get("source")),
                       "execution_count": c.get("execution_count")}
                      for c in cells if isinstance(c, dict)]}
