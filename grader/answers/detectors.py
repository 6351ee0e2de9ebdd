"""General mistake detectors: the misconceptions every problem of an answer type can show.

Two families, both named by a :class:`Detector` (a kind, a stable tag for statistics and a
message that names the step, never the answer):

- **Structural detectors** compare a wrong answer with the right one alone, at grading time:
  a shape whose dimensions are all right but in another order (channels first, height and width
  swapped), a vector or matrix that is the right one transposed, reversed along an axis, or one
  row or column short or long. They apply to every problem of the type, stored variants included
  (:func:`detect`).
- **Expression detectors** rewrite the template's answer expression into the one a known mistake
  computes, once per template (:func:`expression_slips`): the division not floored, the logarithm
  not taken, the entries not summed (or the whole matrix given for one entry), the biases left
  out, the "full" instead of the "valid" convolution (or the reverse), the padding left out, a
  stride of 1 instead of the given one, a factor of the channel count missing or extra. Their
  values are computed per variant and stored with it as expected mistakes, after the author's.

A detector never fires on the right answer; the tests check that it never fires on an unrelated
wrong answer either (an arithmetic slip gets no misconception name).
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from grader.errors import ExpressionError
from grader.expressions import Expr, compile_expr


@dataclass(frozen=True)
class Detector:
    """One general mistake: ``kind`` groups detectors (order, orientation, size, step)."""

    kind: str
    tag: str
    message: str


# ---------------------------------------------------------------------------------------------
# Structural detectors (given against expected)

CHANNELS_FIRST = Detector(
    "order", "channels-first",
    "Every dimension is right but in the wrong order: you wrote the channels first. Write "
    "the shape as height x width x channels (channels last).")
HEIGHT_WIDTH_SWAPPED = Detector(
    "order", "height-width-swapped",
    "You swapped the height and the width: the first dimension is the height (the rows), the "
    "second the width (the columns).")
DIMENSIONS_REORDERED = Detector(
    "order", "dimensions-reordered",
    "Every dimension is right but they are in the wrong order: height x width x channels.")
TRANSPOSED = Detector(
    "orientation", "transposed",
    "Your rows are the answer's columns: the result is transposed. Row i of the output comes "
    "from the filter's i-th position going down the input, column j from its j-th position "
    "going right.")
REVERSED = Detector(
    "orientation", "output-reversed",
    "Your entries are in reverse order: the first output comes from the filter's first "
    "position, at the start of the input.")
ROWS_REVERSED = Detector(
    "orientation", "rows-reversed",
    "Your rows are in reverse order: the first row of the output comes from the filter at the "
    "top of the input.")
COLUMNS_REVERSED = Detector(
    "orientation", "columns-reversed",
    "Your columns are in reverse order: the first column of the output comes from the filter "
    "at the left edge of the input.")
ROTATED = Detector(
    "orientation", "output-rotated-180",
    "Your result is upside down and mirrored (rotated by 180 degrees): the first output comes "
    "from the filter at the top-left corner of the input.")
REARRANGED = Detector(
    "orientation", "entries-rearranged",
    "Your entries are the right ones in another arrangement (reversed or transposed): output "
    "row i, column j comes from the filter's position i steps down and j steps right.")
POSITION_MISSING = Detector(
    "size", "one-position-missing",
    "One output position is missing; the entries you gave are right. Count the positions the "
    "filter can take again, the first and the last included.")
POSITION_EXTRA = Detector(
    "size", "one-position-extra",
    "One output position too many; the others are right. At every position the filter must "
    "lie inside the (padded) input.")


def _same(a: Sequence[Any], b: Sequence[Any], close: Callable[[Any, Any], bool]) -> bool:
    return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b, strict=True))


def detect_shape(given: Sequence[Any], expected: Sequence[Any]) -> Detector | None:
    """Order mistakes of a shape: the right dimensions, permuted."""
    given, expected = tuple(given), tuple(expected)
    if len(given) != len(expected) or given == expected or sorted(given) != sorted(expected):
        return None
    if len(expected) >= 3:
        *lead, h, w, c = expected
        first, swapped = given == (*lead, c, h, w), given == (*lead, w, h, c)
        if first != swapped:  # both: either reading fits, so only the order is named
            return CHANNELS_FIRST if first else HEIGHT_WIDTH_SWAPPED
    elif len(expected) == 2 and given == expected[::-1]:
        return HEIGHT_WIDTH_SWAPPED
    return DIMENSIONS_REORDERED


def detect_vector(given: Sequence[Any], expected: Sequence[Any],
                  close: Callable[[Any, Any], bool]) -> Detector | None:
    """Reversed, or one entry short or long with the others right."""
    given, expected = list(given), list(expected)
    if len(given) == len(expected) > 1:
        if _same(given, expected[::-1], close) and not _same(given, expected, close):
            return REVERSED
        return None
    if len(expected) >= 2 and len(given) == len(expected) - 1:
        if _same(given, expected[:-1], close) or _same(given, expected[1:], close):
            return POSITION_MISSING
    if len(expected) >= 1 and len(given) == len(expected) + 1:
        if _same(given[:-1], expected, close) or _same(given[1:], expected, close):
            return POSITION_EXTRA
    return None


def _rows_same(a: Sequence[Sequence[Any]], b: Sequence[Sequence[Any]],
               close: Callable[[Any, Any], bool]) -> bool:
    return len(a) == len(b) and all(_same(r, s, close) for r, s in zip(a, b, strict=True))


def detect_matrix(given: Sequence[Sequence[Any]], expected: Sequence[Sequence[Any]],
                  close: Callable[[Any, Any], bool]) -> Detector | None:
    """Transposed, reversed along an axis, or one row or column short or long."""
    given = [list(row) for row in given]
    expected = [list(row) for row in expected]
    if not given or not expected or _rows_same(given, expected, close):
        return None
    t = [list(col) for col in zip(*expected, strict=True)]
    candidates = (
        (t, TRANSPOSED),
        (expected[::-1], ROWS_REVERSED),
        ([row[::-1] for row in expected], COLUMNS_REVERSED),
        ([row[::-1] for row in expected[::-1]], ROTATED),
    )
    found = [detector for candidate, detector in candidates if _rows_same(given, candidate, close)]
    if len(found) > 1:  # a symmetric result: several readings fit, so only the layout is named
        return REARRANGED
    if found:
        return found[0]
    rows, cols = len(expected), len(expected[0])
    g_rows, g_cols = len(given), len(given[0])
    cut = (
        [expected[:-1], expected[1:]] if (g_rows, g_cols) == (rows - 1, cols) and rows > 1 else
        [[r[:-1] for r in expected], [r[1:] for r in expected]]
        if (g_rows, g_cols) == (rows, cols - 1) and cols > 1 else []
    )
    if any(_rows_same(given, c, close) for c in cut):
        return POSITION_MISSING
    grown = (
        [given[:-1], given[1:]] if (g_rows, g_cols) == (rows + 1, cols) else
        [[r[:-1] for r in given], [r[1:] for r in given]]
        if (g_rows, g_cols) == (rows, cols + 1) else []
    )
    if any(_rows_same(g, expected, close) for g in grown):
        return POSITION_EXTRA
    return None


# ---------------------------------------------------------------------------------------------
# Expression detectors (the template's answer expression, rewritten)

FLOOR_NOT_TAKEN = Detector(
    "step", "floor-not-taken",
    "Your answer is not a whole number: it looks like the value before rounding down. Only "
    "whole steps count (a window that would hang over the edge is not used), so take the "
    "floor of the division.")
LOG_NOT_TAKEN = Detector(
    "step", "log-not-taken",
    "That looks like the count itself; the question asks for its logarithm in base ten, so "
    "take the logarithm of the count (the number of digits, less one, for a power of ten).")
SUM_NOT_TAKEN = Detector(
    "step", "sum-not-taken",
    "You gave the whole result as a matrix; the question asks for one number: add up all its "
    "entries.")
WHOLE_MATRIX = Detector(
    "step", "whole-matrix-given",
    "You gave the whole output; the question asks for one entry of it: give only the entry at "
    "the position the question names (counted from 0).")
BIASES_LEFT_OUT = Detector(
    "step", "bias-forgotten",
    "That counts the weights only: every filter (and every unit of a fully connected layer) "
    "also has one bias. Count the biases too.")
FULL_INSTEAD_OF_VALID = Detector(
    "size", "full-instead-of-valid",
    "Your answer is the 'full' result (every overlap of filter and input, so it is larger); "
    "the question asks for the 'valid' one: only positions where the filter lies entirely "
    "inside the input.")
VALID_INSTEAD_OF_FULL = Detector(
    "size", "valid-instead-of-full",
    "Your answer is the 'valid' result (only positions where the filter fits inside); the "
    "question asks for the 'full' one: every position where filter and input overlap at all, "
    "with zeros outside the input.")
PADDING_LEFT_OUT = Detector(
    "size", "padding-left-out",
    "Your answer is the result without the padding: add the zeros around the input first, "
    "then slide the filter over the padded input.")
STRIDE_ONE = Detector(
    "size", "stride-one-used",
    "Your answer is what a stride of 1 gives: with the question's stride the window jumps by "
    "s positions at a time, so keep only every s-th position.")
CHANNELS_MISSING = Detector(
    "step", "channel-factor-missing",
    "Your answer is short by a factor of the number of channels: check where the channels "
    "enter (a filter spans every input channel; an activation has height x width x channels "
    "values).")
CHANNELS_EXTRA = Detector(
    "step", "channel-factor-extra",
    "Your answer is too large by a factor of the number of channels: check that the channels "
    "are counted once, where they enter.")

DETECTORS: tuple[Detector, ...] = (
    CHANNELS_FIRST, HEIGHT_WIDTH_SWAPPED, DIMENSIONS_REORDERED, TRANSPOSED, REVERSED,
    ROWS_REVERSED, COLUMNS_REVERSED, ROTATED, REARRANGED, POSITION_MISSING, POSITION_EXTRA,
    FLOOR_NOT_TAKEN, LOG_NOT_TAKEN, SUM_NOT_TAKEN, WHOLE_MATRIX, BIASES_LEFT_OUT,
    FULL_INSTEAD_OF_VALID, VALID_INSTEAD_OF_FULL, PADDING_LEFT_OUT, STRIDE_ONE,
    CHANNELS_MISSING, CHANNELS_EXTRA,
)
"""Every general detector (for documentation, the statistics page and the tests)."""

DETECTOR_TAGS: frozenset[str] = frozenset(d.tag for d in DETECTORS)

_ROUNDING = {"floor", "ceil", "round", "int"}
_SIGNALS = {"correlate1d": "valid", "convolve1d": "full", "correlate2d": "valid",
            "convolve2d": "full"}
CHANNEL_NAMES = ("c", "n_c", "n_c_prev", "channels")


@dataclass(frozen=True, eq=False)
class Slip:
    """An expression detector fitted to one template: the expression its mistake computes."""

    detector: Detector
    expr: Expr
    mode: str = ""  # a swapped mode: the mode asked ("valid", "full") or the parameter naming it


class _Rewrite(ast.NodeTransformer):
    """Base: records whether the rewrite changed anything."""

    def __init__(self) -> None:
        self.changed = False


class _Unfloor(_Rewrite):
    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.op, ast.FloorDiv):
            self.changed = True
            return ast.BinOp(node.left, ast.Div(), node.right)
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        name = node.func.id if isinstance(node.func, ast.Name) else ""
        if name in _ROUNDING and len(node.args) == 1 and not node.keywords:
            self.changed = True
            return node.args[0]
        if name == "output_size":
            self.changed = True
            node.func = ast.Name("output_size_exact", ast.Load())
        return node


class _Unwrap(_Rewrite):
    """The argument of the outermost call of ``name`` (only at the top of the expression, or
    under arithmetic: ``matsum(a * w) + b`` becomes ``a * w + b`` is not wanted, so only the
    whole expression counts)."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def rewrite(self, tree: ast.Expression) -> ast.Expression:
        body = tree.body
        if (isinstance(body, ast.Call) and isinstance(body.func, ast.Name)
                and body.func.id == self.name and body.args):
            self.changed = True
            return ast.Expression(body.args[0])
        if (self.name == "entry" and isinstance(body, ast.Subscript)
                and isinstance(body.value, ast.Call) and isinstance(body.value.func, ast.Name)
                and body.value.func.id in {*_SIGNALS, "pool2d"}):
            self.changed = True  # convolve1d(x, w)[i]: one entry of a computed output
            return ast.Expression(body.value)
        return tree


