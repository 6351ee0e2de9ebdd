"""Reading what students type: one parser per answer type.

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

Whitespace, a trailing period and thousands separators (``27,000,100``, ``27 000 100``,
``27_000_100``) never matter. Inside vectors and matrices commas and spaces separate entries, so
thousands separators are not read there.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from grader.errors import FormatError

ANSWER_TYPES = (
    "integer", "number", "shape", "vector", "matrix", "choice", "multiselect", "truefalse",
)

MAX_INPUT_CHARS = 10_000
MAX_DIGITS = 400         # digits of one written number
MAX_EXPONENT = 400       # |k| in 1e{k} or 10^{k}
MAX_MAGNITUDE = Fraction(10) ** 300
MAX_SHAPE_DIMS = 4
MAX_OPTION_PIECES = 60

_NUMERIC_TYPES = frozenset({"integer", "number", "shape", "vector", "matrix"})

_EXPECTED = {
    "integer": "Expected one whole number, e.g. 27000100, 27,000,100, 2.7e7 or 10^12.",
    "number": "Expected one number, e.g. 0.75, 3/4, -2.5e-3 or 2.7 x 10^7.",
    "shape": "Expected a shape such as 29x29x32, 29 x 29 x 32 or (29, 29, 32).",
    "vector": "Expected numbers separated by commas or spaces, e.g. [2, 2, 2] or 2 2 2.",
    "matrix": (
        "Expected a matrix with one row per line or rows separated by semicolons, "
        "e.g. [[4, 4], [4, 3]] or 4 4; 4 3."
    ),
    "truefalse": "Expected true or false (T/F and yes/no work too).",
    "choice": "Expected one of the options, by its text or its letter, e.g. b.",
    "multiselect": "Expected the options that apply, one per line or by letters, e.g. a, c.",
}

_HINTS = {
    "integer": "A whole number, e.g. 27000100, 27,000,100, 2.7e7 or 10^12",
    "number": "A number, e.g. 0.75, 3/4, -2.5e-3 or 2.7 x 10^7",
    "shape": "Height x width x channels, e.g. 29x29x32 or (29, 29, 32)",
    "vector": "Numbers separated by commas or spaces, e.g. [2, 2, 2] or 2 2 2",
    "matrix": "One row per line or rows separated by semicolons, e.g. 4 4; 4 3 or [[4, 4], [4, 3]]",
    "choice": "One option: its text or its letter, e.g. b",
    "multiselect": "Every option that applies: one per line, or by letters, e.g. a, c",
    "truefalse": "true or false (T/F and yes/no work too)",
}


@dataclass(frozen=True)
class Parsed:
    """A student's answer as read: the value and a short canonical echo of it.

    ``value`` is an ``int`` (integer), ``float`` (number), ``tuple[int, ...]`` (shape),
    ``tuple[int | float, ...]`` (vector), a tuple of such rows (matrix), an option text (choice),
    a tuple of option texts in option order (multiselect) or a ``bool`` (truefalse).
    """

    value: Any
    read_as: str


def answer_hint(answer_type: str) -> str:
    """One line describing the accepted forms of ``answer_type``, for the answer box."""
    _check_type(answer_type)
    return _HINTS[answer_type]


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
    _check_type(answer_type)
    if not isinstance(raw, str):
        raise FormatError(f"Your answer must be text, got {type(raw).__name__}. "
                          f"{_EXPECTED[answer_type]}")
    text = _clean(raw, answer_type)
    if options is not None:
        options = tuple(str(option) for option in options)
    if answer_type in _NUMERIC_TYPES:
        text = _strip_label(text)
    return _PARSERS[answer_type](text, options)


def format_value(answer_type: str, value: Any, options: Sequence[str] | None = None) -> str:
    """The canonical text of a value of ``answer_type`` (the same form as ``read_as``)."""
    _check_type(answer_type)
    if answer_type in ("integer", "number"):
        return _format_number(value, grouped=True)
    if answer_type == "shape":
        return " x ".join(str(int(d)) for d in _as_sequence(value))
    if answer_type == "vector":
        return _format_row(value)
    if answer_type == "matrix":
        return "[" + ", ".join(_format_row(row) for row in _as_sequence(value)) + "]"
    if answer_type == "truefalse":
        return "true" if _truth(value) else "false"
    if answer_type == "choice":
        return _format_option(str(value), options)
    return "; ".join(_format_option(str(v), options) for v in _as_sequence(value))


# ---------------------------------------------------------------------------------------------
# Shared helpers


def _check_type(answer_type: str) -> None:
    if answer_type not in _EXPECTED:
        raise ValueError(
            f"unknown answer type {answer_type!r}; expected one of {', '.join(ANSWER_TYPES)}"
        )


def _clean(raw: str, answer_type: str) -> str:
    """Strip whitespace and one trailing period; refuse empty or overlong input."""
    if len(raw) > MAX_INPUT_CHARS:
        raise FormatError(
            f"Your answer is too long ({len(raw):,} characters; at most {MAX_INPUT_CHARS:,}). "
            f"{_EXPECTED[answer_type]}"
        )
    text = raw.replace("\r\n", "\n").replace("\r", "\n").strip()
    if text.endswith(".") and not text.endswith(".."):
        text = text[:-1].rstrip()
    if not text:
        raise FormatError(f"Your answer is empty. {_EXPECTED[answer_type]}")
    return text


def _strip_label(text: str) -> str:
    """Drop a name before the value: "p = 3", "n_H = 29", "A = [[4, 4], [4, 3]]" (no value
    contains "=")."""
    label, equals, value = text.rpartition("=")
    if equals and value.strip() and len(label) <= 40:
        return value.strip()
    return text


def _shown(text: str) -> str:
    """The student's text, shortened, for quoting in a message."""
    one_line = " ".join(text.split())
    return repr(one_line if len(one_line) <= 40 else one_line[:37] + "...")


