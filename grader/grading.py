"""Grading a parsed answer against a variant, with feedback that names the mistake.

``grade(variant, parsed)`` scores an answer in [0, 1] (correct iff the score is 1). A wrong answer
equal to one of the variant's expected mistakes gets that mistake's message and tag; any other
wrong answer gets feedback that says what it can (which dimensions of a shape are right, which
matrix entries, how far off a number is) without ever revealing the correct answer.

This module is the one home of the grading steps: reading an answer for a variant
(:func:`read_answer`: a text of another type that is a known mistake is kept to be named, an
answer of another size than the question states is refused), the tolerance (the variant's
:class:`~grader.answers.GradingRules`, else the answer type's default), the mistake match (the
variant's expected mistakes, then the general structural detectors of
:mod:`grader.answers.detectors`), the partial credit stated in the verdict, and the dispatch to
the answer type (:mod:`grader.answers`) for comparing, scoring and feedback.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from grader.answers import AnswerType, GradingRules, Parsed, Tolerance, format_value, lookup, parse
from grader.answers.arrays import shape_as_vector
from grader.answers.base import strip_label
from grader.errors import FormatError
from grader.variants import Mistake, Variant

CORRECT_FEEDBACK = "Correct. Well done!"
FALLBACK_TYPES = ("number", "vector", "matrix")  # other readings of an unreadable number
# A mistake of another type than the answer (14.5 for a whole number, 4/3 typed as 1.33) is
# matched as typed: to two decimals, or within 0.1 %.
TYPED_TOLERANCE = Tolerance(atol=0.005, rtol=1e-3)


@dataclass(frozen=True)
class Result:
    """The outcome of grading one answer.

    ``mistake`` is the tag of the matched expected mistake or general detector (for
    statistics), else None; ``kind`` is the detector's kind ("order", "orientation", "size",
    "step") when a general structural detector named it.
    """

    score: float
    correct: bool
    feedback: str
    mistake: str | None
    read_as: str
    kind: str | None = None


def grade(variant: Variant, parsed: Parsed, points: float = 1.0) -> Result:
    """Score ``parsed`` against ``variant.answer``.

    Parameters
    ----------
    variant : Variant
        The variant shown to the student; ``answer_type``, ``answer``, ``options``,
        ``mistakes`` and ``rules`` are used.
    parsed : Parsed
        What :func:`read_answer` (or :func:`grader.answers.parse`) read from the student's text.
    points : float, default 1
        What the item is worth, for the partial-credit sentence ("0.94 of 1 point").

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
    credit = credit_sentence(kind, variant.answer, score, points)
    mistake = matching_mistake(kind, parsed.value, variant.mistakes, tolerance)
    if mistake is not None:
        return Result(score, False, _join(mistake.message, credit), mistake.tag, parsed.read_as)
    detected = kind.detect(parsed.value, variant.answer, tolerance)
    if detected is not None:
        return Result(score, False, _join(detected.message, credit), detected.tag,
                      parsed.read_as, detected.kind)
    feedback = kind.feedback(parsed.value, variant.answer, tolerance, score)
    return Result(score, False, _join(feedback, credit), None, parsed.read_as)


def _join(message: str, credit: str) -> str:
    return f"{message} {credit}" if credit else message


def credit_sentence(kind: AnswerType, expected: Any, score: float, points: float = 1.0) -> str:
    """The partial credit earned, e.g. "15 of 16 entries right: 0.94 of 1 point." ("" for no
    credit)."""
    if not 0 < score < 1:
        return ""
    unit = "point" if points == 1 else "points"
    earned = f"{score * points:.2f} of {points:g} {unit}"
    size = kind.size(expected)
    if size and kind.name in ("vector", "matrix"):
        total = 1
        for n in size:
            total *= n
        return f"{round(score * total)} of {total} entries right: {earned}."
    return f"Partial credit: {earned}."


def matching_mistake(kind: AnswerType, given: Any, mistakes: Sequence[Mistake],
                     tolerance: Tolerance) -> Mistake | None:
    """The first expected mistake ``given`` equals; a mistake's value that is not of the asked
    type (a non-integer, a matrix where a number is asked) is compared under its own type."""
    for mistake in mistakes:
        if kind.valid(mistake.value):
            if kind.same(given, mistake.value, tolerance):
                return mistake
            continue
        value_kind = _kind_of(mistake.value)
        if value_kind is not None and value_kind.same(given, mistake.value, TYPED_TOLERANCE):
            return mistake
    return None


