"""`grader batch` survives any single file: each gets a row, hostile ones say what happened."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import code_commands, main

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "tests" / "submissions"
ZERO_PAD = "def zero_pad(X, pad):\n    return X\n"


@pytest.fixture
def folder(tmp_path):
    folder = tmp_path / "subs"
    folder.mkdir()
    shutil.copy(SUBMISSIONS / "correct_vectorized.py", folder / "correct.py")
    (folder / "recursion_at_import.py").write_text(ZERO_PAD + "def f():\n    return f()\nf()\n")
    # Too deeply nested for the compiler: compile() raises RecursionError.
    (folder / "nested.py").write_text(ZERO_PAD + "x = " + "+".join(["1"] * 200_000) + "\n")
    (folder / "binary.py").write_bytes(bytes(range(256)) * 4)
    (folder / "nul.py").write_bytes(b"def zero_pad(X, pad):\x00\n")
    (folder / "essay.py").write_text("This is my essay about convolutions.\n")
    (folder / "empty.py").write_text("")
    return folder


def _batch(folder: Path, out: Path) -> dict[str, dict[str, str]]:
    result = CliRunner().invoke(main, ["batch", str(folder), "--out", str(out), "--jobs", "2"])
    assert result.exit_code == 0, result.output
    assert f"graded {len(list(folder.glob('*.py')))} files" in result.output
    return {row["file"]: row for row in csv.DictReader(out.open(encoding="utf-8"))}


def test_every_file_gets_a_row_that_says_what_happened(folder, tmp_path):
    rows = _batch(folder, tmp_path / "scores.csv")
    assert set(rows) == {p.name for p in folder.glob("*.py")}
    correct = rows["correct.py"]
    assert correct["score"] == correct["max_score"] == "37.0" and correct["error"] == ""
    recursion = rows["recursion_at_import.py"]
    assert recursion["error"].startswith("RecursionError while loading your file")
    assert recursion["score"] == "0.0" and recursion["zero_pad"] == "0.0"
    assert rows["nested.py"]["error"] == ("not valid Python: RecursionError while parsing "
                                          "(nested too deeply?)")
    assert rows["nested.py"]["score"] == "0.0"
    assert rows["binary.py"]["error"] == ("not UTF-8 text (byte 128 cannot be read): is it a "
                                          "Python file?")
    assert rows["nul.py"]["error"] == ("the file contains NUL bytes: it is not a Python "
                                       "source file")
    assert rows["essay.py"]["error"].startswith("not valid Python: invalid syntax")
    assert rows["essay.py"]["error"].endswith("(line 1)")
    assert rows["empty.py"]["error"] == ("nothing attempted: the file defines none of the "
                                         "exercise's functions")
    assert all(rows[name]["score"] in ("0", "0.0") for name in rows if name != "correct.py")


def test_a_file_that_makes_the_grader_itself_fail_does_not_stop_the_batch(
        folder, tmp_path, monkeypatch):
    real = code_commands.grade_source

    def fragile(source, **kwargs):
        if "essay" in source:
            raise RuntimeError("the grader tripped over this one")
        return real(source, **kwargs)

    monkeypatch.setattr(code_commands, "grade_source", fragile)
    rows = _batch(folder, tmp_path / "scores.csv")
    assert rows["essay.py"]["error"] == (
        "the grader failed on this file (RuntimeError: the grader tripped over this one); "
        "grade it alone with `grader grade`")
    assert rows["correct.py"]["score"] == "37.0"
    assert len(rows) == 7


def test_every_parse_of_a_students_file_runs_under_one_lock(monkeypatch):
    # CPython 3.11's AST converter keeps its recursion depth in one per-interpreter counter:
    # two threads in ast.parse at once can make one raise "SystemError: AST constructor
    # recursion depth mismatch" (python/cpython#106905). That failed a file of `grader batch`
    # now and then (the row's error, score 0); every parse goes through parse_python.
    from grader.code import source as source_module

    held = []
    real = source_module.ast.parse

    def watching(text, *args, **kwargs):
        held.append(source_module._AST_LOCK.locked())
        return real(text, *args, **kwargs)

    monkeypatch.setattr(source_module.ast, "parse", watching)
    text = (SUBMISSIONS / "correct_vectorized.py").read_text()
    source_module.parse_python(text)
    source_module.prepare_source(text)
    assert held and all(held)
    callers = [path.relative_to(ROOT) for folder in ("grader/code", "grader/cli")
               for path in (ROOT / folder).glob("*.py")
               if "ast.parse(" in path.read_text() and path.name != "source.py"]
    assert callers == []