def _fail(answer_type: str, problem: str) -> FormatError:
    return FormatError(f"{problem} {_EXPECTED[answer_type]}")


def _as_sequence(value: Any) -> Sequence[Any]:
    if isinstance(value, (list, tuple)):
        return value
    return (value,)


def _truth(value: Any) -> bool:
    if isinstance(value, str):
        return _TRUTH.get(value.strip().casefold(), False)
    return bool(value)


# ---------------------------------------------------------------------------------------------
# Scalars: integers and numbers

_SPACES = " \u00a0\u202f\u2009"
_GROUPED_INT = (
    r"[0-9]{1,3}(?:,[0-9]{3})+|[0-9]{1,3}(?:_[0-9]{3})+|"
    rf"[0-9]{{1,3}}(?:[{_SPACES}][0-9]{{3}})+|[0-9]+"
)
_POWER = r"[+-]?[0-9]+|\([+-]?[0-9]+\)|\{[+-]?[0-9]+\}"


def _scalar_regex(grouped: bool) -> re.Pattern[str]:
    integer = _GROUPED_INT if grouped else r"[0-9]+"
    mantissa = rf"(?:{integer})(?:\.[0-9]*)?|\.[0-9]+"
    return re.compile(
        rf"(?P<sign>[+-]?)(?P<mant>{mantissa})"
        rf"(?:[eE](?P<exp>[+-]?[0-9]+)"
        rf"|\^(?P<pow>{_POWER})"
        rf"|[*×·xX]10\^(?P<sci>{_POWER})"
        rf"|/(?P<den>[0-9]+(?:\.[0-9]*)?|\.[0-9]+))?"
    )


_SCALAR_GROUPED = _scalar_regex(grouped=True)
_SCALAR_PLAIN = _scalar_regex(grouped=False)
_MINUSES = str.maketrans({"\u2212": "-", "\u2013": "-", "\u2014": "-", "\uff0d": "-"})
_SUPERSCRIPT_CHARS = "\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079\u207b\u207a"
_SUPERSCRIPTS = str.maketrans(_SUPERSCRIPT_CHARS, "0123456789-+")


