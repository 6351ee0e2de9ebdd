"""What every answer type shares: the :class:`AnswerType` protocol, the parsed value, the grading
settings and tolerance it is compared under, and the text helpers of the parsers.

Each concrete type (:mod:`~grader.answers.numbers`, :mod:`~grader.answers.arrays`,
:mod:`~grader.answers.options`) subclasses :class:`AnswerType` and keeps parse, format, compare,
score, feedback, hint and expected form together; :mod:`grader.answers` registers them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from grader.answers.detectors import Detector
from grader.errors import FormatError, ProblemSpecError

MAX_INPUT_CHARS = 10_000
MULTISELECT_SCORINGS = ("right_minus_wrong", "all_or_nothing")


@dataclass(frozen=True)
class Parsed:
    """A student's answer as read: the value and a short canonical echo of it.

    ``value`` is an ``int`` (integer), ``float`` (number), ``tuple[int, ...]`` (shape),
    ``tuple[int | float, ...]`` (vector), a tuple of such rows (matrix), an option text (choice),
    a tuple of option texts in option order (multiselect) or a ``bool`` (truefalse).
    """

    value: Any
    read_as: str


@dataclass(frozen=True)
class GradingRules:
    """A problem's ``grading:`` settings, checked once when the bank loads (None: not given).

    ``atol``
        Absolute tolerance. Default 0 for integer answers and for vectors and matrices of
        integers, 1e-9 otherwise.
    ``rtol``
        Relative tolerance. Default 1e-6 for numbers and for vectors and matrices with a
        non-integer entry, 0 otherwise.
    ``partial_credit``
        Vectors and matrices: score the fraction of right entries instead of all or nothing.
    ``multiselect_scoring``
        ``"right_minus_wrong"`` (default): (right choices - wrong choices) / correct options,
        floored at 0; ``"all_or_nothing"``: 1 only for exactly the correct set.
    ``size_given``
        Shapes, vectors and matrices: whether the question states the answer's size, so that an
        answer of another size is a format error (no attempt used) rather than a wrong answer.
        Default: a shape's number of dimensions is always given; a vector's or matrix's size is
        given unless a known mistake of the variant has another size (then the size is part of
        what is asked). See docs/authoring.md.
    """

    atol: float | None = None
    rtol: float | None = None
    partial_credit: bool | None = None
    multiselect_scoring: str | None = None
    size_given: bool | None = None

    def to_json(self) -> dict[str, Any]:
        """The settings that were given, under their YAML keys (as stored with a variant)."""
        return {key: value for key, value in vars(self).items() if value is not None}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> GradingRules:
        """Decode stored settings (old rows included); unknown keys are ignored.

        Raises
        ------
        ProblemSpecError
            A tolerance is not a non-negative number, or the scoring rule is unknown.
        """
        data = data or {}
        scoring = data.get("multiselect_scoring")
        if scoring is not None and scoring not in MULTISELECT_SCORINGS:
            raise ProblemSpecError(
                f"grading.multiselect_scoring must be one of {', '.join(MULTISELECT_SCORINGS)}, "
                f"got {scoring!r}")
        partial, size_given = data.get("partial_credit"), data.get("size_given")
        return cls(atol=_tolerance_setting(data, "atol"), rtol=_tolerance_setting(data, "rtol"),
                   partial_credit=None if partial is None else bool(partial),
                   multiselect_scoring=scoring,
                   size_given=None if size_given is None else bool(size_given))


def _tolerance_setting(data: Mapping[str, Any], key: str) -> float | None:
    value = data.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        raise ProblemSpecError(f"grading.{key} must be a non-negative number, got {value!r}")
    return float(value)


@dataclass(frozen=True)
class Tolerance:
    """How close a number must be to count as equal (``atol + rtol * |expected|``)."""

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


class AnswerType:
    """One kind of answer, all its behaviour in one place.

    ``expected`` is the sentence a format error ends with, ``hint`` the line under the answer
    box; ``labelled`` types read "p = 3" as 3; a ``multiple`` answer is a set of options. Values handled here are the JSON forms of
    :class:`~grader.variants.Variant` answers and the values of :class:`Parsed`.
    """

    name = ""
    expected = ""
    hint = ""
    labelled = False
    multiple = False
    takes_options = False  # a problem of this type lists options
    takes_statements = False  # a problem of this type draws one of several statements

    def fail(self, problem: str) -> FormatError:
        """A format error: what went wrong, then the expected form."""
        return FormatError(f"{problem} {self.expected}")

    def parse(self, text: str, options: Sequence[str] | None) -> Parsed:
        """Read cleaned text (stripped, not empty) or raise :class:`FormatError`."""
        raise NotImplementedError

    def format(self, value: Any, options: Sequence[str] | None) -> str:
        """The canonical text of a value (the same form as ``read_as``)."""
        raise NotImplementedError

    def normalize(self, value: Any) -> Any:
        """An expression's JSON value in this type's JSON form (left as is when it does not fit)."""
        return value

    def valid(self, value: Any) -> bool:
        """Whether a JSON value is an answer of this type (for the linter)."""
        raise NotImplementedError

    def exact(self, expected: Any) -> bool:
        """Whether answers compare exactly by default (no tolerance)."""
        return False

    def same(self, given: Any, expected: Any, tolerance: Tolerance) -> bool:
        """Whether ``given`` equals ``expected`` under this type's rule."""
        raise NotImplementedError

    def score(self, given: Any, expected: Any, tolerance: Tolerance,
              rules: GradingRules) -> float:
        """The score in [0, 1]; all or nothing unless a type gives partial credit."""
        return 1.0 if self.same(given, expected, tolerance) else 0.0

    def feedback(self, given: Any, expected: Any, tolerance: Tolerance, score: float) -> str:
        """Feedback for a wrong answer that matches no expected mistake (never the answer)."""
        return "Not right. Think it through once more."

    def detect(self, given: Any, expected: Any, tolerance: Tolerance) -> Detector | None:
        """The general structural mistake ``given`` shows (see :mod:`grader.answers.detectors`),
        or None."""
        return None

    def size(self, value: Any) -> tuple[int, ...] | None:
        """The size of an array answer (dimensions of a shape, entries of a vector, rows and
        columns of a matrix); None for types without a size."""
        return None

    def describe_size(self, size: tuple[int, ...]) -> str:
        """The size in words, for a validation message."""
        return ""


