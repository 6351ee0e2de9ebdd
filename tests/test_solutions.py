"""Worked solutions: every shipped problem has one, and it fills in for every variant."""

from __future__ import annotations

import pytest

from grader.bank import load_bank
from grader.prompts import format_number
from grader.solutions import render_solution
from grader.variants import generate

BANK = load_bank()
SEEDS = range(12)


@pytest.mark.parametrize("pid", sorted(BANK.problems))
def test_every_shipped_problem_has_a_solution_that_fills_in(pid):
    problem = BANK.problems[pid]
    assert problem.solution_template is not None, f"{pid} has no worked solution"
    for seed in SEEDS:
        variant = generate(problem, seed)
        text = render_solution(problem, variant)
        assert text and "{{" not in text and "{%" not in text
        if variant.answer_type in ("integer", "number"):
            # the steps end at the student's own answer
            assert format_number(variant.answer) in text.replace(",", ""), text


def test_a_true_false_solution_explains_the_drawn_statement():
    problem = BANK.problems["pooling-facts-tf"]
    for seed in SEEDS:
        variant = generate(problem, seed)
        statement = next(s for s in problem.statements if s.text in variant.prompt)
        text = render_solution(problem, variant)
        assert text.startswith(f"**{'True' if variant.answer else 'False'}.**")
        assert statement.message in text


def test_a_solution_uses_the_variants_numbers():
    problem = BANK.problems["conv-params-layer"]
    variant = generate(problem, 3)
    f, c, k = (variant.params[name] for name in ("f", "c", "k"))
    text = render_solution(problem, variant)
    assert f"({f * f * c} + 1) \\cdot {k} = {variant.answer}" in text
