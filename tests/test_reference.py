"""The NumPy reference: worked instances, independent oracles, gradient checks and messages.

Oracles: scipy.signal for the single-channel functions, the plain loops of ``loop_reference``
for the layers, and central finite differences for the backward passes.
"""

from __future__ import annotations

import loop_reference as loops
import numpy as np
import pytest
import scipy.signal
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from grader.formulas import conv_params, output_size
from grader.reference import (
    adaptive_avg_pool1d,
    adaptive_pool_params,
    conv_backward,
    conv_forward,
    conv_single_step,
    convolve1d,
    convolve2d,
    correlate1d,
    correlate2d,
    create_mask_from_window,
    distribute_value,
    pool_backward,
    pool_forward,
    zero_pad,
)

# --- worked instances of the course checklist ------------------------------------------------


def test_conv1d_row10_true_convolution():
    np.testing.assert_array_equal(convolve1d([1, 2, 3], [2, 1]), [2, 5, 8, 3])
    np.testing.assert_array_equal(convolve1d([1, 2, 3], [2, 1], mode="valid"), [5, 8])


def test_conv1d_row10_flipped_filter_is_a_correlation():
    f = [1, 3, -1, 1, -3]
    np.testing.assert_array_equal(correlate1d(f, [1, 0, -1]), [2, 2, 2])
    np.testing.assert_array_equal(correlate1d(f, [1, 0, -1], pad=1), [-3, 2, 2, 2, 1])
    # The same numbers as a true convolution with the unflipped filter g = [-1, 0, 1].
    np.testing.assert_array_equal(convolve1d(f, [-1, 0, 1], mode="valid"), [2, 2, 2])
    np.testing.assert_array_equal(convolve1d(f, [-1, 0, 1], mode="valid", pad=1),
                                  [-3, 2, 2, 2, 1])


def test_conv2d_row11():
    image = [[1, 2, 1], [2, 1, 1], [1, 1, 1]]
    kernel = [[1, 0.5], [0.5, 1]]
    for func in (correlate2d, convolve2d):
        out = func(image, kernel, mode="valid")
        np.testing.assert_array_equal(out, [[4, 4], [4, 3]])
        assert out.sum() == 15


VERTICAL = np.array([[1, 0, -1]] * 3)
LIGHT_LEFT = np.array([[10] * 3 + [0] * 3] * 6)


def test_edge_detection_row12_vertical_edge():
    out = correlate2d(LIGHT_LEFT, VERTICAL)
    np.testing.assert_array_equal(out, [[0, 30, 30, 0]] * 4)
    np.testing.assert_array_equal(correlate2d(LIGHT_LEFT[:, ::-1], VERTICAL),
                                  [[0, -30, -30, 0]] * 4)


def test_edge_detection_row12_horizontal_filter_is_the_transpose():
    out = correlate2d(LIGHT_LEFT.T, VERTICAL.T)
    np.testing.assert_array_equal(out, np.array([[0, 30, 30, 0]] * 4).T)
    # A horizontal filter sees nothing in a vertical edge.
    np.testing.assert_array_equal(correlate2d(LIGHT_LEFT, VERTICAL.T), np.zeros((4, 4)))


@pytest.mark.parametrize(("weights", "middle"), [((1, 2, 1), 40), ((3, 10, 3), 160)])
def test_edge_detection_row12_sobel_and_scharr(weights, middle):
    kernel = np.array([[w, 0, -w] for w in weights])
    np.testing.assert_array_equal(correlate2d(LIGHT_LEFT, kernel), [[0, middle, middle, 0]] * 4)


def test_edge_detection_row12_conv_forward_does_not_flip():
    Z, _ = conv_forward(LIGHT_LEFT.reshape(1, 6, 6, 1), VERTICAL.reshape(3, 3, 1, 1),
                        np.zeros((1, 1, 1, 1)), {"stride": 1, "pad": 0})
    np.testing.assert_array_equal(Z[0, :, :, 0], [[0, 30, 30, 0]] * 4)


def test_conv_params_rows1_2_match_the_reference_shapes():
    W, b = np.zeros((3, 3, 3, 10)), np.zeros((1, 1, 1, 10))
    assert W.size + b.size == conv_params(3, 3, 10) == 280


