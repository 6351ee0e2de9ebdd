"""The `grader check`, `grade` and `batch` commands: output, JSON and exit codes."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main
from grader.cli.code_commands import guess_exercise

ROOT = Path(__file__).resolve().parents[1]
SUBMISSIONS = ROOT / "tests" / "submissions"


@pytest.fixture
def runner():
    return CliRunner()


def test_check_passes_a_correct_file_with_exit_0(runner):
    result = runner.invoke(main, ["check", str(SUBMISSIONS / "correct_vectorized.py"),
                                  "--function", "zero_pad"])
    assert result.exit_code == 0, result.output
    assert "zero_pad" in result.output and "pass" in result.output
    assert "hidden" not in result.output
    assert "Score: 3 / 3" in result.output


def test_check_names_the_bug_and_exits_1(runner):
    result = runner.invoke(main, ["check", str(SUBMISSIONS / "buggy_float_b.py")])
    assert result.exit_code == 1
    assert "b.item()" in result.output
    assert "not attempted" in result.output


def test_check_json_matches_the_contract(runner):
    result = runner.invoke(main, ["check", str(SUBMISSIONS / "buggy_float_b.py"), "--json",
                                  "--function", "conv_single_step"])
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert set(data) == {"audience", "score", "max_score", "functions", "warnings"}
    [test, *_] = data["functions"][0]["tests"]
    assert test["verdict"] == "exception" and "NumPy 2.4" in test["diagnosis"]


def test_grade_includes_hidden_tests(runner):
    result = runner.invoke(main, ["grade", str(SUBMISSIONS / "correct_basics.py"), "--json"])
    assert result.exit_code == 0, result.output
    names = [t["name"] for f in json.loads(result.output)["functions"] for t in f["tests"]]
    assert any(n.startswith("hidden") for n in names)


@pytest.mark.parametrize(("args", "message"), [
    (["check", "missing.py"], "does not exist"),
    (["check", "{bad}"], "is not UTF-8 text"),
    (["check", "{good}", "--function", "nope"], "has no function 'nope'"),
])
def test_bad_arguments_and_unreadable_files_exit_2(runner, tmp_path, args, message):
    bad = tmp_path / "bad.py"
    bad.write_bytes(b"\xff\xfe\xfa")
    args = [a.format(bad=bad, good=SUBMISSIONS / "correct_loops.py") for a in args]
    result = runner.invoke(main, args)
    assert result.exit_code == 2
    assert message in result.output


def test_an_empty_file_attempts_nothing_and_exits_1(runner, tmp_path):
    empty = tmp_path / "empty.py"
    empty.write_text("")
    result = runner.invoke(main, ["check", str(empty), "--json"])
    assert result.exit_code == 1
    assert {f["status"] for f in json.loads(result.output)["functions"]} == {"not attempted"}


def test_batch_writes_one_row_per_file(runner, tmp_path):
    folder = tmp_path / "subs"
    folder.mkdir()
    shutil.copy(SUBMISSIONS / "correct_vectorized.py", folder / "alice.py")
    shutil.copy(SUBMISSIONS / "buggy_float_b.py", folder / "bob.py")
    (folder / "carol.py").write_bytes(b"\xff\xfe")
    out = tmp_path / "scores.csv"
    result = runner.invoke(main, ["batch", str(folder), "--out", str(out), "--jobs", "2"])
    assert result.exit_code == 0, result.output
    rows = {r["file"]: r for r in csv.DictReader(out.open())}
    assert set(rows) == {"alice.py", "bob.py", "carol.py"}
    assert rows["alice.py"]["score"] == rows["alice.py"]["max_score"] == "32.0"
    assert rows["bob.py"]["score"] == "0.0" and rows["bob.py"]["conv_single_step"] == "0.0"
    assert "UTF-8" in rows["carol.py"]["error"] or "utf-8" in rows["carol.py"]["error"]


def test_the_exercise_is_guessed_from_function_names():
    assert guess_exercise("def correlate2d(x, k):\n    pass\n") == "convolution_basics"
    assert guess_exercise("def conv_forward(A, W, b, h):\n    pass\n") == "conv_step_by_step"
    assert guess_exercise("this is not python(") == "conv_step_by_step"
