"""Worked solutions: the one home of filling a problem's ``solution`` template for a variant.

A solution is text like a prompt (Markdown with LaTeX in ``$...$``), written over the same names:
the variant's parameters, the standard names and roles (``s``, ``p``, ...) and ``answer``. It is
filled from the variant's stored parameters, so a student sees the steps with their own numbers.
"""

from __future__ import annotations

from grader.bank.problem import Problem
from grader.prompts import render
from grader.variants import Variant, role_values


def render_solution(problem: Problem, variant: Variant) -> str | None:
    """The worked solution of ``variant`` (plain text with LaTeX), or None when the problem has
    none. Raises ProblemSpecError when the template cannot be filled."""
    if problem.solution_template is None:
        return None
    params = dict(variant.params)
    context = {**params, **role_values(problem, params), "answer": variant.answer}
    return render(problem.solution_template, context,
                  f"{problem.source}: problem {problem.id!r}: field 'solution'")