def test_conv_output_volume_row3():
    rng = np.random.default_rng(3)
    Z, _ = conv_forward(rng.standard_normal((1, 63, 63, 16)), rng.standard_normal((7, 7, 16, 32)),
                        np.zeros((1, 1, 1, 32)), {"stride": 2, "pad": 0})
    assert Z.shape == (1, 29, 29, 32)
    Z, _ = conv_forward(np.ones((1, 6, 6, 1)), np.ones((3, 3, 1, 1)), np.zeros((1, 1, 1, 1)),
                        {"stride": 1, "pad": 0})
    assert Z.shape == (1, 4, 4, 1)


def test_padding_row4():
    assert zero_pad(np.ones((1, 15, 15, 8)), 2).shape == (1, 19, 19, 8)


def test_pool_output_volume_row6():
    A, _ = pool_forward(np.ones((1, 32, 32, 16)), {"f": 2, "stride": 2})
    assert A.shape == (1, 16, 16, 16)
    A, _ = pool_forward(np.ones((1, 5, 5, 1)), {"f": 3, "stride": 1})
    assert A.shape == (1, 3, 3, 1)


def test_average_of_a_block():
    A, _ = pool_forward(np.array([1.0, 2.0, 5.0, 7.0]).reshape(1, 2, 2, 1),
                        {"f": 2, "stride": 2}, mode="average")
    assert A.item() == 3.75


@pytest.mark.parametrize(("i", "o", "kernel", "stride"),
                         [(10, 3, 4, 3), (32, 8, 4, 4), (7, 7, 1, 1), (7, 1, 7, 7), (5, 2, 3, 2)])
def test_adaptive_pooling_row18(i, o, kernel, stride):
    assert adaptive_pool_params(i, o) == (kernel, stride)
    assert output_size(i, kernel, stride) == o


@given(st.integers(1, 60), st.data())
def test_adaptive_avg_pool1d_gives_the_output_size(i, data):
    o = data.draw(st.integers(1, i))
    x = np.arange(float(i))
    out = adaptive_avg_pool1d(np.stack([x, -x]), o)
    assert out.shape == (2, o)
    kernel, stride = adaptive_pool_params(i, o)
    expected = [x[j * stride:j * stride + kernel].mean() for j in range(o)]
    np.testing.assert_allclose(out[0], expected)
    np.testing.assert_allclose(out[1], -np.array(expected))


def test_adaptive_avg_pool1d_equals_plain_averaging_when_o_divides_i():
    x = np.arange(12.0)
    np.testing.assert_allclose(adaptive_avg_pool1d(x, 4), x.reshape(4, 3).mean(axis=1))


# --- the course's small functions --------------------------------------------------------------


def test_zero_pad_pads_height_and_width_only():
    X = np.arange(2 * 3 * 4 * 5, dtype=float).reshape(2, 3, 4, 5)
    X_pad = zero_pad(X, 2)
    assert X_pad.shape == (2, 7, 8, 5)
    np.testing.assert_array_equal(X_pad[:, 2:5, 2:6, :], X)
    X_pad[:, 2:5, 2:6, :] = 0
    assert not X_pad.any()
    np.testing.assert_array_equal(zero_pad(X, 0), X)


def test_conv_single_step_is_sum_of_products_plus_bias():
    rng = np.random.default_rng(0)
    a, W = rng.standard_normal((4, 4, 3)), rng.standard_normal((4, 4, 3))
    b = np.array([[[-2.5]]])
    Z = conv_single_step(a, W, b)
    assert type(Z) is float
    assert Z == pytest.approx(float(np.sum(a * W)) - 2.5)


def test_create_mask_marks_every_tied_maximum():
    mask = create_mask_from_window(np.array([[1, 3], [3, -4]]))
    assert mask.dtype == bool
    np.testing.assert_array_equal(mask, [[False, True], [True, False]])


def test_distribute_value_spreads_evenly():
    np.testing.assert_array_equal(distribute_value(2, (2, 2)), np.full((2, 2), 0.5))
    out = distribute_value(np.float32(3.0), (1, 3))
    assert out.dtype == np.float64
    assert out.sum() == pytest.approx(3.0)


