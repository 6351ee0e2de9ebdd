"""Lint catches degenerate variants (a mistake equal to the answer in more than a small share of
seeds, constant arrays), lets constraints exclude them, and runs the authors' `tests:`."""

from __future__ import annotations

import pytest

from grader.bank import BankError, load_bank
from grader.lint import lint_problem

KERNEL = """\
id: corner
title: Entry of a 2D cross-correlation
topic: conv2d
answer_type: integer
params:
  x: {{array: {{shape: [3, 3], low: 0, high: 3}}}}
  w: {{array: {{shape: [2, 2], low: -1, high: 1}}}}
where:
  - amax(abs(w)) > 0
{where}
prompt: "Cross-correlate {{{{ x }}}} with {{{{ w }}}}; give the top-left entry."
answer: entry(correlate2d(x, w), 0, 0)
mistakes:
  - tag: kernel-flipped
    expr: entry(convolve2d(x, w, 'valid'), 0, 0)
    message: "It looks like you flipped the kernel."
"""
FLIP_SHOWS = "  - entry(convolve2d(x, w, 'valid'), 0, 0) != entry(correlate2d(x, w), 0, 0)"


def _problem(tmp_path, text, pid):
    (tmp_path / f"{pid}.yaml").write_text(text)
    return load_bank(tmp_path).problems[pid]


def _findings(tmp_path, text, pid, count=200):
    """The findings, without the feedback-coverage ones about the whole template ("all seeds:
    only 1 expected mistake"): these small templates are not about that."""
    found = lint_problem(_problem(tmp_path, text, pid), count).findings
    return tuple(f for f in found if not f.startswith("all seeds:"))


def test_a_mistake_that_often_equals_the_answer_is_reported_until_a_constraint_excludes_it(
        tmp_path):
    found = _findings(tmp_path, KERNEL.format(where=""), "corner")
    flipped = [f for f in found if "mistake 'kernel-flipped' equals the answer in" in f]
    assert len(flipped) == 1 and "'where' constraint" in flipped[0]
    share = int(flipped[0].split("equals the answer in ")[1].split(" of ")[0])
    assert share > 4  # more than a small share of the 200 seeds
    assert _findings(tmp_path, KERNEL.format(where=FLIP_SHOWS), "corner") == ()


def test_a_constant_array_is_reported(tmp_path):
    text = KERNEL.format(where="").replace("low: -1, high: 1", "low: 0, high: 1")
    found = _findings(tmp_path, text, "corner", 300)
    assert any("array parameter 'w' is constant in" in f for f in found), found
    fixed = KERNEL.format(where="  - amax(w) > -amax(-w)").replace("low: -1, high: 1",
                                                                    "low: 0, high: 1")
    assert not any("is constant" in f for f in _findings(tmp_path, fixed, "corner", 300))


def test_a_mistake_that_cannot_apply_for_one_drawn_value_is_by_design(tmp_path):
    """A padding mistake equals the answer whenever there is no padding: not a degenerate draw."""
    text = """\
id: padded
title: A padded 1D correlation
topic: conv1d
answer_type: vector
params:
  x: {array: {shape: [4], low: 1, high: 5}}
  pad: {int: [0, 1]}
prompt: "Correlate {{ x }} with [1, 2] after padding {{ pad }} zero on each side."
answer: correlate1d(x, array([1, 2]), 'valid', pad)
mistakes:
  - tag: padding-ignored
    expr: correlate1d(x, array([1, 2]), 'valid')
    message: "Pad first."
"""
    assert not any("padding-ignored" in f for f in _findings(tmp_path, text, "padded"))


AUTHOR_TESTS = """\
id: rows
title: Rows of a valid convolution
topic: conv-output-volume
answer_type: integer
params:
  n: {{int: [4, 9]}}
  f: {{int: [2, 3]}}
tests:
{tests}
prompt: "An image of {{{{ n }}}} rows meets a filter of {{{{ f }}}} rows. How many rows come out?"
answer: n - f + 1
mistakes:
  - tag: plus-one-forgotten
    expr: n - f
    message: "Count the positions: n - f + 1."
"""


def test_the_authors_tests_are_checked_by_lint(tmp_path):
    good = ("  - {params: {n: 6, f: 3}, answer: 4, score: 1}\n"
            "  - {params: {n: 6, f: 3}, answer: 3, score: 0, mistake: plus-one-forgotten}")
    assert _findings(tmp_path, AUTHOR_TESTS.format(tests=good), "rows", 20) == ()
    bad = ("  - {params: {n: 6, f: 3}, answer: 3, score: 1}\n"
           "  - {params: {n: 6, f: 3}, answer: 5, score: 0, mistake: plus-one-forgotten}\n"
           "  - {params: {n: 6, f: 3}, answer: sixish, score: 0}")
    found = _findings(tmp_path, AUTHOR_TESTS.format(tests=bad), "rows", 20)
    assert "test 1 ('3'): scores 0, the test expects 1" in found
    assert "test 2 ('5'): is graded with mistake None, the test expects 'plus-one-forgotten'" in (
        found)
    assert any(f.startswith("test 3 ('sixish'): the answer cannot be read") for f in found)


def test_a_test_naming_an_unknown_parameter_is_a_load_error(tmp_path):
    text = AUTHOR_TESTS.format(tests="  - {params: {k: 6}, answer: 4, score: 1}")
    (tmp_path / "rows.yaml").write_text(text)
    with pytest.raises(BankError, match=r"field 'tests.0.params': no parameter 'k'"):
        load_bank(tmp_path)


def test_the_shipped_tricky_templates_carry_tests_that_pass(web_bank):
    tested = [p for p in web_bank.problems.values() if p.tests]
    assert len(tested) >= 8
    for problem in tested:
        assert lint_problem(problem, 60).findings == (), problem.id


def test_computed_options_whose_distractors_collide_are_reported(tmp_path):
    text = """\
id: pick
title: Pick the output size
topic: conv-output-volume
answer_type: choice
params:
  n: {int: [5, 9]}
prompt: "An image of {{ n }} rows meets a 2-row filter. How many rows come out?"
answer: n - 1
families: false
options:
  computed:
    count: 4
    distractors: [n, n, "n - 2"]
"""
    found = _findings(tmp_path, text, "pick", 20)
    assert any("fewer than 4 distinct options in 20 of 20 variants" in f for f in found), found
    fixed = text.replace("[n, n, \"n - 2\"]", "[n, \"n + 1\", \"n - 2\"]")
    assert not any("distinct options" in f for f in _findings(tmp_path, fixed, "pick", 20))
