"""The problem-bank commands of `grader`: list, schema, preview, answer, lint, practice."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from grader.cli import main

WORKED = ["--set", "n=63", "--set", "c=16", "--set", "k=32", "--set", "f=7", "--set", "s=2",
          "--set", "p=0"]


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None):
        return runner.invoke(main, list(args), input=input, catch_exceptions=False)

    return invoke


def test_list_shows_every_problem(run):
    result = run("list", "--json")
    assert result.exit_code == 0
    rows = json.loads(result.output)
    assert len(rows) >= 40
    assert set(rows[0]) == {"id", "title", "topic", "answer_type"}
    table = run("list", "--topic", "padding")
    assert "padding-volume" in table.output and "conv1d-full" not in table.output


def test_list_by_topic_json(run):
    rows = json.loads(run("list", "--topic", "conv1d", "--json").output)
    assert rows and all(r["topic"] == "conv1d" for r in rows)


def test_schema_is_json(run):
    schema = json.loads(run("schema").output)
    assert "Problem" in schema["$defs"]


def test_preview_json_has_exactly_the_documented_keys(run):
    result = run("preview", "conv-output-volume", *WORKED, "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert set(data) == {"id", "seed", "params", "prompt", "answer", "answer_type"}
    assert data["answer"] == [29, 29, 32]
    assert data["params"]["n"] == 63 and data["seed"] == 0
    assert "$63 \\times 63 \\times 16$" in data["prompt"]


def test_preview_text_is_readable_in_a_terminal(run):
    result = run("preview", "conv-output-volume", *WORKED)
    assert "63 × 63 × 16" in result.output
    assert "29 x 29 x 32" in result.output
    assert "$" not in result.output.split("answer")[0]


def test_preview_draws_matrices_and_options(run):
    out = run("preview", "edge-which-edges", "--seed", "2").output
    assert "(a)" in out and "(d)" in out
    assert "[ " in out and "bmatrix" not in out


def test_preview_seed_changes_the_variant(run):
    a = json.loads(run("preview", "conv-params-layer", "--seed", "1", "--json").output)
    b = json.loads(run("preview", "conv-params-layer", "--seed", "1", "--json").output)
    others = [json.loads(run("preview", "conv-params-layer", "--seed", str(seed),
                             "--json").output)["params"] for seed in range(2, 6)]
    assert a == b and any(a["params"] != params for params in others)


def test_answer_names_the_mistake(run):
    result = run("answer", "conv-output-volume", "29x29x16", *WORKED, "--json")
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data == {"correct": False, "score": data["score"], "feedback": data["feedback"],
                    "mistake": "channels-instead-of-filters", "read_as": "29 x 29 x 16"}
    assert data["score"] < 1 and "number of filters" in data["feedback"]
    assert "32" not in data["feedback"]


def test_answer_correct(run):
    data = json.loads(run("answer", "conv-output-volume", "(29, 29, 32)", *WORKED,
                          "--json").output)
    assert data["correct"] is True and data["score"] == 1 and data["mistake"] is None


def test_answer_format_error_is_not_graded(run):
    result = run("answer", "conv-output-volume", "twenty-nine", *WORKED, "--json")
    assert result.exit_code == 0
    assert set(json.loads(result.output)) == {"format_error"}


def test_answer_text_output(run):
    result = run("answer", "conv-params-layer", "270", "--set", "f=3", "--set", "c=3",
                 "--set", "k=10")
    assert result.exit_code == 0
    assert "bias" in result.output and "bias-forgotten" in result.output


@pytest.mark.parametrize(("args", "message"), [
    (["preview", "no-such-problem"], "no problem with id 'no-such-problem'"),
    (["answer", "nope", "3"], "no problem with id 'nope'"),
    (["preview", "conv-output-volume", "--set", "n"], "expected name=value, got 'n'"),
    (["preview", "conv-output-volume", "--set", "zz=3"], "has no parameter 'zz'"),
    (["preview", "conv-output-volume", "--set", "n=big"], "'n' must be an integer"),
    (["preview", "conv-output-volume", "--seed", "-1"], "-1"),
])
def test_bad_arguments_exit_2(run, args, message):
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.output


def test_lint_passes_on_the_shipped_bank(run):
    result = run("lint", "--variants", "20", "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert "All" in result.output and "pass" in result.output


def write_problem(folder: Path, answer: str) -> None:
    (folder / "p.yaml").write_text(textwrap.dedent(f"""\
        id: halves
        title: Halves
        topic: padding
        answer_type: integer
        params:
          n: {{int: [1, 9]}}
        prompt: "Half of {{{{ n }}}}?"
        answer: {answer}
        mistakes:
          - {{tag: n-itself, expr: "n + 100", message: "Halve it."}}
          - {{tag: n-doubled, expr: "2 * n + 100", message: "Halve it, don't double it."}}
    """))


def test_lint_reports_findings_and_exits_1(run, tmp_path):
    write_problem(tmp_path, "n / 2")
    result = run("lint", str(tmp_path), "--variants", "10", "--jobs", "1")
    assert result.exit_code == 1
    assert "is not a valid integer" in result.output
    assert "halves" in result.output


def test_lint_reports_a_broken_bank(run, tmp_path):
    write_problem(tmp_path, "n //")
    result = run("lint", str(tmp_path))
    assert result.exit_code == 1
    assert "p.yaml: problem 'halves': field 'answer'" in result.output


def test_lint_in_parallel_gives_the_same_verdict(run, tmp_path):
    write_problem(tmp_path, "n // 2")
    (tmp_path / "q.yaml").write_text((tmp_path / "p.yaml").read_text().replace("halves", "thirds")
                                     .replace("n // 2", "n / 3"))
    result = run("lint", str(tmp_path), "--variants", "10", "--jobs", "2")
    assert result.exit_code == 1
    assert "thirds" in result.output and "halves" in result.output


def test_practice_asks_grades_and_stops_on_q(run):
    result = run("practice", "--topic", "fc-vs-conv-params", "--seed", "1",
                 input="not a number\n0\nq\n")
    assert result.exit_code == 0
    assert "couldn't read" in result.output
    assert "You solved 0 of 1" in result.output


def test_practice_reveals_the_answer_after_the_attempts_and_ends_on_eof(run):
    result = run("practice", "--topic", "conv-params", "--seed", "3", "--attempts", "1",
                 input="1\n")
    assert result.exit_code == 0
    assert "The answer was" in result.output
    assert "of 1 question" in result.output


def test_lint_one_file(run, tmp_path):
    write_problem(tmp_path, "n // 2")
    result = run("lint", str(tmp_path / "p.yaml"), "--variants", "10")
    assert result.exit_code == 0, result.output
    assert "All 1 problems pass" in result.output
    write_problem(tmp_path, "n //")
    assert run("lint", str(tmp_path / "p.yaml")).exit_code == 1


def test_preview_draws_figures_as_grids(run):
    out = run("preview", "edge-vertical-step", "--set", "bright=10", "--set", "dark=0",
              "--set", "left_bright=true").output
    assert "figure image X (6 x 6)" in out and "figure filter K (3 x 3)" in out
    assert "[[0, 30, 30, 0]" not in out.split("answer")[0]