def test_conv_forward_returns_the_course_cache():
    A, W, b = np.ones((1, 3, 3, 2)), np.ones((2, 2, 2, 1)), np.zeros((1, 1, 1, 1))
    hp = {"stride": 1, "pad": 0}
    _, cache = conv_forward(A, W, b, hp)
    assert len(cache) == 4
    np.testing.assert_array_equal(cache[0], A)
    np.testing.assert_array_equal(cache[1], W)
    np.testing.assert_array_equal(cache[2], b)
    assert cache[3] is hp
    _, cache = pool_forward(A, {"f": 2, "stride": 1})
    assert len(cache) == 2


def test_forward_and_backward_leave_their_inputs_alone():
    rng = np.random.default_rng(1)
    A, W, b = rng.standard_normal((2, 5, 5, 3)), rng.standard_normal((3, 3, 3, 2)), np.ones((1,) * 3 + (2,))
    copies = [A.copy(), W.copy(), b.copy()]
    Z, cache = conv_forward(A, W, b, {"stride": 2, "pad": 1})
    dZ = np.ones_like(Z)
    conv_backward(dZ, cache)
    P, pcache = pool_forward(A, {"f": 3, "stride": 1})
    pool_backward(np.ones_like(P), pcache)
    for original, copy in zip((A, W, b), copies, strict=True):
        np.testing.assert_array_equal(original, copy)
    np.testing.assert_array_equal(dZ, 1)


def test_hyperparameters_accept_numpy_integers():
    Z, _ = conv_forward(np.ones((1, 5, 5, 1)), np.ones((3, 3, 1, 1)), np.zeros((1, 1, 1, 1)),
                        {"stride": np.int64(2), "pad": np.int32(1)})
    assert Z.shape == (1, 3, 3, 1)


def test_strides_that_do_not_divide_evenly_floor():
    # (7 + 0 - 3) / 3 = 1.33 -> 2 outputs per axis; the last column and row are never reached.
    A = np.arange(49.0).reshape(1, 7, 7, 1)
    Z, _ = conv_forward(A, np.ones((3, 3, 1, 1)), np.zeros((1, 1, 1, 1)), {"stride": 3, "pad": 0})
    assert Z.shape == (1, 2, 2, 1)
    assert Z[0, 1, 1, 0] == A[0, 3:6, 3:6, 0].sum()


# --- dtypes of the single-channel functions -------------------------------------------------------


def test_integer_inputs_give_int64_and_anything_else_float64():
    assert convolve1d([1, 2], [1]).dtype == np.int64
    assert correlate2d(np.ones((2, 2), dtype=np.int8), np.ones((1, 1), dtype=np.uint8)).dtype == np.int64
    assert convolve1d([1, 2], [0.5]).dtype == np.float64
    assert correlate2d(np.ones((2, 2), dtype=np.float32), [[1]]).dtype == np.float64


# --- property tests against independent oracles ---------------------------------------------------

FLOATS = st.floats(-10, 10, allow_nan=False, allow_infinity=False, width=64)
INTS = st.integers(-9, 9)


@st.composite
def signal_case(draw, ndim):
    """(x, k, mode, pad) with a kernel that fits the padded input when the mode is valid."""
    mode = draw(st.sampled_from(["full", "valid", "same"]))
    pad = draw(st.integers(0, 3))
    elements = draw(st.sampled_from([FLOATS, INTS]))
    dtype = np.float64 if elements is FLOATS else np.int64
    x_shape = tuple(draw(st.integers(1, 9)) for _ in range(ndim))
    if mode == "valid":
        k_shape = tuple(draw(st.integers(1, n + 2 * pad)) for n in x_shape)
    else:
        k_shape = tuple(draw(st.integers(1, 6)) for _ in range(ndim))
    x = draw(arrays(dtype, x_shape, elements=elements))
    k = draw(arrays(dtype, k_shape, elements=elements))
    return x, k, mode, pad


def _check_against_scipy(ours, theirs):
    theirs = np.asarray(theirs)
    assert ours.shape == theirs.shape
    if ours.dtype == np.int64:
        np.testing.assert_array_equal(ours, theirs)
    else:
        np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-9)