def _kind_of(value: Any) -> AnswerType | None:
    for name in FALLBACK_TYPES:
        other = lookup(name)
        if other.valid(value):
            return other
    return None


def readable(answer_type: str, value: Any) -> bool:
    """Whether a value can be typed as an answer to a question of ``answer_type``: a value of
    the type, or (integers, numbers and shapes) a number or an array, read as a named mistake
    (a shape of 29.5 x 29.5 x 10 is the vector it spells)."""
    kind = lookup(answer_type)
    if kind.valid(value):
        return True
    return answer_type in ("integer", "number", "shape") and _kind_of(value) is not None


def read_answer(variant: Variant, raw: str) -> Parsed:
    """Read ``raw`` for ``variant``, before grading.

    Text that is not an answer of the asked type is first compared with the variant's expected
    mistakes under another reading (a non-integer or a matrix where a number is asked): if it is
    one, it is returned to be graded (and named). An answer of another size than the question
    states (see :attr:`GradingRules.size_given`) is a format error unless it is a known mistake.

    Raises
    ------
    FormatError
        The text cannot be read as an answer, or has a size other than the stated one.
    """
    kind = lookup(variant.answer_type)
    try:
        parsed = parse(variant.answer_type, raw, options=variant.options)
    except FormatError:
        other = _read_as_mistake(variant, kind, raw)
        if other is None:
            raise
        return other
    _check_size(variant, kind, parsed)
    _check_rows(variant, kind, parsed)
    return parsed


def _read_as_mistake(variant: Variant, kind: AnswerType, raw: str) -> Parsed | None:
    if kind.name == "shape":
        readings = [("vector", shape_as_vector(strip_label(raw)))]
    elif kind.name in ("integer", "number"):
        readings = [(name, raw) for name in FALLBACK_TYPES if name != kind.name]
    else:
        return None
    tolerance = tolerance_for(kind, variant.answer, variant.rules)
    for name, text in readings:
        try:
            parsed = parse(name, text)
        except FormatError:
            continue
        if matching_mistake(kind, parsed.value, variant.mistakes, tolerance) is not None:
            return parsed
    return None


def size_given(variant: Variant, kind: AnswerType) -> bool:
    """Whether the question states the size of the answer (see ``GradingRules.size_given``)."""
    if variant.rules.size_given is not None:
        return variant.rules.size_given
    if kind.name == "shape":
        return True
    want = kind.size(variant.answer)
    return not any(kind.valid(m.value) and kind.size(m.value) != want
                   for m in variant.mistakes)


def _check_size(variant: Variant, kind: AnswerType, parsed: Parsed) -> None:
    want, got = kind.size(variant.answer), kind.size(parsed.value)
    if want is None or got is None or got == want or not size_given(variant, kind):
        return
    tolerance = tolerance_for(kind, variant.answer, variant.rules)
    if matching_mistake(kind, parsed.value, variant.mistakes, tolerance) is not None:
        return
    if kind.detect(parsed.value, variant.answer, tolerance) is not None:
        return
    raise FormatError(
        f"This question asks for {kind.describe_size(want)}; you gave "
        f"{kind.describe_size(got)}. Check the size the question gives; "
        "nothing was graded and no attempt was used."
    )


def _check_rows(variant: Variant, kind: AnswerType, parsed: Parsed) -> None:
    """A matrix typed as one row holding all its entries ("4 3 3 2" for a 2 x 2 answer) is a
    format error, unless it is a known mistake: the rows were most likely not separated."""
    want, got = kind.size(variant.answer), kind.size(parsed.value)
    if kind.name != "matrix" or want is None or got is None or want[0] < 2 or got[0] != 1:
        return
    if got[1] != want[0] * want[1]:
        return
    tolerance = tolerance_for(kind, variant.answer, variant.rules)
    if matching_mistake(kind, parsed.value, variant.mistakes, tolerance) is not None:
        return
    raise FormatError(
        f"Your answer is one row of {got[1]} numbers, but the answer is a matrix with several "
        "rows: put each row on its own line or separate the rows with semicolons, e.g. "
        "4 4; 4 3. Nothing was graded and no attempt was used."
    )


def grade_raw(variant: Variant, raw: str, points: float = 1.0) -> Result:
    """Read ``raw`` for ``variant`` (:func:`read_answer`) and grade it; raises FormatError when
    it cannot be read."""
    return grade(variant, read_answer(variant, raw), points)


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