def _normalize_scalar(text: str) -> str:
    """Unify minus signs and powers (10**12, 10¹²), and drop spaces around operators and after
    a sign."""
    text = text.translate(_MINUSES).replace("**", "^")
    text = re.sub(f"[{_SUPERSCRIPT_CHARS}]+", lambda m: "^" + m[0].translate(_SUPERSCRIPTS), text)
    text = re.sub(r"\s*([*×·^/])\s*", r"\1", text)
    text = re.sub(r"\s*([xX])\s*(?=10\^)", r"\1", text)
    return re.sub(r"^([+-])\s+", r"\1", text)


def _read_scalar(text: str, *, grouped: bool) -> Fraction | None:
    """The exact value of one written number, or None when it is not one.

    Raises FormatError (without the expected-form sentence) when it is a number but too large.
    """
    text = _normalize_scalar(text)
    match = (_SCALAR_GROUPED if grouped else _SCALAR_PLAIN).fullmatch(text)
    if match is None:
        return None
    value = _decimal(match["mant"])
    if match["exp"] is not None:
        value *= Fraction(10) ** _exponent(match["exp"])
    elif match["pow"] is not None:
        value = _power(value, _exponent(match["pow"]))
    elif match["sci"] is not None:
        value *= Fraction(10) ** _exponent(match["sci"])
    elif match["den"] is not None:
        denominator = _decimal(match["den"])
        if denominator == 0:
            raise FormatError("A fraction cannot have 0 as its denominator.")
        value /= denominator
    if abs(value) >= MAX_MAGNITUDE:
        raise FormatError("That number is too large to grade (at most 10^300).")
    return -value if match["sign"] == "-" else value


def _decimal(text: str) -> Fraction:
    digits = re.sub(rf"[,_{_SPACES}]", "", text)
    whole, _, frac = digits.partition(".")
    if len(whole) + len(frac) > MAX_DIGITS:
        raise FormatError(f"That number has too many digits (at most {MAX_DIGITS}).")
    return Fraction(int(whole + frac or "0"), 10 ** len(frac))


def _exponent(text: str) -> int:
    digits = text.strip("(){}")
    if len(digits.lstrip("+-")) > 6 or abs(int(digits)) > MAX_EXPONENT:
        raise FormatError(
            f"The exponent in that number is too large (at most {MAX_EXPONENT} either way)."
        )
    return int(digits)


def _power(base: Fraction, exponent: int) -> Fraction:
    if base == 0:
        if exponent < 0:
            raise FormatError("0 to a negative power is not a number.")
        return Fraction(int(exponent == 0))
    size = len(str(base.numerator)) + len(str(base.denominator))
    digits = abs(math.log10(abs(base.numerator)) - math.log10(base.denominator))
    if digits * abs(exponent) > 2 * MAX_EXPONENT or size * abs(exponent) > 20_000:
        raise FormatError("That power is too large to grade (at most 10^300).")
    return base ** exponent


def _scalar_problem(text: str, answer_type: str) -> FormatError:
    """The most helpful FormatError for text that is not one number."""
    normalized = _normalize_scalar(text)
    one = "whole number" if answer_type == "integer" else "number"
    if re.fullmatch(r"[+-]?[0-9]+(?:,[0-9]+)+(?:\.[0-9]*)?", normalized):
        decimal = "; for a decimal use a point, e.g. 1.5" if answer_type == "number" else ""
        return _fail(answer_type, (
            f"Could not read {_shown(text)} as one {one}: commas only separate thousands "
            "(groups of three digits). Did you mean one number? Write it without commas, "
            f"e.g. 27000100{decimal}."
        ))
    if re.fullmatch(r"[+-]?[0-9]{1,3}(?:\.[0-9]{3}){2,}", normalized):
        return _fail(answer_type, (
            f"Could not read {_shown(text)}: group thousands with commas or not at all, "
            "e.g. 27,000,100 or 27000100."
        ))
    if re.fullmatch(r"[+-]?[0-9.]+(?:\s+[0-9.]+)+", normalized):
        return _fail(answer_type, (
            f"Could not read {_shown(text)} as one {one}: it looks like several numbers. "
            "Write one number without spaces, e.g. 27000100."
        ))
    return _fail(answer_type, f"Could not read {_shown(text)} as a {one}.")