@given(signal_case(1))
def test_1d_against_scipy(case):
    x, k, mode, pad = case
    xp = np.pad(x, pad)
    _check_against_scipy(correlate1d(x, k, mode, pad), scipy.signal.correlate(xp, k, mode, "direct"))
    _check_against_scipy(convolve1d(x, k, mode, pad), scipy.signal.convolve(xp, k, mode, "direct"))


@given(signal_case(2))
def test_2d_against_scipy(case):
    x, k, mode, pad = case
    xp = np.pad(x, pad)
    _check_against_scipy(correlate2d(x, k, mode, pad), scipy.signal.correlate(xp, k, mode, "direct"))
    _check_against_scipy(convolve2d(x, k, mode, pad), scipy.signal.convolve(xp, k, mode, "direct"))


@given(signal_case(2))
def test_convolution_is_correlation_with_the_rotated_kernel(case):
    x, k, mode, pad = case
    if mode == "same" and any(f % 2 == 0 for f in k.shape):
        return  # even kernels centre differently once rotated; the scipy tests cover them
    np.testing.assert_array_equal(convolve2d(x, k, mode, pad), correlate2d(x, k[::-1, ::-1], mode, pad))


@st.composite
def conv_case(draw):
    """A small conv layer whose filter fits the padded input."""
    m, c_prev, c = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    n_H, n_W, pad = draw(st.integers(1, 7)), draw(st.integers(1, 7)), draw(st.integers(0, 2))
    f = draw(st.integers(1, min(n_H, n_W) + 2 * pad))
    stride = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    A = rng.standard_normal((m, n_H, n_W, c_prev))
    W = rng.standard_normal((f, f, c_prev, c))
    b = rng.standard_normal((1, 1, 1, c))
    return A, W, b, {"stride": stride, "pad": pad}


@st.composite
def pool_case(draw, elements=None):
    """A small pooling layer; ``elements`` draws the values (e.g. small integers, for ties)."""
    m, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    n_H, n_W = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    f, stride = draw(st.integers(1, min(n_H, n_W))), draw(st.integers(1, 3))
    mode = draw(st.sampled_from(["max", "average"]))
    if elements is None:
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        A = rng.standard_normal((m, n_H, n_W, c))
    else:
        A = draw(arrays(np.float64, (m, n_H, n_W, c), elements=elements))
    return A, {"f": f, "stride": stride}, mode


@given(conv_case())
def test_conv_forward_against_loops(case):
    A, W, b, hp = case
    Z, _ = conv_forward(A, W, b, hp)
    Z_loop, _ = loops.conv_forward(A, W, b, hp)
    assert Z.shape == Z_loop.shape
    assert Z.shape[1:3] == (output_size(A.shape[1], W.shape[0], hp["stride"], hp["pad"]),
                            output_size(A.shape[2], W.shape[0], hp["stride"], hp["pad"]))
    np.testing.assert_allclose(Z, Z_loop, rtol=1e-10, atol=1e-10)


@given(pool_case())
def test_pool_forward_against_loops(case):
    A, hp, mode = case
    out, _ = pool_forward(A, hp, mode)
    np.testing.assert_allclose(out, loops.pool_forward(A, hp, mode)[0], rtol=1e-12, atol=1e-12)


@given(conv_case())
def test_conv_backward_against_loops(case):
    A, W, b, hp = case
    Z, cache = conv_forward(A, W, b, hp)
    dZ = np.random.default_rng(7).standard_normal(Z.shape)
    for ours, theirs in zip(conv_backward(dZ, cache), loops.conv_backward(dZ, cache), strict=True):
        assert ours.shape == theirs.shape
        np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-10)


@given(pool_case(elements=st.integers(-2, 2).map(float)))
def test_pool_backward_against_loops_with_ties_and_overlaps(case):
    A, hp, mode = case
    out, cache = pool_forward(A, hp, mode)
    dA = np.random.default_rng(8).standard_normal(out.shape)
    np.testing.assert_allclose(pool_backward(dA, cache, mode), loops.pool_backward(dA, cache, mode),
                               rtol=1e-12, atol=1e-12)


# --- finite-difference gradient checks ------------------------------------------------------------


