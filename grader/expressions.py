"""Safe expressions over a problem's parameters.

Answers, mistakes, derived parameters and constraints in the problem bank are small Python-like
expressions such as ``output_size(n, f, s, p)`` or ``(f * f * c + 1) * k``. They are parsed with
:mod:`ast` and checked against a whitelist *once*, when the bank loads:

- literals, names (never starting with ``_``), arithmetic, comparison and boolean operators,
  conditional expressions, tuples and lists, subscripts and slices;
- calls to the functions in :data:`FUNCTIONS` only (the formulas, the reference convolutions and a
  few NumPy-free helpers), with positional or keyword arguments;
- no attributes, no comprehensions, no lambdas, no starred arguments, no dunder names.

``**`` and ``*`` are rewritten into calls to guarded helpers so that no template can build a
gigantic number or list. The checked tree is then compiled once with empty builtins; evaluating it
per variant is a plain function call, which keeps a lint run of 20,000 variants fast.
"""

from __future__ import annotations

import ast
import functools
import importlib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from grader import formulas
from grader.errors import ExpressionError

MAX_EXPONENT = 64
MAX_INT_BITS = 4096
MAX_SEQUENCE = 10_000

# ---------------------------------------------------------------------------------------------
# Helpers callable from expressions


def _as_array(x: Any) -> np.ndarray:
    return x if isinstance(x, np.ndarray) else np.asarray(x)


def floor(x: Any) -> Any:
    """Largest integer <= x (elementwise for arrays)."""
    if isinstance(x, np.ndarray):
        return np.floor(x).astype(np.int64)
    return math.floor(x)


def ceil(x: Any) -> Any:
    """Smallest integer >= x (elementwise for arrays)."""
    if isinstance(x, np.ndarray):
        return np.ceil(x).astype(np.int64)
    return math.ceil(x)


def round_half_up(x: Any, ndigits: int | None = None) -> Any:
    """Round the way people do by hand (2.5 -> 3), unlike Python's banker's rounding."""
    if ndigits is None:
        if isinstance(x, np.ndarray):
            return np.floor(x + 0.5).astype(np.int64)
        return math.floor(x + 0.5)
    scale = 10.0 ** int(ndigits)
    return np.floor(_as_array(x) * scale + 0.5) / scale if isinstance(x, np.ndarray) else (
        math.floor(x * scale + 0.5) / scale
    )


def log10(x: Any) -> float:
    """Base-10 logarithm; exact for powers of ten given as integers."""
    if isinstance(x, int) and x > 0:
        digits = len(str(x)) - 1
        if x == 10**digits:
            return digits
    return math.log10(x)


def transpose(m: Any) -> np.ndarray:
    """The transpose of a matrix."""
    return _as_array(m).T


def flip(x: Any) -> np.ndarray:
    """Reverse every axis: a 1D kernel read backwards, a 2D kernel rotated by 180 degrees."""
    return np.flip(_as_array(x))


def rot90(m: Any, times: int = 1) -> np.ndarray:
    """Rotate a matrix counter-clockwise by ``times`` quarter turns."""
    return np.rot90(_as_array(m), int(times))


def shape_of(x: Any) -> list[int]:
    """The shape of an array as a list of ints."""
    return [int(d) for d in _as_array(x).shape]


def matsum(x: Any) -> Any:
    """The sum of every entry of an array."""
    return _as_array(x).sum().item()


def entry(m: Any, *index: int) -> Any:
    """One entry of an array, indexed from 0: ``entry(M, 1, 2)``."""
    return _as_array(m)[tuple(int(i) for i in index)].item()


def array(x: Any) -> np.ndarray:
    """Turn a (nested) list into an array."""
    return np.asarray(x)


def step_image(rows: int, cols: int, split: int, left: Any, right: Any) -> np.ndarray:
    """An image whose first ``split`` columns hold ``left`` and the rest ``right``."""
    out = np.full((int(rows), int(cols)), right)
    out[:, : int(split)] = left
    return out


