"""Grading a parsed answer against a variant, with feedback that names the mistake.

``grade(variant, parsed)`` scores an answer in [0, 1] (correct iff the score is 1). A wrong answer
equal to one of the variant's expected mistakes gets that mistake's message and tag; any other
wrong answer gets feedback that says what it can (which dimensions of a shape are right, which
matrix entries, how far off a number is) without ever revealing the correct answer.

Keys of ``variant.grading`` (all optional):

``atol``
    Absolute tolerance. Default 0 for integer answers and for vectors and matrices of integers,
    1e-9 otherwise.
``rtol``
    Relative tolerance. Default 1e-6 for numbers and for vectors and matrices with a non-integer
    entry, 0 otherwise.
``partial_credit``
    Vectors and matrices: score the fraction of right entries instead of all or nothing.
``multiselect_scoring``
    ``"right_minus_wrong"`` (default): (right choices - wrong choices) / correct options, floored
    at 0; ``"all_or_nothing"``: 1 only for exactly the correct set.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from grader.answers import Parsed, format_value, option_key, option_number, parse
from grader.errors import ProblemSpecError

if TYPE_CHECKING:
    from grader.variants import Variant

CORRECT_FEEDBACK = "Correct. Well done!"
MULTISELECT_SCORINGS = ("right_minus_wrong", "all_or_nothing")
SHAPE_NAMES = {
    1: ("length",),
    2: ("height", "width"),
    3: ("height", "width", "depth"),
    4: ("number of examples", "height", "width", "depth"),
}


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


@dataclass(frozen=True)
class _Tolerance:
    atol: float
    rtol: float

    def close(self, given: Any, expected: Any) -> bool:
        if isinstance(given, bool) or isinstance(expected, bool):
            return False
        if not isinstance(given, (int, float)) or not isinstance(expected, (int, float)):
            return False
        if isinstance(given, int) and isinstance(expected, int) and self.atol == 0:
            return given == expected
        return abs(given - expected) <= self.atol + self.rtol * abs(expected)


def grade(variant: Variant, parsed: Parsed) -> Result:
    """Score ``parsed`` against ``variant.answer``.

    Parameters
    ----------
    variant : Variant
        The variant shown to the student; ``answer_type``, ``answer``, ``options``,
        ``mistakes`` and ``grading`` are used.
    parsed : Parsed
        What :func:`grader.answers.parse` read from the student's text.

    Returns
    -------
    Result
        Score in [0, 1], correct iff the score is 1, feedback that never reveals the answer, the
        matched mistake's tag, and the echo of how the answer was read.

    Raises
    ------
    ProblemSpecError
        The variant's grading settings are malformed (an unknown scoring rule, a negative
        tolerance).
    """
    answer_type = variant.answer_type
    grading = dict(variant.grading or {})
    tolerance = _tolerance(answer_type, variant.answer, grading)
    score = _score(answer_type, parsed.value, variant.answer, tolerance, grading)
    if score >= 1.0:
        return Result(1.0, True, CORRECT_FEEDBACK, None, parsed.read_as)
    for mistake in variant.mistakes:
        if _same(answer_type, parsed.value, mistake.value, tolerance):
            return Result(score, False, mistake.message, mistake.tag, parsed.read_as)
    feedback = _generic_feedback(answer_type, parsed.value, variant.answer, tolerance, score)
    return Result(score, False, feedback, None, parsed.read_as)


def grade_raw(variant: Variant, raw: str) -> Result:
    """Parse ``raw`` for ``variant`` and grade it; raises FormatError when it cannot be read."""
    return grade(variant, parse(variant.answer_type, raw, options=variant.options))


def describe_answer(variant: Variant) -> str:
    """The correct answer in the canonical form of ``read_as`` (shown once attempts are used up)."""
    return format_value(variant.answer_type, variant.answer, variant.options)


# ---------------------------------------------------------------------------------------------
# Settings


def _tolerance(answer_type: str, expected: Any, grading: Mapping[str, Any]) -> _Tolerance:
    all_ints = all(isinstance(x, int) for x in _flatten(expected))
    exact = answer_type in ("integer", "shape") or (
        answer_type in ("vector", "matrix") and all_ints
    )
    atol = _setting(grading, "atol", 0.0 if exact else 1e-9)
    rtol = _setting(grading, "rtol", 0.0 if exact else 1e-6)
    return _Tolerance(atol, rtol)


def _setting(grading: Mapping[str, Any], key: str, default: float) -> float:
    value = grading.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ProblemSpecError(f"grading.{key} must be a non-negative number, got {value!r}")
    return float(value)


def _flatten(value: Any) -> list[Any]:
    if isinstance(value, (list, tuple)):
        return [x for item in value for x in _flatten(item)]
    return [value]


# ---------------------------------------------------------------------------------------------
# Comparison and scores


def _same(answer_type: str, given: Any, expected: Any, tolerance: _Tolerance) -> bool:
    """Whether ``given`` equals ``expected`` under the rule of ``answer_type``."""
    if answer_type in ("integer", "number"):
        return tolerance.close(given, expected)
    if answer_type in ("shape", "vector"):
        return _entries_right(given, expected, tolerance) == (len(_seq(expected)), True)
    if answer_type == "matrix":
        right, total, same_size = _matrix_right(given, expected, tolerance)
        return same_size and right == total
    if answer_type == "truefalse":
        return _as_bool(given) is not None and _as_bool(given) == _as_bool(expected)
    if answer_type == "choice":
        return _same_option(given, expected)
    return _option_set(given) == _option_set(expected)


def _score(answer_type: str, given: Any, expected: Any, tolerance: _Tolerance,
           grading: Mapping[str, Any]) -> float:
    partial = bool(grading.get("partial_credit", False))
    if answer_type == "vector" and partial:
        right, same_size = _entries_right(given, expected, tolerance)
        return right / len(_seq(expected)) if same_size and _seq(expected) else 0.0
    if answer_type == "matrix" and partial:
        right, total, same_size = _matrix_right(given, expected, tolerance)
        return right / total if same_size and total else 0.0
    if answer_type == "multiselect":
        return _multiselect_score(given, expected, grading)
    return 1.0 if _same(answer_type, given, expected, tolerance) else 0.0


def _seq(value: Any) -> Sequence[Any]:
    return value if isinstance(value, (list, tuple)) else ()


def _entries_right(given: Any, expected: Any, tolerance: _Tolerance) -> tuple[int, bool]:
    """How many entries of two flat lists agree, and whether the lengths match."""
    given, expected = _seq(given), _seq(expected)
    if len(given) != len(expected):
        return 0, False
    return sum(tolerance.close(g, e) for g, e in zip(given, expected, strict=True)), True


def _matrix_dims(value: Any) -> tuple[int, int] | None:
    rows = _seq(value)
    if not rows or not all(isinstance(row, (list, tuple)) for row in rows):
        return None
    if len({len(row) for row in rows}) != 1:
        return None
    return len(rows), len(rows[0])


def _matrix_right(given: Any, expected: Any, tolerance: _Tolerance) -> tuple[int, int, bool]:
    """(entries right, entries expected, same size) for two matrices."""
    dims = _matrix_dims(expected)
    total = dims[0] * dims[1] if dims else 0
    if dims is None or _matrix_dims(given) != dims:
        return 0, total, False
    right = sum(
        tolerance.close(g, e)
        for g_row, e_row in zip(given, expected, strict=True)
        for g, e in zip(g_row, e_row, strict=True)
    )
    return right, total, True


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return {"true": True, "false": False}.get(value.strip().casefold())
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return None


def _same_option(given: Any, expected: Any) -> bool:
    if isinstance(given, bool) or isinstance(expected, bool):
        return given == expected
    if isinstance(given, (list, tuple)) or isinstance(expected, (list, tuple)):
        return False
    if option_key(str(given)) == option_key(str(expected)):
        return True
    a, b = option_number(str(given)), option_number(str(expected))
    return a is not None and a == b


def _option_set(value: Any) -> frozenset[str]:
    items = value if isinstance(value, (list, tuple)) else (value,)
    return frozenset(option_key(str(item)) for item in items)


def _multiselect_score(given: Any, expected: Any, grading: Mapping[str, Any]) -> float:
    scoring = grading.get("multiselect_scoring", "right_minus_wrong")
    if scoring not in MULTISELECT_SCORINGS:
        raise ProblemSpecError(
            f"grading.multiselect_scoring must be one of {', '.join(MULTISELECT_SCORINGS)}, "
            f"got {scoring!r}"
        )
    chosen, correct = _option_set(given), _option_set(expected)
    if chosen == correct:
        return 1.0
    if scoring == "all_or_nothing" or not correct:
        return 0.0
    right, wrong = len(chosen & correct), len(chosen - correct)
    return max(0.0, (right - wrong) / len(correct))


# ---------------------------------------------------------------------------------------------
# Feedback for wrong answers that match no expected mistake


def _generic_feedback(answer_type: str, given: Any, expected: Any, tolerance: _Tolerance,
                      score: float) -> str:
    if answer_type in ("integer", "number"):
        return _number_feedback(given, expected)
    if answer_type == "shape":
        return _shape_feedback(_seq(given), _seq(expected))
    if answer_type == "vector":
        return _vector_feedback(_seq(given), _seq(expected), tolerance)
    if answer_type == "matrix":
        return _matrix_feedback(given, expected, tolerance)
    if answer_type == "multiselect":
        return _multiselect_feedback(given, expected, score)
    if answer_type == "choice":
        return "That is not the right option. Reread the question and try again."
    return "Not right. Think it through once more."


def _number_feedback(given: Any, expected: Any) -> str:
    if not isinstance(given, (int, float)) or not isinstance(expected, (int, float)):
        return "Not right."
    if expected == 0 or given == 0:
        return f"Not right: your answer is too {'large' if given > expected else 'small'}."
    if (given > 0) != (expected > 0):
        return "Not right: check the sign, and the size, of your answer."
    direction = "large" if abs(given) > abs(expected) else "small"
    big, small = sorted((abs(given), abs(expected)), reverse=True)
    factor = min(big / small, 1e300)  # 0.25 / 5e-324 is inf
    if factor < 1.5:
        return f"Not right: your answer is a little too {direction}."
    return f"Not right: your answer is too {direction} by {_factor_phrase(given, expected, factor)}."


def _factor_phrase(given: float, expected: float, factor: float) -> str:
    """ "a factor of about 3", or a range such as "a factor of between 2 and 5" when the rounded
    factor would give the answer away (given x 3 being the answer)."""
    if factor >= 1e300:
        return "a factor of more than 10^300"
    text, rounded = _about(factor)
    estimate = abs(given) / rounded if abs(given) > abs(expected) else abs(given) * rounded
    precision = max(0.01 * abs(expected), 0.5 if isinstance(expected, int) else 0.0)
    if abs(estimate - abs(expected)) > precision:
        return f"a factor of about {text}"
    for low, high in ((1.5, 2), (2, 5), (5, 10), (10, 100)):
        if factor < high:
            return f"a factor of between {low:g} and {high}"
    return "a factor of more than 100"


def _about(factor: float) -> tuple[str, float]:
    """A factor rounded (to halves below 10, then to one significant figure, then to a power of
    ten) as text and value."""
    if factor < 10:
        rounded = round(factor * 2) / 2
        return f"{rounded:g}", rounded
    if factor < 1000:
        digits = 10 ** int(math.floor(math.log10(factor)))
        value = round(factor / digits) * digits
        return f"{value:,}", float(value)
    power = round(math.log10(factor))
    return f"10^{power}", 10.0**power


def _join(words: Sequence[str]) -> str:
    if len(words) <= 2:
        return " and ".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]


def _shape_feedback(given: Sequence[Any], expected: Sequence[Any]) -> str:
    if len(given) != len(expected):
        return (f"Not right: the answer has {len(expected)} dimension"
                f"{'s' if len(expected) != 1 else ''}, you gave {len(given)}.")
    names = SHAPE_NAMES.get(len(expected)) or tuple(
        f"dimension {i + 1}" for i in range(len(expected)))
    right = [n for n, g, e in zip(names, given, expected, strict=True) if g == e]
    wrong = [(n, g, e) for n, g, e in zip(names, given, expected, strict=True) if g != e]
    details = "; ".join(f"your {n} is too {'large' if g > e else 'small'}" for n, g, e in wrong)
    if not right:
        return f"Not right: none of the dimensions is right ({details})."
    verb = "is" if len(right) == 1 else "are"
    wrong_names = _join([n for n, _, _ in wrong])
    wrong_verb = "is" if len(wrong) == 1 else "are"
    return (f"Not right: the {_join(right)} {verb} right but the {wrong_names} {wrong_verb} "
            f"not ({details}).")


def _vector_feedback(given: Sequence[Any], expected: Sequence[Any],
                     tolerance: _Tolerance) -> str:
    if len(given) != len(expected):
        return f"Not right: expected {len(expected)} entries, you gave {len(given)}."
    wrong = [i + 1 for i, (g, e) in enumerate(zip(given, expected, strict=True))
             if not tolerance.close(g, e)]
    return _entries_feedback(len(expected), [f"entry {i}" for i in wrong])


def _matrix_feedback(given: Any, expected: Any, tolerance: _Tolerance) -> str:
    want, got = _matrix_dims(expected), _matrix_dims(given)
    if want is None:
        return "Not right."
    if got != want:
        got_text = f"{got[0]} x {got[1]}" if got else "something else"
        return f"Not right: expected a {want[0]} x {want[1]} matrix, you gave {got_text}."
    wrong = [
        (r + 1, c + 1)
        for r, (g_row, e_row) in enumerate(zip(given, expected, strict=True))
        for c, (g, e) in enumerate(zip(g_row, e_row, strict=True))
        if not tolerance.close(g, e)
    ]
    return _entries_feedback(want[0] * want[1], [f"row {r}, column {c}" for r, c in wrong])


def _entries_feedback(total: int, wrong: Sequence[str]) -> str:
    """How many entries are right and where to look, e.g. "3 of 4 entries are right; check ..."."""
    right = total - len(wrong)
    if right == 0:
        return f"Not right: none of the {total} entries is right."
    places = _join(list(wrong[:3])) + (" and others" if len(wrong) > 3 else "")
    verb = "is" if right == 1 else "are"
    return f"Not right: {right} of {total} entries {verb} right; check {places}."


def _multiselect_feedback(given: Any, expected: Any, score: float) -> str:
    chosen, correct = _option_set(given), _option_set(expected)
    right, wrong = len(chosen & correct), len(chosen - correct)
    missed = len(correct - chosen)
    parts = []
    if right:
        parts.append(f"{right} of your choices {'is' if right == 1 else 'are'} right")
    if wrong:
        parts.append(f"{wrong} {'is' if wrong == 1 else 'are'} not")
    if missed:
        parts.append(f"you missed {missed} that {'applies' if missed == 1 else 'apply'}")
    summary = _join(parts) if parts else "not quite"
    credit = f" Partial credit: {score:.0%}." if score > 0 else ""
    return f"Not all right: {summary}.{credit}"