def _checked_scalar(text: str, answer_type: str, *, grouped: bool) -> Fraction | None:
    """``_read_scalar`` with the expected form added to its size errors."""
    try:
        return _read_scalar(text, grouped=grouped)
    except FormatError as error:
        raise _fail(answer_type, str(error)) from None


def _parse_integer(text: str, options: Sequence[str] | None) -> Parsed:
    value = _checked_scalar(text, "integer", grouped=True)
    if value is None:
        raise _scalar_problem(text, "integer")
    if value.denominator != 1:
        dotted = re.fullmatch(r"([+-]?[0-9]{1,3})\.([0-9]{3})", text)
        meant = f" If you meant {dotted[1]},{dotted[2]}, write it with a comma or none." if (
            dotted) else ""
        raise _fail("integer", f"{_shown(text)} is not a whole number.{meant}")
    number = int(value)
    return Parsed(number, _format_number(number, grouped=True))


def _parse_number(text: str, options: Sequence[str] | None) -> Parsed:
    if text.endswith("%"):
        raise _fail("number", (
            f"Could not read {_shown(text)}: write a plain number instead of a percentage, "
            "e.g. 0.25 for 25%."
        ))
    value = _checked_scalar(text, "number", grouped=True)
    if value is None:
        raise _scalar_problem(text, "number")
    number = float(value)
    return Parsed(number, _format_number(number, grouped=True))


