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
    assert rows["alice.py"]["score"] == rows["alice.py"]["max_score"] == "37.0"
    assert rows["bob.py"]["score"] == "0.0" and rows["bob.py"]["conv_single_step"] == "0.0"
    assert "UTF-8" in rows["carol.py"]["error"] or "utf-8" in rows["carol.py"]["error"]


def test_the_exercise_is_guessed_from_function_names():
    assert guess_exercise("def correlate2d(x, k):\n    pass\n") == "convolution_basics"
    assert guess_exercise("def conv_forward(A, W, b, h):\n    pass\n") == "conv_step_by_step"
    assert guess_exercise("this is not python(") == "conv_step_by_step"


NO_BWRAP = {"STRIDE_BWRAP": "/nonexistent"}


def test_check_without_bubblewrap_runs_and_says_so_once_before_the_table(runner):
    result = runner.invoke(main, ["check", str(SUBMISSIONS / "correct_vectorized.py"),
                                  "--function", "zero_pad"], env=NO_BWRAP)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if "warning:" in line]
    assert len(warnings) == 1 and "bubblewrap" in warnings[0] and "limits" in warnings[0]
    assert result.output.count("bubblewrap") == 1
    assert result.output.index("warning:") < result.output.index("correct_vectorized.py:")
    assert "Score: 3 / 3" in result.output


def test_check_json_without_bubblewrap_carries_the_warning(runner):
    result = runner.invoke(main, ["check", str(SUBMISSIONS / "correct_vectorized.py"),
                                  "--function", "zero_pad", "--json"], env=NO_BWRAP)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert len(data["warnings"]) == 1 and "bubblewrap" in data["warnings"][0]
    assert result.output.count("bubblewrap") == 1


@pytest.mark.parametrize("command", ["grade", "batch"])
def test_grade_and_batch_refuse_to_run_without_isolation(runner, tmp_path, command):
    folder = tmp_path / "subs"
    folder.mkdir()
    shutil.copy(SUBMISSIONS / "correct_vectorized.py", folder / "alice.py")
    out = tmp_path / "scores.csv"
    args = (["grade", str(folder / "alice.py"), "--json"] if command == "grade"
            else ["batch", str(folder), "--out", str(out)])
    result = runner.invoke(main, args, env=NO_BWRAP)
    assert result.exit_code == 2, result.output
    assert "bubblewrap" in result.output and "namespaces" in result.output
    assert "STRIDE_SANDBOX=unsafe-no-isolation" in result.output
    assert "Traceback" not in result.output and not out.exists()


def test_grade_runs_without_isolation_only_when_the_operator_opts_out(runner):
    env = {**NO_BWRAP, "STRIDE_SANDBOX": "unsafe-no-isolation"}
    result = runner.invoke(main, ["grade", str(SUBMISSIONS / "correct_basics.py"), "--json"],
                           env=env)
    assert result.exit_code == 0, result.output
    [warning] = json.loads(result.stdout)["warnings"]
    assert "unsafe-no-isolation" in warning


def test_grade_shows_staff_the_hidden_case_and_students_only_the_neutral_name(runner,
                                                                              tmp_path):
    file = tmp_path / "flipped.py"
    file.write_text((SUBMISSIONS / "buggy_conv_forward.py").read_text().replace(
        'BUG = "none"', 'BUG = "flip"'))
    file = str(file)
    staff = runner.invoke(main, ["grade", file, "--json"])
    student = runner.invoke(main, ["grade", file, "--json", "--student-view"])
    assert staff.exit_code == student.exit_code == 1
    assert "hidden: non-square, stride 3, pad 2" in staff.stdout
    assert "hidden: non-square" not in student.stdout and "hidden test 1" in student.stdout
    table = runner.invoke(main, ["grade", file], env={"COLUMNS": "400"})
    assert "hidden test 1 (hidden: non-square, stride 3, pad 2)" in table.output


MARKUP = '[/x] [bold red]boom[/] [link=http://example.com]x[/link]'


def test_brackets_in_messages_and_code_are_shown_literally(runner, tmp_path):
    file = tmp_path / "brackets.py"
    file.write_text("def zero_pad(X, pad):\n"
                    f"    raise ValueError({MARKUP!r})  # [/oops] [red]\n")
    result = runner.invoke(main, ["check", str(file), "--function", "zero_pad"],
                           env={"COLUMNS": "400"})
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert f"ValueError in zero_pad: {MARKUP}" in result.output
    assert "# [/oops] [red]" in result.output


def test_check_at_80_columns_puts_details_under_each_failing_test(runner, tmp_path):
    file = tmp_path / "flipped.py"
    file.write_text((SUBMISSIONS / "buggy_conv_forward.py").read_text().replace(
        'BUG = "none"', 'BUG = "flip"'))
    result = runner.invoke(main, ["check", str(file), "--function", "conv_forward"],
                           env={"COLUMNS": "80"})
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert all(len(line) <= 80 for line in lines)
    hints = [i for i, line in enumerate(lines) if line.startswith("      Hint: ")]
    assert hints, result.output
    # The hint's sentence is wrapped at the full width, not squeezed into a narrow column.
    assert "Hint: Your output matches a convolution with the kernel flipped:" in lines[hints[0]]
    assert lines[hints[0] - 1].startswith("      ") and "wrong values" not in lines[hints[0] - 1]
    assert "  x  stride 2, pad 1  wrong values" in result.output
    assert "where they differ (*)" in result.output