class _NoBias(_Rewrite):
    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        name = node.func.id if isinstance(node.func, ast.Name) else ""
        wanted = {"conv_params": 3, "fc_params": 2}.get(name)
        if wanted is not None and len(node.args) == wanted and not node.keywords:
            self.changed = True
            node.args = [*node.args, ast.Constant(False)]
        return node


class _Signal(_Rewrite):
    """Rewrite the mode or padding of every reference convolution call."""

    def __init__(self, change: str) -> None:
        super().__init__()
        self.change = change  # "swap-mode", "no-pad"
        self.mode = ""  # the mode asked by the first call rewritten

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        name = node.func.id if isinstance(node.func, ast.Name) else ""
        if name not in _SIGNALS or node.keywords or len(node.args) < 2:
            return node
        args = list(node.args)
        if self.change == "no-pad":
            if len(args) < 4 or (isinstance(args[3], ast.Constant) and args[3].value == 0):
                return node
            args[3] = ast.Constant(0)
        else:
            mode = args[2] if len(args) >= 3 else ast.Constant(_SIGNALS[name])
            if not self.mode:
                self.mode = mode.value if isinstance(mode, ast.Constant) else (
                    mode.id if isinstance(mode, ast.Name) else "")
            args = [*args[:2], _swapped_mode(mode), *args[3:]]
        self.changed = True
        node.args = args
        return node