def _format_number(value: Any, *, grouped: bool) -> str:
    """A number as people write it: 27,000,100, 0.75, 2.5e-07, -3."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return f"{value:,}" if grouped else str(value)
    number = float(value)
    if not math.isfinite(number):
        return str(number)
    if number.is_integer() and abs(number) < 1e15:
        return _format_number(int(number), grouped=grouped)
    text = format(number, ".12g")
    mantissa, e, exponent = text.partition("e")
    return mantissa + (f"e{int(exponent)}" if e else "")


# ---------------------------------------------------------------------------------------------
# Shapes

_SHAPE_SPLIT = re.compile(r"\s*(?:[xX×*,;]|[bB][yY])\s*|\s+")


def _strip_outer_brackets(text: str) -> str:
    if len(text) >= 2 and (text[0], text[-1]) in (("(", ")"), ("[", "]")):
        return text[1:-1].strip()
    return text


def _parse_shape(text: str, options: Sequence[str] | None) -> Parsed:
    inner = _strip_outer_brackets(text).rstrip(",").strip()
    pieces = _SHAPE_SPLIT.split(inner) if inner else []
    if not pieces or any(not piece for piece in pieces):
        raise _fail("shape", f"Could not read {_shown(text)} as a shape.")
    dims = []
    for piece in pieces:
        if not re.fullmatch(r"[0-9]+", piece):
            raise _fail("shape", (
                f"Could not read {_shown(piece)} in {_shown(text)}: each dimension is a "
                "positive whole number."
            ))
        if len(piece) > 9 or int(piece) == 0:
            raise _fail("shape", (
                f"{_shown(piece)} cannot be a dimension: each dimension is a positive whole "
                "number of at most 9 digits."
            ))
        dims.append(int(piece))
    if len(dims) > MAX_SHAPE_DIMS:
        raise _fail("shape", (
            f"{_shown(text)} has {len(dims)} dimensions; a shape here has 1 to "
            f"{MAX_SHAPE_DIMS}."
        ))
    shape = tuple(dims)
    return Parsed(shape, format_value("shape", shape))


# ---------------------------------------------------------------------------------------------
# Vectors and matrices

_ARRAY_WRAPPER = re.compile(
    r"(?:np\.|numpy\.)?array\(\s*(?P<body>.*?)\s*(?:,\s*dtype\s*=\s*[\w.'\"]+\s*)?\)", re.DOTALL
)
_ENTRY_SPLIT = re.compile(r"[\s,]+")


def _unwrap_array(text: str) -> str:
    match = _ARRAY_WRAPPER.fullmatch(text)
    return match["body"] if match else text


def _read_entry(piece: str, answer_type: str, whole: str) -> int | float:
    value = _checked_scalar(piece, answer_type, grouped=False)
    if value is None:
        raise _fail(answer_type, f"Could not read {_shown(piece)} in {_shown(whole)} as a number.")
    if value.denominator == 1:
        return int(value)
    return float(value)


def _read_row(text: str, answer_type: str, whole: str) -> tuple[int | float, ...]:
    pieces = [piece for piece in _ENTRY_SPLIT.split(_normalize_scalar(text)) if piece]
    if not pieces:
        raise _fail(answer_type, f"{_shown(whole)} has an empty row or list.")
    return tuple(_read_entry(piece, answer_type, whole) for piece in pieces)


def _parse_vector(text: str, options: Sequence[str] | None) -> Parsed:
    body = _strip_outer_brackets(_unwrap_array(text).rstrip(",; \t\n"))
    if any(bracket in body for bracket in "()[]{}"):
        vector = _vector_from_matrix(text)
    else:
        vector = _read_row(body.replace(";", " "), "vector", text)
    return Parsed(vector, format_value("vector", vector))


def _vector_from_matrix(text: str) -> tuple[int | float, ...]:
    """A single row [[1, 2, 3]] or a single column [[1], [2], [3]] read as a vector."""
    try:
        rows = _parse_matrix(text, None).value
    except FormatError:
        rows = ()
    if len(rows) == 1:
        return rows[0]
    if rows and all(len(row) == 1 for row in rows):
        return tuple(row[0] for row in rows)
    raise _fail("vector", (
        f"Could not read {_shown(text)} as one list of numbers: it has brackets inside."
    ))


def _format_row(row: Any) -> str:
    return "[" + ", ".join(_format_number(x, grouped=False) for x in _as_sequence(row)) + "]"


def _bracket_spans(text: str, answer_type: str) -> tuple[int, list[tuple[int, int, int]]]:
    """The deepest nesting and every (depth, start, end) bracket group, checking they match."""
    pairs = {"(": ")", "[": "]"}
    stack: list[tuple[str, int]] = []
    spans: list[tuple[int, int, int]] = []
    deepest = 0
    for i, char in enumerate(text):
        if char in pairs:
            stack.append((char, i))
            deepest = max(deepest, len(stack))
        elif char in ")]":
            if not stack or pairs[stack[-1][0]] != char:
                raise _fail(answer_type, f"The brackets in {_shown(text)} do not match.")
            _, start = stack.pop()
            spans.append((len(stack) + 1, start, i))
    if stack:
        raise _fail(answer_type, f"The brackets in {_shown(text)} are not all closed.")
    return deepest, spans


def _rows_between(text: str, groups: list[tuple[int, int]], whole: str) -> list[str]:
    """The insides of bracket groups, checking only separators stand between them."""
    rows, cursor = [], 0
    for start, end in groups:
        if text[cursor:start].strip(" \t\n,;"):
            raise _fail("matrix", f"Could not read {_shown(text[cursor:start])} in {_shown(whole)}.")
        rows.append(text[start + 1:end])
        cursor = end + 1
    if text[cursor:].strip(" \t\n,;"):
        raise _fail("matrix", f"Could not read {_shown(text[cursor:])} in {_shown(whole)}.")
    return rows


def _matrix_rows(text: str) -> list[str]:
    """Split a matrix's text into the texts of its rows, whatever the notation."""
    body = _unwrap_array(text).replace("{", "[").replace("}", "]").rstrip(",; \t\n")
    deepest, spans = _bracket_spans(body, "matrix")
    if deepest > 2:
        raise _fail("matrix", f"{_shown(text)} has brackets nested {deepest} deep; a matrix "
                              "has at most two levels, e.g. [[4, 4], [4, 3]].")
    if deepest == 2 or (deepest == 1 and len(spans) > 1):
        if deepest == 2:
            outer = [(s, e) for depth, s, e in spans if depth == 1]
            after = body[outer[0][1] + 1:].strip(" \t\n,;")
            if len(outer) != 1 or body[:outer[0][0]].strip() or after:
                raise _fail("matrix", f"Could not read {_shown(text)}: write the rows inside "
                                      "one pair of outer brackets.")
            base = outer[0][0] + 1
            body = body[base:outer[0][1]]
            spans = [(1, s - base, e - base) for depth, s, e in spans if depth == 2]
        return _rows_between(body, sorted((s, e) for _, s, e in spans), text)
    body = _strip_outer_brackets(body)
    return [row for row in re.split(r"[;\n]", body) if row.strip(" \t,")]