def pad_sides(x: Any, before: int, after: int) -> np.ndarray:
    """Zero-pad a 1D or 2D array with ``before`` zeros in front and ``after`` behind each axis."""
    if int(before) == int(after) == 0:
        return _as_array(x)
    return np.pad(_as_array(x), (int(before), int(after)))


def mean(x: Any) -> float:
    """The mean of every entry of an array."""
    return float(_as_array(x).mean())


def amax(x: Any) -> Any:
    """The largest entry of an array."""
    return _as_array(x).max().item()


def hstack(*parts: Any) -> np.ndarray:
    """Put matrices side by side."""
    return np.hstack([_as_array(p) for p in parts])


def vstack(*parts: Any) -> np.ndarray:
    """Stack matrices on top of each other."""
    return np.vstack([_as_array(p) for p in parts])


def pool2d(x: Any, f: int, s: int, mode: str = "max") -> np.ndarray:
    """Max or average pooling of one matrix with an f x f window and stride s."""
    module = importlib.import_module("grader.reference")
    a = _as_array(x)
    out, _ = module.pool_forward(a.reshape(1, *a.shape, 1).astype(float),
                                 {"f": int(f), "stride": int(s)}, mode=mode)
    result = out[0, :, :, 0]
    if mode == "max" and np.issubdtype(a.dtype, np.integer):
        return result.astype(np.int64)
    return result


def _reference(name: str) -> Callable[..., Any]:
    """The reference function ``name``, looked up when first called (keeps imports light)."""

    def call(*args: Any, **kwargs: Any) -> Any:
        module = importlib.import_module("grader.reference")
        return getattr(module, name)(*args, **kwargs)

    call.__name__ = name
    return call


def _array_key(a: Any) -> tuple:
    a = _as_array(a)
    return (a.shape, a.dtype.str, a.tobytes())


def _signal(name: str, default_mode: str) -> Callable[..., Any]:
    """A reference convolution with a small cache: one variant's answer and its mistake
    families often make the very same call (the result is never modified in place)."""
    reference_call = _reference(name)

    @functools.lru_cache(maxsize=256)
    def cached(x_key: tuple, k_key: tuple, mode: str, pad: int) -> np.ndarray:
        x = np.frombuffer(x_key[2], dtype=x_key[1]).reshape(x_key[0])
        k = np.frombuffer(k_key[2], dtype=k_key[1]).reshape(k_key[0])
        result = reference_call(x, k, mode, pad)
        result.flags.writeable = False
        return result

    def call(x: Any, k: Any, mode: str = default_mode, pad: int = 0) -> np.ndarray:
        try:
            return cached(_array_key(x), _array_key(k), mode, pad)
        except TypeError:  # unhashable mode/pad: let the reference explain what is wrong
            return reference_call(x, k, mode, pad)

    call.__name__ = name
    return call


def _safe_pow(base: Any, exponent: Any) -> Any:
    if isinstance(exponent, (int, float, np.integer, np.floating)) and abs(exponent) > MAX_EXPONENT:
        raise ValueError(f"exponent {exponent} is larger than {MAX_EXPONENT}")
    if isinstance(base, (int, np.integer)) and isinstance(exponent, (int, np.integer)):
        if int(base).bit_length() * max(int(exponent), 0) > MAX_INT_BITS:
            raise ValueError(f"{base} ** {exponent} is too large a number")
    return base**exponent


def _safe_mul(a: Any, b: Any) -> Any:
    for seq, times in ((a, b), (b, a)):
        if isinstance(seq, (list, tuple, str)) and isinstance(times, (int, np.integer)):
            if len(seq) * int(times) > MAX_SEQUENCE:
                raise ValueError(f"repeating a sequence {times} times makes it too long")
    return a * b


