"""Answers students type: the registry of answer types, and the one entry point for reading one.

Each answer type (integer, number, shape, vector, matrix, choice, multiselect, truefalse) is one
:class:`~grader.answers.base.AnswerType` object that keeps parse, format, compare, score,
feedback, hint and expected form together: integers and numbers in
:mod:`~grader.answers.numbers`, shapes, vectors and matrices in :mod:`~grader.answers.arrays`,
options and true/false in :mod:`~grader.answers.options`. Adding a type means writing one class
and listing it in :data:`REGISTRY`.

``parse(answer_type, raw)`` turns the text of an answer box into a value and a short echo of how
it was read (``read_as``), or raises :class:`~grader.errors.FormatError` whose message says what
was expected, with an example. A format error is never graded and never costs an attempt.

What is a format error and what is simply wrong
-----------------------------------------------
A format error is input that is not an answer of the asked *type*: text that is not a number,
``12.5`` where a whole number is asked, ``1,2`` where one number is asked (commas only group
thousands), rows of different lengths in a matrix, a shape with a dimension of 0, an option that
is not on the list, a number too large to write down (``10^999999``). Anything that *is* an answer
of the right type is graded, however far off: ``-3`` for an integer, a 3 x 3 matrix where a 2 x 2
one is expected, a vector of the wrong length.

Two refinements live in the grading core (:func:`grader.grading.read_answer`), since they need
the variant: text that is not of the asked type but equals one of the variant's expected
mistakes under another reading (``14.5`` where a whole number is asked, a matrix where a number
is asked) is graded and the mistake named; and an answer of another size than the question
states (``62 62`` for height x width x channels) is a format error, unless it is a known mistake.

Whitespace, a trailing period and thousands separators (``27,000,100``, ``27 000 100``,
``27_000_100``) never matter. Inside vectors and matrices commas and spaces separate entries, so
thousands separators are not read there.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from grader.answers.arrays import MATRIX, SHAPE, VECTOR
from grader.answers.base import AnswerType, GradingRules, Parsed, Tolerance, clean, strip_label
from grader.answers.numbers import INTEGER, NUMBER
from grader.answers.options import CHOICE, MULTISELECT, TRUEFALSE
from grader.errors import FormatError

REGISTRY: dict[str, AnswerType] = {
    kind.name: kind
    for kind in (INTEGER, NUMBER, SHAPE, VECTOR, MATRIX, CHOICE, MULTISELECT, TRUEFALSE)
}
ANSWER_TYPES: tuple[str, ...] = tuple(REGISTRY)

__all__ = [
    "ANSWER_TYPES", "REGISTRY", "AnswerType", "GradingRules", "Parsed", "Tolerance",
    "answer_hint", "format_value", "lookup", "parse",
]


def lookup(answer_type: str) -> AnswerType:
    """The :class:`AnswerType` registered under ``answer_type``.

    Raises
    ------
    ValueError
        ``answer_type`` is unknown (a programming error, not a student's).
    """
    kind = REGISTRY.get(answer_type)
    if kind is None:
        raise ValueError(
            f"unknown answer type {answer_type!r}; expected one of {', '.join(ANSWER_TYPES)}"
        )
    return kind


def answer_hint(answer_type: str) -> str:
    """One line describing the accepted forms of ``answer_type``, for the answer box."""
    return lookup(answer_type).hint


def parse(answer_type: str, raw: str, *, options: Sequence[str] | None = None) -> Parsed:
    """Read a typed answer.

    Parameters
    ----------
    answer_type : str
        One of :data:`ANSWER_TYPES`.
    raw : str
        The text as typed (or, for multiselect, the chosen option texts joined by newlines).
    options : sequence of str, optional
        The options of a choice or multiselect problem; letters (a, b, ...) and, when no option
        is itself a number, 1-based numbers refer to them. Without options, a choice answer is
        the typed text and a multiselect answer its lines (or its comma-separated parts).

    Returns
    -------
    Parsed
        The value and the echo ``read_as`` ("29 x 29 x 32", "27,000,100", "(b) pooling").

    Raises
    ------
    FormatError
        The text cannot be read as an answer of this type; the message shows the expected form
        with an example. Nothing else is raised for any text.
    ValueError
        ``answer_type`` is unknown (a programming error, not a student's).
    """
    kind = lookup(answer_type)
    if not isinstance(raw, str):
        raise FormatError(f"Your answer must be text, got {type(raw).__name__}. {kind.expected}")
    text = clean(raw, kind)
    if options is not None:
        options = tuple(str(option) for option in options)
    if kind.labelled:
        text = strip_label(text)
    return kind.parse(text, options)


def format_value(answer_type: str, value: Any, options: Sequence[str] | None = None) -> str:
    """The canonical text of a value of ``answer_type`` (the same form as ``read_as``)."""
    return lookup(answer_type).format(value, options)