def _parse_matrix(text: str, options: Sequence[str] | None) -> Parsed:
    row_texts = _matrix_rows(text)
    if not row_texts:
        raise _fail("matrix", f"Could not read {_shown(text)} as a matrix.")
    rows = tuple(_read_row(row.strip(" \t,"), "matrix", text) for row in row_texts)
    lengths = [len(row) for row in rows]
    if len(set(lengths)) > 1:
        shown = ", ".join(str(n) for n in lengths)
        raise _fail("matrix", (
            f"The rows of {_shown(text)} have different lengths ({shown}); every row of a "
            "matrix needs the same number of entries."
        ))
    return Parsed(rows, format_value("matrix", rows))


# ---------------------------------------------------------------------------------------------
# True/false

_TRUTH = {
    "true": True, "t": True, "yes": True, "y": True, "1": True,
    "false": False, "f": False, "no": False, "n": False, "0": False,
}


def _parse_truefalse(text: str, options: Sequence[str] | None) -> Parsed:
    value = _TRUTH.get(text.strip().casefold())
    if value is None:
        raise _fail("truefalse", f"Could not read {_shown(text)} as true or false.")
    return Parsed(value, "true" if value else "false")


# ---------------------------------------------------------------------------------------------
# Choice and multiselect

_LETTER = re.compile(r"\(?([a-zA-Z])[).:]?")
_LETTER_AND_TEXT = re.compile(r"\(?([a-zA-Z])[).:]\s*(.+)", re.DOTALL)
LETTERS = "abcdefghijklmnopqrstuvwxyz"


def option_key(text: str) -> str:
    """Option text as compared: case, spacing, quotes and a trailing period ignored."""
    folded = " ".join(text.casefold().split()).strip("\"'`")
    return folded[:-1].rstrip() if folded.endswith(".") else folded


def _format_option(text: str, options: Sequence[str] | None) -> str:
    if options:
        for i, option in enumerate(options[: len(LETTERS)]):
            if option_key(option) == option_key(text):
                return f"({LETTERS[i]}) {option}"
    return text


def option_number(text: str) -> Fraction | None:
    """The number an option's text spells ("7,600" -> 7600), or None."""
    try:
        return _read_scalar(text, grouped=True)
    except FormatError:
        return None


def _resolve_option(text: str, options: Sequence[str]) -> int | None:
    """The index of the option ``text`` names, or None."""
    wanted = option_key(text)
    if not wanted:
        return None
    for i, option in enumerate(options):
        if option_key(option) == wanted:
            return i
    letter = _LETTER.fullmatch(wanted)
    if letter and LETTERS.index(letter[1].lower()) < min(len(options), len(LETTERS)):
        return LETTERS.index(letter[1].lower())
    labelled = _LETTER_AND_TEXT.fullmatch(wanted)
    if labelled:
        i = LETTERS.index(labelled[1].lower())
        if i < len(options) and option_key(options[i]) == option_key(labelled[2]):
            return i
    return _resolve_by_number(wanted, options)


def _resolve_by_number(wanted: str, options: Sequence[str]) -> int | None:
    if len(wanted) > 60:
        return None
    numeric = [option_number(option) for option in options]
    if re.fullmatch(r"[0-9]{1,3}", wanted) and all(n is None for n in numeric):
        i = int(wanted) - 1
        return i if 0 <= i < len(options) else None
    value = option_number(wanted)
    hits = [i for i, n in enumerate(numeric) if value is not None and n == value]
    return hits[0] if len(hits) == 1 else None


