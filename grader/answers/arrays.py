"""Shape, vector and matrix answers: the one home of reading, writing and judging arrays.

Inside vectors and matrices commas and spaces separate entries, so thousands separators are not
read there. Vectors and matrices may earn partial credit (``grading.partial_credit``); feedback
names which dimensions or entries are wrong, never their values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from grader.answers.base import (
    AnswerType,
    GradingRules,
    Parsed,
    Tolerance,
    as_sequence,
    join,
    seq,
    shown,
)
from grader.answers.detectors import Detector, detect_matrix, detect_shape, detect_vector
from grader.answers.numbers import (
    checked_scalar,
    format_number,
    integral,
    is_real,
    normalize_scalar,
)
from grader.errors import FormatError

MAX_SHAPE_DIMS = 4
SHAPE_NAMES = {
    1: ("length",),
    2: ("height", "width"),
    3: ("height", "width", "depth"),
    4: ("number of examples", "height", "width", "depth"),
}

_SHAPE_SPLIT = re.compile(r"\s*(?:[xX×*,;]|[bB][yY])\s*|\s+")
_ARRAY_WRAPPER = re.compile(
    r"(?:np\.|numpy\.)?array\(\s*(?P<body>.*?)\s*(?:,\s*dtype\s*=\s*[\w.'\"]+\s*)?\)", re.DOTALL
)
_ENTRY_SPLIT = re.compile(r"[\s,]+")


def _strip_outer_brackets(text: str) -> str:
    if len(text) >= 2 and (text[0], text[-1]) in (("(", ")"), ("[", "]")):
        return text[1:-1].strip()
    return text


def _unwrap_array(text: str) -> str:
    match = _ARRAY_WRAPPER.fullmatch(text)
    return match["body"] if match else text


def _read_entry(piece: str, kind: AnswerType, whole: str) -> int | float:
    value = checked_scalar(piece, kind, grouped=False)
    if value is None:
        raise kind.fail(f"Could not read {shown(piece)} in {shown(whole)} as a number.")
    if value.denominator == 1:
        return int(value)
    return float(value)


def _read_row(text: str, kind: AnswerType, whole: str) -> tuple[int | float, ...]:
    pieces = [piece for piece in _ENTRY_SPLIT.split(normalize_scalar(text)) if piece]
    if not pieces:
        raise kind.fail(f"{shown(whole)} has an empty row or list.")
    return tuple(_read_entry(piece, kind, whole) for piece in pieces)


def _format_row(row: Any) -> str:
    return "[" + ", ".join(format_number(x, grouped=False) for x in as_sequence(row)) + "]"


def _all_ints(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return all(_all_ints(item) for item in value)
    return isinstance(value, int)


def _entries_right(given: Any, expected: Any, tolerance: Tolerance) -> tuple[int, bool]:
    """How many entries of two flat lists agree, and whether the lengths match."""
    given, expected = seq(given), seq(expected)
    if len(given) != len(expected):
        return 0, False
    return sum(tolerance.close(g, e) for g, e in zip(given, expected, strict=True)), True


def _entries_feedback(total: int, wrong: Sequence[str]) -> str:
    """How many entries are right and where to look, e.g. "3 of 4 entries are right; check ..."."""
    right = total - len(wrong)
    if right == 0:
        return f"Not right: none of the {total} entries is right."
    places = join(list(wrong[:3])) + (" and others" if len(wrong) > 3 else "")
    verb = "is" if right == 1 else "are"
    return f"Not right: {right} of {total} entries {verb} right; check {places} (counting from 0)."


# ---------------------------------------------------------------------------------------------
# Shapes


def shape_as_vector(text: str) -> str:
    """A shape's text with its separators as commas ("29.5x29.5x10" -> "29.5, 29.5, 10"), to
    read a shape whose dimensions are not whole numbers as the vector it spells."""
    inner = _strip_outer_brackets(text.strip()).rstrip(",").strip()
    return ", ".join(_SHAPE_SPLIT.split(inner))


class ShapeType(AnswerType):
    name = "shape"
    expected = "Expected a shape such as 29x29x32, 29 x 29 x 32 or (29, 29, 32)."
    hint = "Height x width x channels, e.g. 29x29x32 or (29, 29, 32)"
    labelled = True

    def parse(self, text: str, options: Sequence[str] | None) -> Parsed:
        inner = _strip_outer_brackets(text).rstrip(",").strip()
        pieces = _SHAPE_SPLIT.split(inner) if inner else []
        if not pieces or any(not piece for piece in pieces):
            raise self.fail(f"Could not read {shown(text)} as a shape.")
        dims = tuple(self._dimension(piece, text) for piece in pieces)
        if len(dims) > MAX_SHAPE_DIMS:
            raise self.fail(
                f"{shown(text)} has {len(dims)} dimensions; a shape here has 1 to "
                f"{MAX_SHAPE_DIMS}."
            )
        return Parsed(dims, self.format(dims, None))

    def _dimension(self, piece: str, text: str) -> int:
        if not re.fullmatch(r"[0-9]+", piece):
            raise self.fail(
                f"Could not read {shown(piece)} in {shown(text)}: each dimension is a "
                "positive whole number."
            )
        if len(piece) > 9 or int(piece) == 0:
            raise self.fail(
                f"{shown(piece)} cannot be a dimension: each dimension is a positive whole "
                "number of at most 9 digits."
            )
        return int(piece)

    def format(self, value: Any, options: Sequence[str] | None) -> str:
        return " x ".join(str(int(d)) for d in as_sequence(value))

    def normalize(self, value: Any) -> Any:
        return [integral(v) for v in value] if isinstance(value, list) else value

    def valid(self, value: Any) -> bool:
        return isinstance(value, list) and 1 <= len(value) <= 4 and all(
            isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in value)

    def exact(self, expected: Any) -> bool:
        return True

    def same(self, given: Any, expected: Any, tolerance: Tolerance) -> bool:
        return _entries_right(given, expected, tolerance) == (len(seq(expected)), True)

    def detect(self, given: Any, expected: Any, tolerance: Tolerance) -> Detector | None:
        return detect_shape(seq(given), seq(expected))

    def size(self, value: Any) -> tuple[int, ...] | None:
        return (len(seq(value)),)

    def describe_size(self, size: tuple[int, ...]) -> str:
        names = SHAPE_NAMES.get(size[0])
        listed = f" ({' x '.join(names)})" if names and size[0] > 1 else ""
        return f"{size[0]} dimension{'s' if size[0] != 1 else ''}{listed}"

    def feedback(self, given: Any, expected: Any, tolerance: Tolerance, score: float) -> str:
        given, expected = seq(given), seq(expected)
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
        wrong_names = join([n for n, _, _ in wrong])
        wrong_verb = "is" if len(wrong) == 1 else "are"
        return (f"Not right: the {join(right)} {verb} right but the {wrong_names} {wrong_verb} "
                f"not ({details}).")


# ---------------------------------------------------------------------------------------------
# Vectors


class VectorType(AnswerType):
    name = "vector"
    expected = "Expected numbers separated by commas or spaces, e.g. [2, 2, 2] or 2 2 2."
    hint = "Numbers separated by commas or spaces, e.g. [2, 2, 2] or 2 2 2"
    labelled = True

    def parse(self, text: str, options: Sequence[str] | None) -> Parsed:
        body = _strip_outer_brackets(_unwrap_array(text).rstrip(",; \t\n"))
        if any(bracket in body for bracket in "()[]{}"):
            vector = self._from_matrix(text)
        else:
            vector = _read_row(body.replace(";", " "), self, text)
        return Parsed(vector, self.format(vector, None))

    def _from_matrix(self, text: str) -> tuple[int | float, ...]:
        """A single row [[1, 2, 3]] or a single column [[1], [2], [3]] read as a vector."""
        try:
            rows = MATRIX.parse(text, None).value
        except FormatError:
            rows = ()
        if len(rows) == 1:
            return rows[0]
        if rows and all(len(row) == 1 for row in rows):
            return tuple(row[0] for row in rows)
        raise self.fail(
            f"Could not read {shown(text)} as one list of numbers: it has brackets inside."
        )

    def format(self, value: Any, options: Sequence[str] | None) -> str:
        return _format_row(value)

    def valid(self, value: Any) -> bool:
        return isinstance(value, list) and len(value) > 0 and all(is_real(v) for v in value)

    def exact(self, expected: Any) -> bool:
        return _all_ints(expected)

    def same(self, given: Any, expected: Any, tolerance: Tolerance) -> bool:
        return _entries_right(given, expected, tolerance) == (len(seq(expected)), True)

    def score(self, given: Any, expected: Any, tolerance: Tolerance,
              rules: GradingRules) -> float:
        if not rules.partial_credit:
            return super().score(given, expected, tolerance, rules)
        right, same_size = _entries_right(given, expected, tolerance)
        return right / len(seq(expected)) if same_size and seq(expected) else 0.0

    def detect(self, given: Any, expected: Any, tolerance: Tolerance) -> Detector | None:
        return detect_vector(seq(given), seq(expected), tolerance.close)

    def size(self, value: Any) -> tuple[int, ...] | None:
        return (len(seq(value)),)

    def describe_size(self, size: tuple[int, ...]) -> str:
        return f"{size[0]} entr{'y' if size[0] == 1 else 'ies'}"

    def feedback(self, given: Any, expected: Any, tolerance: Tolerance, score: float) -> str:
        given, expected = seq(given), seq(expected)
        if len(given) != len(expected):
            return f"Not right: expected {len(expected)} entries, you gave {len(given)}."
        wrong = [i for i, (g, e) in enumerate(zip(given, expected, strict=True))
                 if not tolerance.close(g, e)]
        return _entries_feedback(len(expected), [f"entry {i}" for i in wrong])


# ---------------------------------------------------------------------------------------------
# Matrices


def _bracket_spans(text: str, kind: AnswerType) -> tuple[int, list[tuple[int, int, int]]]:
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
                raise kind.fail(f"The brackets in {shown(text)} do not match.")
            _, start = stack.pop()
            spans.append((len(stack) + 1, start, i))
    if stack:
        raise kind.fail(f"The brackets in {shown(text)} are not all closed.")
    return deepest, spans


def _matrix_dims(value: Any) -> tuple[int, int] | None:
    rows = seq(value)
    if not rows or not all(isinstance(row, (list, tuple)) for row in rows):
        return None
    if len({len(row) for row in rows}) != 1:
        return None
    return len(rows), len(rows[0])


def _matrix_right(given: Any, expected: Any, tolerance: Tolerance) -> tuple[int, int, bool]:
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


_LATEX_ENV = re.compile(r"\\(?:begin|end)\{[a-zA-Z]*matrix\*?\}|\\left|\\right|\$")


def from_latex(text: str) -> str:
    """A matrix typed as LaTeX (``\\begin{bmatrix} 1 & 2 \\\\ 3 & 4 \\end{bmatrix}``, as the
    prompts show it) in the plain notation: rows separated by semicolons, entries by spaces."""
    if "&" not in text and "\\" not in text:
        return text
    plain = _LATEX_ENV.sub(" ", text)
    plain = plain.replace("\\\\", ";").replace("&", " ")
    return plain.strip().strip(";").strip()


class MatrixType(AnswerType):
    name = "matrix"
    expected = (
        "Expected a matrix with one row per line or rows separated by semicolons, "
        "e.g. [[4, 4], [4, 3]] or 4 4; 4 3."
    )
    hint = "One row per line or rows separated by semicolons, e.g. 4 4; 4 3 or [[4, 4], [4, 3]]"
    labelled = True

    def parse(self, text: str, options: Sequence[str] | None) -> Parsed:
        text = from_latex(text)
        row_texts = self._rows(text)
        if not row_texts:
            raise self.fail(f"Could not read {shown(text)} as a matrix.")
        rows = tuple(_read_row(row.strip(" \t,"), self, text) for row in row_texts)
        lengths = [len(row) for row in rows]
        if len(set(lengths)) > 1:
            listed = ", ".join(str(n) for n in lengths)
            raise self.fail(
                f"The rows of {shown(text)} have different lengths ({listed}); every row of a "
                "matrix needs the same number of entries."
            )
        return Parsed(rows, self.format(rows, None))

    def _rows(self, text: str) -> list[str]:
        """Split a matrix's text into the texts of its rows, whatever the notation."""
        body = _unwrap_array(text).replace("{", "[").replace("}", "]").rstrip(",; \t\n")
        deepest, spans = _bracket_spans(body, self)
        if deepest > 2:
            raise self.fail(f"{shown(text)} has brackets nested {deepest} deep; a matrix "
                            "has at most two levels, e.g. [[4, 4], [4, 3]].")
        if deepest == 2:
            body, spans = self._inside_outer(body, spans, text)
        if deepest == 2 or (deepest == 1 and len(spans) > 1):
            return self._rows_between(body, sorted((s, e) for _, s, e in spans), text)
        body = _strip_outer_brackets(body)
        return [row for row in re.split(r"[;\n]", body) if row.strip(" \t,")]

    def _inside_outer(self, body: str, spans: list[tuple[int, int, int]], text: str
                      ) -> tuple[str, list[tuple[int, int, int]]]:
        """The text inside the one outer bracket pair, with the row groups' spans in it."""
        outer = [(s, e) for depth, s, e in spans if depth == 1]
        after = body[outer[0][1] + 1:].strip(" \t\n,;")
        if len(outer) != 1 or body[:outer[0][0]].strip() or after:
            raise self.fail(f"Could not read {shown(text)}: write the rows inside "
                            "one pair of outer brackets.")
        base = outer[0][0] + 1
        inner = [(1, s - base, e - base) for depth, s, e in spans if depth == 2]
        return body[base:outer[0][1]], inner

    def _rows_between(self, text: str, groups: list[tuple[int, int]], whole: str) -> list[str]:
        """The insides of bracket groups, checking only separators stand between them."""
        rows, cursor = [], 0
        for start, end in groups:
            if text[cursor:start].strip(" \t\n,;"):
                raise self.fail(f"Could not read {shown(text[cursor:start])} in {shown(whole)}.")
            rows.append(text[start + 1:end])
            cursor = end + 1
        if text[cursor:].strip(" \t\n,;"):
            raise self.fail(f"Could not read {shown(text[cursor:])} in {shown(whole)}.")
        return rows

    def format(self, value: Any, options: Sequence[str] | None) -> str:
        return "[" + ", ".join(_format_row(row) for row in as_sequence(value)) + "]"

    def valid(self, value: Any) -> bool:
        return isinstance(value, list) and len(value) > 0 and all(
            isinstance(r, list) and len(r) == len(value[0]) > 0 and all(is_real(v) for v in r)
            for r in value)

    def exact(self, expected: Any) -> bool:
        return _all_ints(expected)

    def same(self, given: Any, expected: Any, tolerance: Tolerance) -> bool:
        right, total, same_size = _matrix_right(given, expected, tolerance)
        return same_size and right == total

    def score(self, given: Any, expected: Any, tolerance: Tolerance,
              rules: GradingRules) -> float:
        if not rules.partial_credit:
            return super().score(given, expected, tolerance, rules)
        right, total, same_size = _matrix_right(given, expected, tolerance)
        return right / total if same_size and total else 0.0

    def detect(self, given: Any, expected: Any, tolerance: Tolerance) -> Detector | None:
        if _matrix_dims(given) is None or _matrix_dims(expected) is None:
            return None
        return detect_matrix(given, expected, tolerance.close)

    def size(self, value: Any) -> tuple[int, ...] | None:
        return _matrix_dims(value)

    def describe_size(self, size: tuple[int, ...]) -> str:
        return f"a {size[0]} x {size[1]} matrix"

    def feedback(self, given: Any, expected: Any, tolerance: Tolerance, score: float) -> str:
        want, got = _matrix_dims(expected), _matrix_dims(given)
        if want is None:
            return "Not right."
        if got != want:
            got_text = f"{got[0]} x {got[1]}" if got else "something else"
            return f"Not right: expected a {want[0]} x {want[1]} matrix, you gave {got_text}."
        wrong = [
            (r, c)
            for r, (g_row, e_row) in enumerate(zip(given, expected, strict=True))
            for c, (g, e) in enumerate(zip(g_row, e_row, strict=True))
            if not tolerance.close(g, e)
        ]
        return _entries_feedback(want[0] * want[1], [f"row {r}, column {c}" for r, c in wrong])


SHAPE, VECTOR, MATRIX = ShapeType(), VectorType(), MatrixType()
