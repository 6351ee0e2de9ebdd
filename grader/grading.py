"""Grading a parsed answer against a variant, with feedback that names the mistake.

``grade(variant, parsed)`` scores an answer in [0, 1] (correct iff the score is 1). A wrong answer
equal to one of the variant's expected mistakes gets that mistake's message and tag; any other
wrong answer gets feedback that says what it can (which dimensions of a shape are right, which
matrix entries, how far off a number is) without ever revealing the correct answer.

This module is the one home of the grading steps: the tolerance (the variant's
:class:`~grader.answers.GradingRules`, else the answer type's default), the mistake match, and
the dispatch to the answer type (:mod:`grader.answers`) for comparing, scoring and feedback.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from grader.answers import AnswerType, GradingRules, Parsed, Tolerance, format_value, lookup, parse
from grader.variants import Variant

CORRECT_FEEDBACK = "Correct. Well done!"


@dataclass(frozen=True)
class Result:
    """The outcome of grading one answer.

    ``mistake`` is the tag of the matched expected mistake (for statistics), else None.
    """

    score: float
    correct: bool
    feedback: str
    mistake: str | None
    read_as: str


def grade(variant: Variant, parsed: Parsed) -> Result:
    """Score ``parsed`` against ``variant.answer``.

    Parameters
    ----------
    variant : Variant
        The variant shown to the student; ``answer_type``, ``answer``, ``options``,
        ``mistakes`` and ``rules`` are used.
    parsed : Parsed
        What :func:`grader.answers.parse` read from the student's text.

    Returns
    -------
    Result
        Score in [0, 1], correct iff the score is 1, feedback that never reveals the answer, the
        matched mistake's tag, and the echo of how the answer was read.
    """
    kind = lookup(variant.answer_type)
    tolerance = tolerance_for(kind, variant.answer, variant.rules)
    score = kind.score(parsed.value, variant.answer, tolerance, variant.rules)
    if score >= 1.0:
        return Result(1.0, True, CORRECT_FEEDBACK, None, parsed.read_as)
    for mistake in variant.mistakes:
        if kind.same(parsed.value, mistake.value, tolerance):
            return Result(score, False, mistake.message, mistake.tag, parsed.read_as)
    feedback = kind.feedback(parsed.value, variant.answer, tolerance, score)
    return Result(score, False, feedback, None, parsed.read_as)


def grade_raw(variant: Variant, raw: str) -> Result:
    """Parse ``raw`` for ``variant`` and grade it; raises FormatError when it cannot be read."""
    return grade(variant, parse(variant.answer_type, raw, options=variant.options))


def describe_answer(variant: Variant) -> str:
    """The correct answer in the canonical form of ``read_as`` (shown once attempts are used up)."""
    return format_value(variant.answer_type, variant.answer, variant.options)


def tolerance_for(kind: AnswerType, expected: Any, rules: GradingRules) -> Tolerance:
    """The problem's tolerances where given, else none for exact types and a small one for the
    rest (1e-9 absolute, 1e-6 relative)."""
    exact = kind.exact(expected)
    atol = rules.atol if rules.atol is not None else (0.0 if exact else 1e-9)
    rtol = rules.rtol if rules.rtol is not None else (0.0 if exact else 1e-6)
    return Tolerance(atol, rtol)
