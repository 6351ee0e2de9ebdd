"""The size and parameter-count formulas: worked instances, properties and messages."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from grader.formulas import (
    ConvLayer,
    FCLayer,
    LayerRow,
    PoolLayer,
    conv_output_shape,
    conv_params,
    fc_params,
    network_table,
    output_size,
    pool_output_shape,
    pool_params,
    same_padding,
)

# --- worked instances of the course checklist (topics rows 1-6 and 14) -----------------------


def test_fc_vs_conv_params_row1():
    assert fc_params(300 * 300 * 3, 100) == 27_000_100
    connections = fc_params(1000 * 1000, 1000 * 1000, bias=False)
    assert connections == 10**12
    assert math.log10(connections) == 12
    assert conv_params(11, 1, 1, bias=False) == 121


def test_conv_params_row2():
    assert conv_params(3, 3, 10) == 280
    assert conv_params(5, 3, 100) == 7_600


def test_conv_output_volume_row3():
    assert conv_output_shape(63, 63, 7, 2, 0, 32) == (29, 29, 32)
    assert output_size(6, 3) == 4


def test_padding_row4():
    # Padding adds 2p to n_H and n_W: a 1x1 identity "filter" sees the padded volume.
    assert conv_output_shape(15, 15, 1, 1, 2, 8) == (19, 19, 8)


def test_same_padding_row5():
    assert same_padding(7) == 3
    assert output_size(20, 7, 1, same_padding(7)) == 20


def test_pool_output_volume_row6():
    assert pool_output_shape(32, 32, 16, 2, 2) == (16, 16, 16)
    assert pool_output_shape(5, 5, 1, 3, 1)[:2] == (3, 3)
    assert pool_params() == 0


LENET = [
    ConvLayer("CONV1", f=5, stride=1, pad=0, n_filters=8),
    PoolLayer("POOL1", f=2, stride=2),
    ConvLayer("CONV2", f=5, stride=1, pad=0, n_filters=16),
    PoolLayer("POOL2", f=2, stride=2),
    FCLayer("FC3", 120),
    FCLayer("FC4", 84),
    FCLayer("softmax", 10),
]

LENET_TABLE = [
    ("input", (32, 32, 3), 3072, 0),
    ("CONV1", (28, 28, 8), 6272, 608),
    ("POOL1", (14, 14, 8), 1568, 0),
    ("CONV2", (10, 10, 16), 1600, 3216),
    ("POOL2", (5, 5, 16), 400, 0),
    ("FC3", (120,), 120, 48_120),
    ("FC4", (84,), 84, 10_164),
    ("softmax", (10,), 10, 850),
]


@pytest.mark.parametrize("index", range(len(LENET_TABLE)))
def test_lenet_table_row14_cell_by_cell(index):
    row = network_table((32, 32, 3), LENET)[index]
    name, shape, size, params = LENET_TABLE[index]
    assert row.name == name
    assert row.shape == shape
    assert row.size == size
    assert row.params == params


def test_network_table_rows_are_frozen_layerrows():
    rows = network_table((32, 32, 3), LENET)
    assert len(rows) == len(LENET) + 1
    assert all(isinstance(row, LayerRow) for row in rows)
    with pytest.raises(AttributeError):
        rows[0].size = 1  # type: ignore[misc]


def test_network_table_accepts_numpy_integers_and_flat_input():
    rows = network_table((np.int64(10),), [FCLayer("out", np.int32(3))])
    assert rows[-1] == LayerRow("out", (3,), 3, 33)


# --- properties --------------------------------------------------------------------------------


@st.composite
def geometry(draw):
    """Consistent (n, f, s, p): the filter always fits in the padded input."""
    n = draw(st.integers(1, 60))
    p = draw(st.integers(0, 5))
    f = draw(st.integers(1, n + 2 * p))
    s = draw(st.integers(1, 7))
    return n, f, s, p


@given(geometry())
def test_output_size_counts_the_windows_that_fit(g):
    n, f, s, p = g
    starts = [start for start in range(0, n + 2 * p, s) if start + f <= n + 2 * p]
    assert output_size(n, f, s, p) == len(starts)


@given(st.integers(0, 30), st.integers(1, 200))
def test_same_padding_keeps_size_at_stride_1(half, n):
    f = 2 * half + 1
    p = same_padding(f)
    if f <= n + 2 * p:
        assert output_size(n, f, 1, p) == n


@given(st.integers(1, 11), st.integers(1, 64), st.integers(1, 64))
def test_conv_params_are_weights_plus_one_bias_per_filter(f, c, k):
    assert conv_params(f, c, k) - conv_params(f, c, k, bias=False) == k
    assert conv_params(f, c, k, bias=False) == f * f * c * k


# --- validation messages -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: output_size(5, 7, 1, 0),
         r"filter of size 7 is larger than the input of size 5 \(n=5, pad=0\)"),
        (lambda: output_size(3, 7, 1, 1),
         r"filter of size 7 is larger than the padded input of size 5 \(n=3, pad=1\)"),
        (lambda: output_size(5, 3, 0, 0), r"stride must be a positive integer, got 0"),
        (lambda: output_size(5, 3, 1, -1), r"pad must be an integer >= 0, got -1"),
        (lambda: output_size(0, 3), r"n must be a positive integer, got 0"),
        (lambda: output_size(5, 0), r"f must be a positive integer, got 0"),
        (lambda: output_size(5, 3, True), r"stride must be an integer, got True \(bool\)"),
        (lambda: output_size(5.0, 3), r"n must be an integer, got 5.0 \(float\)"),
        (lambda: same_padding(4), r"'same' padding needs an odd filter size, got f=4"),
        (lambda: conv_params(3, 0, 8), r"n_c_prev must be a positive integer, got 0"),
        (lambda: fc_params(10, -2), r"n_out must be a positive integer, got -2"),
        (lambda: network_table((32, 32), []),
         r"input_shape must be \(n_H, n_W, n_C\) or \(n,\), got \(32, 32\)"),
        (lambda: network_table((10,), [ConvLayer("C", 3, 1, 0, 4)]),
         r"conv layer 'C' needs a 3D input volume, got \(10,\)"),
        (lambda: network_table((10,), [PoolLayer("P", 2, 2)]),
         r"pool layer 'P' needs a 3D input volume, got \(10,\)"),
        (lambda: network_table((8, 8, 1), [PoolLayer("P", 2, 2, mode="min")]),
         r"pool layer 'P': mode must be 'max' or 'average', got 'min'"),
        (lambda: network_table((8, 8, 1), ["dense"]),
         r"unknown layer 'dense': expected ConvLayer, PoolLayer or FCLayer"),
        (lambda: network_table((8, 8, 1), [FCLayer("FC", 0)]),
         r"units of 'FC' must be a positive integer, got 0"),
    ],
)
def test_validation_messages(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_docstring_examples_hold():
    import doctest

    import grader.formulas as formulas

    result = doctest.testmod(formulas)
    assert result.attempted >= 8
    assert result.failed == 0