FUNCTIONS: dict[str, Callable[..., Any]] = {
    # the formulas
    "output_size": formulas.output_size,
    "output_size_exact": formulas.output_size_exact,
    "same_padding": formulas.same_padding,
    "conv_params": formulas.conv_params,
    "fc_params": formulas.fc_params,
    "pool_params": formulas.pool_params,
    "conv_output_shape": formulas.conv_output_shape,
    "pool_output_shape": formulas.pool_output_shape,
    # the reference convolutions
    "convolve1d": _signal("convolve1d", "full"),
    "correlate1d": _signal("correlate1d", "valid"),
    "convolve2d": _signal("convolve2d", "full"),
    "correlate2d": _signal("correlate2d", "valid"),
    "adaptive_pool_params": _reference("adaptive_pool_params"),
    "adaptive_avg_pool1d": _reference("adaptive_avg_pool1d"),
    # plain helpers
    "floor": floor,
    "ceil": ceil,
    "round": round_half_up,
    "abs": abs,
    "min": min,
    "max": max,
    "sum": sum,
    "len": len,
    "int": int,
    "float": float,
    "bool": bool,
    "str": str,
    "list": list,
    "tuple": tuple,
    "sorted": sorted,
    "sqrt": math.sqrt,
    "log10": log10,
    "log2": math.log2,
    "gcd": math.gcd,
    "transpose": transpose,
    "flip": flip,
    "rot180": flip,
    "rot90": rot90,
    "shape_of": shape_of,
    "matsum": matsum,
    "mean": mean,
    "amax": amax,
    "entry": entry,
    "array": array,
    "step_image": step_image,
    "pad_sides": pad_sides,
    "pool2d": pool2d,
    "hstack": hstack,
    "vstack": vstack,
}

CONSTANTS: dict[str, Any] = {"True": True, "False": False, "None": None, "pi": math.pi}

_PRIVATE = {"_safe_pow": _safe_pow, "_safe_mul": _safe_mul}

_ALLOWED_NODES: tuple[type, ...] = (
    ast.Expression, ast.Constant, ast.Name, ast.Load, ast.BinOp, ast.UnaryOp, ast.BoolOp,
    ast.Compare, ast.IfExp, ast.Tuple, ast.List, ast.Subscript, ast.Slice, ast.Call, ast.keyword,
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.USub, ast.UAdd,
    ast.Not, ast.And, ast.Or, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In,
    ast.NotIn, ast.MatMult,
)


# ---------------------------------------------------------------------------------------------
# Compilation


@dataclass(frozen=True, eq=False)
class Expr:
    """A checked, compiled expression.

    Attributes
    ----------
    source : str
        The expression as the author wrote it.
    names : frozenset of str
        Parameter names it reads (functions and constants excluded).
    where : str
        Where it was written ("problems/x.yaml: problem 'p': field 'answer'"), for messages.
    """

    source: str
    names: frozenset[str]
    where: str
    code: Any

    def evaluate_cached(self, env: Mapping[str, Any], memo: dict[str, Any]) -> Any:
        """Evaluate once per ``memo``: expressions with the same text over the same ``env``
        (one variant) share their value, which keeps the built-in families cheap."""
        try:
            return memo[self.source]
        except KeyError:
            value = memo[self.source] = self.evaluate(env)
            return value

    def evaluate(self, env: Mapping[str, Any]) -> Any:
        """Evaluate with the parameter values in ``env``; errors become ExpressionError."""
        scope = {**_BASE_SCOPE, **env}
        try:
            return eval(self.code, scope)  # noqa: S307 - a whitelisted tree, builtins removed
        except ExpressionError:
            raise
        except Exception as exc:  # any failure inside an author's expression is a spec error
            raise ExpressionError(
                f"{self.where}: expression {self.source!r} failed: {type(exc).__name__}: {exc}"
            ) from exc


_BASE_SCOPE: dict[str, Any] = {"__builtins__": {}, **FUNCTIONS, **CONSTANTS, **_PRIVATE}