def _swapped_mode(mode: ast.expr) -> ast.expr:
    if isinstance(mode, ast.Constant) and mode.value in ("valid", "full"):
        return ast.Constant("full" if mode.value == "valid" else "valid")
    return ast.IfExp(ast.Compare(mode, [ast.Eq()], [ast.Constant("valid")]),
                     ast.Constant("full"), ast.Constant("valid"))


class _PoolStrideOne(_Rewrite):
    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        name = node.func.id if isinstance(node.func, ast.Name) else ""
        if name == "pool2d" and len(node.args) >= 3 and not node.keywords:
            stride = node.args[2]
            if not (isinstance(stride, ast.Constant) and stride.value == 1):
                self.changed = True
                node.args = [node.args[0], node.args[1], ast.Constant(1), *node.args[3:]]
        return node


def _rewritten(source: str, rewrite: _Rewrite, where: str) -> Expr | None:
    tree = ast.parse(source, mode="eval")
    if isinstance(rewrite, _Unwrap):
        new = rewrite.rewrite(tree)
    else:
        new = rewrite.visit(tree)
    if not rewrite.changed:
        return None
    return compile_expr(ast.unparse(ast.fix_missing_locations(new)), where)


NUMERIC = frozenset({"integer", "number"})
ARRAYS = frozenset({"vector", "matrix"})