def _numeric_gradient(cost, x, eps=1e-6):
    """Central differences of the scalar ``cost()`` with respect to every entry of ``x``."""
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        saved = x[index]
        x[index] = saved + eps
        plus = cost()
        x[index] = saved - eps
        minus = cost()
        x[index] = saved
        grad[index] = (plus - minus) / (2 * eps)
    return grad


GRAD_CASES = [  # (n_H, n_W, f, stride, pad): pad 0 and > 0, stride 1 and 2, uneven strides
    (4, 5, 3, 1, 0),
    (4, 5, 3, 1, 1),
    (5, 6, 3, 2, 0),
    (5, 4, 2, 2, 1),
    (6, 5, 3, 2, 2),
]


@pytest.mark.parametrize(("n_H", "n_W", "f", "stride", "pad"), GRAD_CASES)
def test_conv_backward_matches_finite_differences(n_H, n_W, f, stride, pad):
    rng = np.random.default_rng(n_H * 100 + n_W * 10 + f + stride + pad)
    A, W = rng.standard_normal((2, n_H, n_W, 3)), rng.standard_normal((f, f, 3, 2))
    b = rng.standard_normal((1, 1, 1, 2))
    hp = {"stride": stride, "pad": pad}
    Z, cache = conv_forward(A, W, b, hp)
    G = rng.standard_normal(Z.shape)  # cost = sum(Z * G), so dZ = G

    def cost():
        return float(np.sum(conv_forward(A, W, b, hp)[0] * G))

    dA, dW, db = conv_backward(G, cache)
    for analytic, x in ((dA, A), (dW, W), (db, b)):
        np.testing.assert_allclose(analytic, _numeric_gradient(cost, x), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("mode", ["max", "average"])
@pytest.mark.parametrize(("n_H", "n_W", "f", "stride"),
                         [(4, 4, 2, 2), (5, 6, 3, 1), (6, 5, 3, 2), (7, 7, 2, 3)])
def test_pool_backward_matches_finite_differences(mode, n_H, n_W, f, stride):
    rng = np.random.default_rng(n_H * 10 + f + stride)
    A = rng.standard_normal((2, n_H, n_W, 2))  # continuous values: no ties, max is differentiable
    hp = {"f": f, "stride": stride}
    out, cache = pool_forward(A, hp, mode)
    G = rng.standard_normal(out.shape)

    def cost():
        return float(np.sum(pool_forward(A, hp, mode)[0] * G))

    np.testing.assert_allclose(pool_backward(G, cache, mode), _numeric_gradient(cost, A),
                               rtol=1e-5, atol=1e-7)


def test_pool_backward_gives_ties_the_whole_gradient_as_the_course_does():
    A = np.full((1, 2, 2, 1), 4.0)
    _, cache = pool_forward(A, {"f": 2, "stride": 2})
    np.testing.assert_array_equal(pool_backward(np.ones((1, 1, 1, 1)), cache), np.ones_like(A))


def test_pool_backward_accumulates_overlapping_windows():
    A = np.array([[0.0, 0.0, 0.0], [0.0, 9.0, 0.0], [0.0, 0.0, 0.0]]).reshape(1, 3, 3, 1)
    _, cache = pool_forward(A, {"f": 2, "stride": 1})
    dA_prev = pool_backward(np.ones((1, 2, 2, 1)), cache)
    assert dA_prev[0, 1, 1, 0] == 4.0  # the centre is the maximum of all four windows
    assert dA_prev.sum() == 4.0


# --- validation messages: one pytest.raises per message --------------------------------------------

A4 = np.ones((2, 5, 5, 4))
W3 = np.ones((3, 3, 3, 8))
B8 = np.zeros((1, 1, 1, 8))
GOOD_CONV = (np.ones((2, 3, 3, 3)), W3, B8)
HP = {"stride": 1, "pad": 0}


def _conv_cache():
    return conv_forward(*GOOD_CONV, HP)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: conv_forward(A4, W3, B8, HP),
         r"conv_forward: W has 3 input channels but A_prev has 4 "
         r"\(A_prev.shape=\(2, 5, 5, 4\), W.shape=\(3, 3, 3, 8\)\)"),
        (lambda: conv_forward(np.ones((2, 3, 3, 3)), np.ones((7, 7, 3, 8)), B8,
                              {"stride": 1, "pad": 1}),
         r"conv_forward: filter of size 7 is larger than the padded input of size 5 "
         r"\(n_H_prev=3, pad=1\)"),
        (lambda: conv_forward(np.ones((1, 9, 3, 3)), np.ones((5, 5, 3, 8)), B8, HP),
         r"filter of size 5 is larger than the input of size 3 \(n_W_prev=3, pad=0\)"),
        (lambda: conv_forward(*GOOD_CONV, {"stride": 0, "pad": 0}),
         r"conv_forward: stride must be a positive integer, got 0"),
        (lambda: conv_forward(*GOOD_CONV, {"stride": 1, "pad": -1}),
         r"pad must be an integer >= 0, got -1"),
        (lambda: conv_forward(*GOOD_CONV, {"stride": 1.0, "pad": 0}),
         r"stride must be an integer, got 1.0 \(float\)"),
        (lambda: conv_forward(*GOOD_CONV, {"stride": True, "pad": 0}),
         r"stride must be an integer, got True \(bool\)"),
        (lambda: conv_forward(*GOOD_CONV, {"stride": 1}),
         r"conv_forward: hparameters must have keys \['stride', 'pad'\], got keys \['stride'\]"),
        (lambda: conv_forward(*GOOD_CONV, [1, 0]),
         r"hparameters must be a dict with keys \['stride', 'pad'\], got list \[1, 0\]"),
        (lambda: conv_forward(np.ones((3, 3, 3)), W3, B8, HP),
         r"conv_forward: A_prev must have shape \(m, n_H_prev, n_W_prev, n_C_prev\) with every "
         r"size >= 1, got shape \(3, 3, 3\)"),
        (lambda: conv_forward(np.ones((2, 3, 3, 3)), np.ones((3, 2, 3, 8)), B8, HP),
         r"W must hold square f x f filters, got W.shape=\(3, 2, 3, 8\)"),
        (lambda: conv_forward(np.ones((2, 3, 3, 3)), W3, np.zeros((1, 1, 1, 4)), HP),
         r"b must have shape \(1, 1, 1, 8\) for 8 filters, got b.shape=\(1, 1, 1, 4\)"),
        (lambda: conv_forward(np.array([[[["a"]]]]), W3, B8, HP),
         r"A_prev must hold real numbers, got dtype <U1"),
        (lambda: zero_pad(np.ones((1, 2, 2, 1)), -2),
         r"zero_pad: pad must be an integer >= 0, got -2"),
        (lambda: conv_single_step(np.ones((2, 2, 3)), np.ones((3, 3, 3)), 0.0),
         r"a_slice_prev and W must have the same shape, got a_slice_prev.shape=\(2, 2, 3\), "
         r"W.shape=\(3, 3, 3\)"),
        (lambda: conv_single_step(np.ones((2, 2, 3)), np.ones((2, 2, 3)), np.zeros(2)),
         r"b must hold exactly one real number, got shape \(2,\)"),
        (lambda: pool_forward(np.ones((1, 3, 3, 1)), {"f": 4, "stride": 1}),
         r"pool_forward: filter of size 4 is larger than the input of size 3 "
         r"\(n_H_prev=3, pad=0\)"),
        (lambda: pool_forward(np.ones((1, 3, 3, 1)), {"f": 2, "stride": 0}),
         r"pool_forward: stride must be a positive integer, got 0"),
        (lambda: pool_forward(np.ones((1, 3, 3, 1)), {"f": 2}),
         r"hparameters must have keys \['f', 'stride'\], got keys \['f'\]"),
        (lambda: pool_forward(np.ones((1, 3, 3, 1)), {"f": 2, "stride": 1}, mode="min"),
         r"pool_forward: mode must be 'max' or 'average', got 'min'"),
        (lambda: conv_backward(np.ones((2, 2, 2, 8)), _conv_cache()[1]),
         r"conv_backward: dZ must have the shape of Z, \(2, 1, 1, 8\), got \(2, 2, 2, 8\)"),
        (lambda: conv_backward(np.ones((2, 1, 1, 8)), _conv_cache()[1][:3]),
         r"conv_backward: cache must be the tuple \(A_prev, W, b, hparameters\) returned by the "
         r"forward pass, got tuple of length 3"),
        (lambda: pool_backward(np.ones((1, 2, 2, 1)), (np.ones((1, 3, 3, 1)), {"f": 2, "stride": 2})),
         r"pool_backward: dA must have the shape of the pooled output, \(1, 1, 1, 1\), "
         r"got \(1, 2, 2, 1\)"),
        (lambda: create_mask_from_window(np.ones(3)),
         r"create_mask_from_window: x must have shape \(f, f\)"),
        (lambda: distribute_value([1.0, 2.0], (2, 2)),
         r"distribute_value: dz must be one real number, got \[1.0, 2.0\]"),
        (lambda: distribute_value(1.0, (2,)), r"distribute_value: shape must be \(n_H, n_W\)"),
        (lambda: distribute_value(1.0, (2, 0)), r"n_W must be a positive integer, got 0"),
        (lambda: convolve1d([1, 2], [1], mode="circular"),
         r"convolve1d: mode must be 'full', 'valid' or 'same', got 'circular'"),
        (lambda: correlate1d([1, 2], [1, 2, 3]),
         r"correlate1d: filter of size 3 is larger than the input of size 2 \(n=2, pad=0\)"),
        (lambda: correlate2d(np.ones((4, 2)), np.ones((3, 3))),
         r"filter of size 3 is larger than the input of size 2 \(n_W=2, pad=0\)"),
        (lambda: convolve2d(np.ones(4), np.ones((1, 1))),
         r"convolve2d: x must have shape \(n_H, n_W\) with every size >= 1, got shape \(4,\)"),
        (lambda: correlate2d(np.ones((2, 2)), np.ones((1, 1)), pad=0.5),
         r"correlate2d: pad must be an integer, got 0.5"),
        (lambda: correlate1d([1 + 2j], [1]), r"x must hold real numbers, got dtype complex128"),
        (lambda: adaptive_pool_params(3, 5),
         r"adaptive_pool_params: output_size=5 is larger than input_size=3"),
        (lambda: adaptive_pool_params(3, 0), r"output_size must be a positive integer, got 0"),
        (lambda: adaptive_avg_pool1d(np.ones((2, 0)), 1),
         r"adaptive_avg_pool1d: x must be a non-empty real array, got shape \(2, 0\)"),
    ],
)
def test_validation_messages(call, message):
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("block_bytes", [1, 4096, 1 << 30])
def test_conv_forward_blocking_does_not_change_the_result(monkeypatch, block_bytes):
    # Tiny blocks split every sample into row blocks; huge ones take several samples at once.
    import grader.reference as reference

    rng = np.random.default_rng(5)
    A, W, b = rng.standard_normal((3, 9, 8, 2)), rng.standard_normal((3, 3, 2, 4)), rng.standard_normal((1, 1, 1, 4))
    hp = {"stride": 2, "pad": 1}
    monkeypatch.setattr(reference, "_IM2COL_BYTES", block_bytes)
    np.testing.assert_allclose(conv_forward(A, W, b, hp)[0], loops.conv_forward(A, W, b, hp)[0],
                               rtol=1e-10, atol=1e-10)


def test_docstring_examples_hold():
    import doctest

    import grader.reference as reference

    result = doctest.testmod(reference, extraglobs={"np": np})
    assert result.attempted >= 15
    assert result.failed == 0


def test_read_only_and_integer_inputs_work_and_give_float64():
    A = np.arange(2 * 5 * 5 * 2).reshape(2, 5, 5, 2)
    W = np.ones((3, 3, 2, 3), dtype=np.int32)
    b = np.zeros((1, 1, 1, 3), dtype=np.int64)
    for array in (A, W, b):
        array.flags.writeable = False
    Z, cache = conv_forward(A, W, b, {"stride": 1, "pad": 1})
    assert Z.dtype == np.float64
    dA, dW, db = conv_backward(np.ones_like(Z), cache)
    assert dA.dtype == dW.dtype == db.dtype == np.float64
    P, pcache = pool_forward(A, {"f": 2, "stride": 1}, mode="average")
    assert P.dtype == np.float64
    assert pool_backward(np.ones_like(P), pcache, mode="average").dtype == np.float64
    np.testing.assert_allclose(Z, loops.conv_forward(A, W, b, {"stride": 1, "pad": 1})[0])