class _Guard(ast.NodeTransformer):
    """Route ``**`` and ``*`` through the size-checking helpers."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        helper = {ast.Pow: "_safe_pow", ast.Mult: "_safe_mul"}.get(type(node.op))
        if helper is None:
            return node
        call = ast.Call(func=ast.Name(id=helper, ctx=ast.Load()), args=[node.left, node.right],
                        keywords=[])
        return ast.copy_location(call, node)


def _check_node(node: ast.AST, source: str, where: str) -> None:
    if not isinstance(node, _ALLOWED_NODES):
        raise ExpressionError(
            f"{where}: expression {source!r} uses {type(node).__name__}, which is not allowed "
            "(only arithmetic, comparisons, conditionals, lists, subscripts and whitelisted calls)"
        )
    if isinstance(node, ast.Name) and node.id.startswith("_"):
        raise ExpressionError(f"{where}: expression {source!r}: name {node.id!r} is not allowed")
    if isinstance(node, ast.Constant) and not isinstance(
        node.value, (int, float, str, bool, type(None))
    ):
        raise ExpressionError(f"{where}: expression {source!r}: constant {node.value!r} not allowed")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            raise ExpressionError(
                f"{where}: expression {source!r} calls {name!r}, which is not an allowed function"
            )
        if any(kw.arg is None for kw in node.keywords):
            raise ExpressionError(f"{where}: expression {source!r}: '**' arguments not allowed")


def _free_names(tree: ast.AST) -> frozenset[str]:
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call)
              and isinstance(n.func, ast.Name)}
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    return frozenset(names - called - set(CONSTANTS))


def compile_expr(
    source: Any, where: str, known: Iterable[str] | None = None
) -> Expr:
    """Parse, check and compile one expression.

    Parameters
    ----------
    source : str or number
        The expression text (numbers and booleans written directly in YAML are accepted).
    where : str
        File, problem and field, used in every error message.
    known : iterable of str, optional
        Names that are defined when it is evaluated; any other name is an error.

    Raises
    ------
    ExpressionError
        On a syntax error, a construct outside the whitelist, or an unknown name.
    """
    if isinstance(source, bool) or isinstance(source, (int, float)):
        source = repr(source)
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError(f"{where}: expected an expression (text), got {source!r}")
    text = source.strip()
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"{where}: expression {text!r} is not valid: {exc.msg}") from exc
    for node in ast.walk(tree):
        _check_node(node, text, where)
    names = _free_names(tree)
    if known is not None:
        unknown = sorted(names - set(known))
        if unknown:
            raise ExpressionError(
                f"{where}: expression {text!r} uses undefined name(s) {', '.join(unknown)}"
            )
    guarded = ast.fix_missing_locations(_Guard().visit(tree))
    code = compile(guarded, f"<{where}>", "eval")
    return Expr(source=text, names=names, where=where, code=code)


# ---------------------------------------------------------------------------------------------
# Values


def to_jsonable(value: Any) -> Any:
    """Convert an expression result to plain JSON data (ints, floats, str, bool, nested lists).

    NumPy integer arrays become nested lists of ints, float arrays nested lists of floats;
    tuples become lists; NumPy scalars become Python scalars.
    """
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    return value


def same_value(a: Any, b: Any, atol: float = 1e-9, rtol: float = 1e-9) -> bool:
    """Whether two JSON-able values are equal, numbers compared with a small tolerance."""
    if type(a) is type(b) and a == b:
        return True
    if isinstance(a, (list, tuple)) or isinstance(b, (list, tuple)):
        if not (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple))) or len(a) != len(b):
            return False
        return all(same_value(x, y, atol, rtol) for x, y in zip(a, b, strict=True))
    if isinstance(a, bool) or isinstance(b, bool) or isinstance(a, str) or isinstance(b, str):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return math.isclose(a, b, rel_tol=rtol, abs_tol=atol)
    return a == b