@functools.lru_cache(maxsize=512)
def expression_slips(source: str, answer_type: str) -> tuple[Slip, ...]:
    """The expression detectors that fit an answer expression, each with its rewritten
    expression (none when the rewrite changes nothing)."""
    where = f"the general mistakes of {source!r}"
    plans: list[tuple[Detector, _Rewrite, frozenset[str]]] = [
        (FLOOR_NOT_TAKEN, _Unfloor(), frozenset({"integer"})),
        (LOG_NOT_TAKEN, _Unwrap("log10"), NUMERIC),
        (SUM_NOT_TAKEN, _Unwrap("matsum"), NUMERIC),
        (WHOLE_MATRIX, _Unwrap("entry"), NUMERIC),
        (BIASES_LEFT_OUT, _NoBias(), NUMERIC),
        (FULL_INSTEAD_OF_VALID, _Signal("swap-mode"), NUMERIC | ARRAYS),
        (PADDING_LEFT_OUT, _Signal("no-pad"), NUMERIC | ARRAYS),
        (STRIDE_ONE, _PoolStrideOne(), ARRAYS),
    ]
    slips = []
    for detector, rewrite, kinds in plans:
        if answer_type not in kinds:
            continue
        if (isinstance(rewrite, _Signal) and answer_type in NUMERIC
                and not source.lstrip().startswith("matsum(")):
            continue  # one entry of another-sized result is no misconception, only a sum is
        expr = _rewritten(source, rewrite, where)
        if expr is not None:
            slips.append(Slip(detector, expr, getattr(rewrite, "mode", "")))
    return tuple(slips)


def slip_detector(slip: Slip, context: dict[str, Any]) -> Detector:
    """The detector a slip's value is named with: a swapped mode is named by the mode asked."""
    if slip.detector is not FULL_INSTEAD_OF_VALID:
        return slip.detector
    asked = slip.mode if slip.mode in ("valid", "full") else context.get(slip.mode)
    return FULL_INSTEAD_OF_VALID if asked == "valid" else VALID_INSTEAD_OF_FULL


def channel_values(answer: Any, names: frozenset[str], context: dict[str, Any]
                   ) -> list[tuple[Detector, int]]:
    """Answers off by a factor of the input channel count, for integer answers that use it."""
    if isinstance(answer, bool) or not isinstance(answer, int):
        return []
    for name in CHANNEL_NAMES:
        value = context.get(name)
        if name in names and isinstance(value, int) and not isinstance(value, bool) and value > 1:
            found = [(CHANNELS_EXTRA, answer * value)]
            if answer % value == 0 and answer:
                found.append((CHANNELS_MISSING, answer // value))
            return found
    return []


_SLIP_ERRORS = (ValueError, ArithmeticError, TypeError, IndexError, KeyError)


def general_mistakes(answer_expr: Expr, answer_type: str, context: dict[str, Any], answer: Any,
                     memo: dict[str, Any]) -> list[tuple[str, Any, str]]:
    """(tag, value, message) of every expression detector that fits one variant (values the
    rewrite cannot compute for these parameters are skipped)."""
    found: list[tuple[str, Any, str]] = []
    for slip in expression_slips(answer_expr.source, answer_type):
        try:
            value = slip.expr.evaluate_cached(context, memo)
        except (ExpressionError, *_SLIP_ERRORS):
            continue
        detector = slip_detector(slip, context)
        found.append((detector.tag, value, detector.message))  # normalized by the caller
    for detector, value in channel_values(answer, answer_expr.names, context):
        found.append((detector.tag, value, detector.message))
    return found