# ---------------------------------------------------------------------------------------------
# Text helpers shared by the parsers and the feedback


def clean(raw: str, kind: AnswerType) -> str:
    """Strip whitespace and one trailing period; refuse empty or overlong input."""
    if len(raw) > MAX_INPUT_CHARS:
        raise kind.fail(
            f"Your answer is too long ({len(raw):,} characters; at most {MAX_INPUT_CHARS:,})."
        )
    text = raw.replace("\r\n", "\n").replace("\r", "\n").strip()
    if text.endswith(".") and not text.endswith(".."):
        text = text[:-1].rstrip()
    if not text:
        raise kind.fail("Your answer is empty.")
    return text


def strip_label(text: str) -> str:
    """Drop a name before the value: "p = 3", "n_H = 29", "A = [[4, 4], [4, 3]]" (no value
    contains "=")."""
    label, equals, value = text.rpartition("=")
    if equals and value.strip() and len(label) <= 40:
        return value.strip()
    return text


# What a count or size is of, typed after it: "2,800 params", "35 rows", "5 layers", and the
# unit of an area: "24 square units", "24 units^2".
_UNIT = re.compile(
    r"\s+(?:trainable\s+|square\s+|sq\.?\s+)?(?:param(?:eter)?s?|weights?|biases|rows?|"
    r"columns?|cols|layers?|units?|channels?|pixels?|values?|entries|entry|connections?|zeros?|"
    r"filters?|elements?)(?:\^2|\u00b2)?$",
    re.IGNORECASE,
)
# An approximate value said to be one: "≈ 5.67", "~5.67", "about 5.67".
_APPROX = re.compile(r"^(?:\u2248|~|about\s|approx\.?\s*|approximately\s)\s*", re.IGNORECASE)


def strip_words(text: str) -> str:
    """Drop the words around a number that are not part of it: a unit after it ("= 2800
    params", "35 rows", "7 layers") and "about" or "≈" before it ("≈ 5.67")."""
    stripped = _APPROX.sub("", _UNIT.sub("", text))
    return stripped if stripped.strip() else text


def shown(text: str) -> str:
    """The student's text, shortened, for quoting in a message."""
    one_line = " ".join(text.split())
    return repr(one_line if len(one_line) <= 40 else one_line[:37] + "...")


def as_sequence(value: Any) -> Sequence[Any]:
    """A list or tuple as is; anything else as a sequence of one."""
    if isinstance(value, (list, tuple)):
        return value
    return (value,)


def seq(value: Any) -> Sequence[Any]:
    """A list or tuple as is; anything else as empty."""
    return value if isinstance(value, (list, tuple)) else ()


def join(words: Sequence[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    if len(words) <= 2:
        return " and ".join(words)
    return ", ".join(words[:-1]) + " and " + words[-1]
