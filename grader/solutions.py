"""Worked solutions: the one home of filling a problem's ``solution`` template for a variant.

A solution is text like a prompt (Markdown with LaTeX in ``$...$``), written over the same names:
the variant's parameters, the standard names and roles (``s``, ``p``, ...) and ``answer``. It is
filled from the variant's stored parameters, so a student sees the steps with their own numbers.
A true/false problem's solution may also use ``statement`` and ``explanation`` (the drawn
statement and its message).
"""

from __future__ import annotations

from grader.bank.problem import Problem, Statement
from grader.prompts import render
from grader.variants import Variant, role_values


def render_solution(problem: Problem, variant: Variant) -> str | None:
    """The worked solution of ``variant`` (plain text with LaTeX), or None when the problem has
    none. Raises ProblemSpecError when the template cannot be filled."""
    if problem.solution_template is None:
        return None
    params = dict(variant.params)
    context = {**params, **role_values(problem, params), "answer": variant.answer}
    shown = _statement_shown(problem, variant)
    if shown is not None:
        context.update(statement=shown.text, explanation=shown.message)
    return render(problem.solution_template, context,
                  f"{problem.source}: problem {problem.id!r}: field 'solution'")


def _statement_shown(problem: Problem, variant: Variant) -> Statement | None:
    """The statement a true/false variant drew (the one whose text its prompt shows)."""
    for statement in sorted(problem.statements, key=lambda s: -len(s.text)):
        if statement.text in variant.prompt:
            return statement
    return None