def _options_listing(options: Sequence[str]) -> str:
    shown = [f"({LETTERS[i]}) {option}" for i, option in enumerate(options[: len(LETTERS)])]
    return "; ".join(shown)


def _parse_choice(text: str, options: Sequence[str] | None) -> Parsed:
    if not options:
        return Parsed(text, text)
    i = _resolve_option(text, options)
    if i is None:
        raise FormatError(
            f"{_shown(text)} is not one of the options. Choose one of: "
            f"{_options_listing(options)}. Type the option's text or its letter, e.g. b."
        )
    return Parsed(options[i], _format_option(options[i], options))


def _segment(text: str, options: Sequence[str]) -> list[int] | None:
    """Option indices for comma- or semicolon-separated text, keeping together the pieces of an
    option that itself holds a comma (e.g. "stride 2, padding 1")."""
    spans = [match.span() for match in re.finditer(r"[^,;]+|(?<=[,;])(?=[,;]|$)|^(?=[,;])", text)]
    best: list[list[int] | None] = [None] * (len(spans) + 1)
    best[0] = []
    for end in range(1, len(spans) + 1):
        if not text[spans[end - 1][0]:spans[end - 1][1]].strip():
            best[end] = best[end - 1]  # an empty piece, as in "a,,b" or a trailing comma
            continue
        for start in range(end):
            if best[start] is None:
                continue
            i = _resolve_option(text[spans[start][0]:spans[end - 1][1]], options)
            if i is not None:
                best[end] = [*best[start], i]
                break
    return best[-1]


def _multiselect_indices(text: str, options: Sequence[str]) -> list[int]:
    if "\n" in text:
        lines = [line for line in text.split("\n") if line.strip()]
        found = [_resolve_option(line, options) for line in lines]
        missing = [line for line, i in zip(lines, found, strict=True) if i is None]
        if missing:
            raise _unknown_options(missing, options)
        return [i for i in found if i is not None]
    whole = _resolve_option(text, options)
    if whole is not None:
        return [whole]
    pieces = re.split(r"[,;]", text)
    if len(pieces) > MAX_OPTION_PIECES:
        raise _unknown_options([text], options)
    found_indices = _segment(text, options)
    if found_indices is None:
        words = [w for w in re.split(r"[\s,;]+|\band\b", text) if w.strip()]
        found_letters = [_resolve_option(w, options) if _LETTER.fullmatch(w) else None
                         for w in words]
        if words and all(i is not None for i in found_letters):
            return [i for i in found_letters if i is not None]
        unknown = [p.strip() for p in pieces if _resolve_option(p, options) is None]
        raise _unknown_options(unknown or [text], options)
    return found_indices


def _unknown_options(unknown: list[str], options: Sequence[str]) -> FormatError:
    shown = ", ".join(_shown(u) for u in unknown[:3])
    return FormatError(
        f"Could not match {shown} to an option. The options are: {_options_listing(options)}. "
        "Give the options that apply one per line or by their letters, e.g. a, c."
    )


def _parse_multiselect(text: str, options: Sequence[str] | None) -> Parsed:
    if not options:
        parts = text.split("\n") if "\n" in text else re.split(r"[,;]", text)
        chosen = tuple(dict.fromkeys(p.strip() for p in parts if p.strip()))
        if not chosen:
            raise _fail("multiselect", "Choose at least one option.")
        return Parsed(chosen, "; ".join(chosen))
    indices = sorted(set(_multiselect_indices(text, options)))
    if not indices:
        raise _fail("multiselect", "Choose at least one option.")
    chosen = tuple(options[i] for i in indices)
    return Parsed(chosen, format_value("multiselect", chosen, options))


_PARSERS = {
    "integer": _parse_integer,
    "number": _parse_number,
    "shape": _parse_shape,
    "vector": _parse_vector,
    "matrix": _parse_matrix,
    "truefalse": _parse_truefalse,
    "choice": _parse_choice,
    "multiselect": _parse_multiselect,
}
