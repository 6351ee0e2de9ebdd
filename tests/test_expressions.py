"""The safe expression language of the problem bank: what it allows, refuses and computes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader.errors import ExpressionError
from grader.expressions import compile_expr, round_half_up, same_value, to_jsonable

WHERE = "problems/x.yaml: problem 'p': field 'answer'"


def value(source: str, **env):
    return compile_expr(source, WHERE, known=env.keys()).evaluate(env)


@pytest.mark.parametrize(("source", "env", "expected"), [
    ("(f * f * c + 1) * k", {"f": 3, "c": 3, "k": 10}, 280),
    ("output_size(n, f, s, p)", {"n": 63, "f": 7, "s": 2, "p": 0}, 29),
    ("conv_output_shape(n, n, f, s, p, k)", {"n": 63, "f": 7, "s": 2, "p": 0, "k": 32},
     (29, 29, 32)),
    ("floor(7 / 2) + ceil(7 / 2)", {}, 7),
    ("round(2.5) + round(3.5)", {}, 7),
    ("log10(10 ** 12)", {}, 12),
    ("'a' if n > 2 else 'b'", {"n": 3}, "a"),
    ("[1, 2, 3][i]", {"i": 1}, 2),
    ("x[1:]", {"x": [4, 5, 6]}, [5, 6]),
    ("n % s != 0 and not n < 0", {"n": 7, "s": 2}, True),
    ("same_padding(7)", {}, 3),
    ("fc_params(n, m)", {"n": 300 * 300 * 3, "m": 100}, 27_000_100),
    ("adaptive_pool_params(10, 3)", {}, (4, 3)),
    ("min(3, 4) + max([1, 9]) + abs(-2) + len([1, 2])", {}, 16),
])
def test_allowed_expressions_compute(source, env, expected):
    assert to_jsonable(value(source, **env)) == to_jsonable(expected)


def test_reference_convolutions_are_available():
    x, w = np.array([1, 2, 3]), np.array([2, 1])
    assert value("convolve1d(x, w)", x=x, w=w).tolist() == [2, 5, 8, 3]
    assert value("correlate1d(x, w, 'valid')", x=x, w=w).tolist() == [4, 7]
    img = np.array([[1, 2, 1], [2, 1, 1], [1, 1, 1]])
    k = np.array([[1, 0.5], [0.5, 1]])
    assert value("matsum(correlate2d(img, k))", img=img, k=k) == 15
    assert value("entry(convolve2d(img, k, 'valid'), 1, 1)", img=img, k=k) == 3


def test_array_helpers():
    m = np.array([[1, 2], [3, 4]])
    assert value("transpose(m)", m=m).tolist() == [[1, 3], [2, 4]]
    assert value("flip(m)", m=m).tolist() == [[4, 3], [2, 1]]
    assert value("rot90(m)", m=m).tolist() == [[2, 4], [1, 3]]
    assert value("shape_of(m)", m=m) == [2, 2]
    assert value("mean(m)", m=m) == 2.5
    assert value("step_image(2, 4, 2, 10, 0)").tolist() == [[10, 10, 0, 0]] * 2
    assert value("pad_sides([1, 2], 1, 0)").tolist() == [0, 1, 2]
    assert value("pool2d(m, 2, 2)", m=m).tolist() == [[4]]
    assert value("pool2d(m, 2, 2, 'average')", m=m).tolist() == [[2.5]]


@pytest.mark.parametrize(("source", "message"), [
    ("x.real", "uses Attribute"),
    ("__import__('os')", "calls '__import__'"),
    ("open('/etc/passwd')", "calls 'open'"),
    ("_safe_pow(2, 3)", "calls '_safe_pow'"),
    ("__builtins__", "name '__builtins__' is not allowed"),
    ("(lambda: 1)()", "not an allowed function"),
    ("[lambda: 1]", "uses Lambda"),
    ("[a for a in [1]]", "uses ListComp"),
    ("{'a': 1}", "uses Dict"),
    ("f(*[1])", "calls 'f'"),
    ("max(*[1, 2])", "uses Starred"),
    ("max(**{'a': 1})", "not allowed"),
    ("x := 3", "not valid"),
    ("1 +", "not valid"),
    ("", "expected an expression"),
    ("n + q", "undefined name"),
])
def test_refused_expressions_name_the_place_and_the_expression(source, message):
    with pytest.raises(ExpressionError, match=message) as info:
        compile_expr(source, WHERE, known=["n"])
    assert str(info.value).startswith(WHERE)


def test_runtime_errors_name_the_expression():
    with pytest.raises(ExpressionError, match=r"field 'answer': expression 'n / 0' failed: "
                                              r"ZeroDivisionError"):
        value("n / 0", n=1)
    with pytest.raises(ExpressionError, match="output_size"):
        value("output_size(3, 5)")


@pytest.mark.parametrize("source", ["10 ** 100", "2 ** 10 ** 10", "(10 ** 60) ** 60",
                                    "[0] * 10 ** 9", "'ab' * 100000"])
def test_huge_values_are_refused_not_computed(source):
    with pytest.raises(ExpressionError, match="too large|too long|larger than 64"):
        value(source)


def test_builtins_are_not_reachable():
    with pytest.raises(ExpressionError, match="undefined name"):
        compile_expr("print", WHERE, known=[])
    # without a list of known names, an unknown name fails when evaluated, not before
    with pytest.raises(ExpressionError, match="NameError"):
        compile_expr("eval", WHERE).evaluate({})


def test_round_half_up_is_not_bankers_rounding():
    assert [round_half_up(x) for x in (0.5, 1.5, 2.5, -0.5)] == [1, 2, 3, 0]
    assert round_half_up(np.array([0.5, 2.5])).tolist() == [1, 3]


def test_to_jsonable_and_same_value():
    assert to_jsonable((np.int64(3), np.array([[1.5, 2.0]]))) == [3, [[1.5, 2.0]]]
    assert isinstance(to_jsonable(np.array([1, 2]))[0], int)
    assert same_value([1, 2.0000000001], [1, 2])
    assert not same_value([1, 2], [1, 2, 3])
    assert not same_value(True, 1)
    assert not same_value("a", ["a"])


@given(st.integers(-10**6, 10**6), st.integers(-10**6, 10**6), st.integers(1, 1000))
def test_arithmetic_matches_python(a, b, c):
    assert value("(a + b) * c - a // c + a % c", a=a, b=b, c=c) == (a + b) * c - a // c + a % c
    assert value("floor(a / c)", a=a, c=c) == math.floor(a / c)


@given(st.text(max_size=40))
def test_any_text_compiles_or_raises_expression_error(text):
    try:
        compile_expr(text, WHERE, known=["n", "x"])
    except ExpressionError:
        pass
