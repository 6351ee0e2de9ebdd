"""The grading core stays pure: no web or database framework leaks into `grader/`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FORBIDDEN = ("flask", "sqlalchemy", "werkzeug", "alembic", "flask_login", "flask_wtf")


def _grader_modules() -> list[str]:
    modules = []
    for path in sorted((ROOT / "grader").rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules.append(".".join(parts))
    return modules


def test_grader_imports_no_web_or_database_framework():
    code = (
        "import importlib, json, sys\n"
        f"for name in {_grader_modules()!r}:\n"
        "    importlib.import_module(name)\n"
        f"print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r})))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_grader_modules_are_found():
    assert "grader.errors" in _grader_modules()
