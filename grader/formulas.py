"""Size and parameter-count formulas of convolutional networks, on plain integers.

Every function validates its arguments first and raises ``ValueError`` whose message echoes the
offending values. Integers may be Python ``int`` or NumPy integer scalars; ``bool`` and floats are
refused, since ``True`` as a stride or ``2.0`` as a filter size is almost always a slip.

Notation follows the course: ``n`` is an input size along one axis, ``f`` the filter (window)
size, ``s`` the stride, ``p`` the zero padding added on each side, ``n_C`` a channel count.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "ConvLayer",
    "FCLayer",
    "LayerRow",
    "PoolLayer",
    "check_int",
    "conv_output_shape",
    "conv_params",
    "fc_params",
    "network_table",
    "output_size",
    "pool_output_shape",
    "pool_params",
    "same_padding",
]


def check_int(name: str, value: object, *, minimum: int | None = None) -> int:
    """Return ``value`` as a Python int, or raise ``ValueError`` naming it.

    Parameters
    ----------
    name : str
        The argument's name, used in the message.
    value : object
        A Python int or NumPy integer scalar (``bool`` is refused).
    minimum : int, optional
        The smallest allowed value.

    Returns
    -------
    int
        ``int(value)``.

    Raises
    ------
    ValueError
        If ``value`` is not an integer, or is smaller than ``minimum``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    value = int(value)
    if minimum is not None and value < minimum:
        kind = "a positive integer" if minimum == 1 else f"an integer >= {minimum}"
        raise ValueError(f"{name} must be {kind}, got {value}")
    return value


def output_size(n: int, f: int, stride: int = 1, pad: int = 0) -> int:
    """Output size along one axis of a convolution or pooling window.

    Parameters
    ----------
    n : int
        Input size along the axis (``n_H_prev`` or ``n_W_prev``), positive.
    f : int
        Filter size, positive and at most ``n + 2 * pad``.
    stride : int, default 1
        Step between windows, positive.
    pad : int, default 0
        Zeros added on each side, non-negative.

    Returns
    -------
    int
        ``floor((n + 2 * pad - f) / stride) + 1``.

    Raises
    ------
    ValueError
        If a value is out of range or the filter does not fit in the padded input.

    Notes
    -----
    The division floors: a window that would hang over the padded edge is dropped.

    Examples
    --------
    >>> output_size(63, 7, stride=2)
    29
    >>> output_size(6, 3)
    4
    """
    n = check_int("n", n, minimum=1)
    f = check_int("f", f, minimum=1)
    stride = check_int("stride", stride, minimum=1)
    pad = check_int("pad", pad, minimum=0)
    if f > n + 2 * pad:
        what = "padded input" if pad else "input"
        raise ValueError(
            f"filter of size {f} is larger than the {what} of size {n + 2 * pad} "
            f"(n={n}, pad={pad})"
        )
    return (n + 2 * pad - f) // stride + 1


def output_size_exact(n: int, f: int, stride: int = 1, pad: int = 0) -> float:
    """``(n + 2 * pad - f) / stride + 1`` without the floor: the size a student gives who
    forgets to round down (checked like :func:`output_size`)."""
    output_size(n, f, stride, pad)
    return (n + 2 * pad - f) / stride + 1


def same_padding(f: int) -> int:
    """Padding that keeps the size unchanged at stride 1 ("same" convolution).

    Parameters
    ----------
    f : int
        Filter size, positive and odd.

    Returns
    -------
    int
        ``(f - 1) // 2``.

    Raises
    ------
    ValueError
        If ``f`` is not positive, or is even (no symmetric padding keeps the size).

    Examples
    --------
    >>> same_padding(7)
    3
    """
    f = check_int("f", f, minimum=1)
    if f % 2 == 0:
        raise ValueError(
            f"'same' padding needs an odd filter size, got f={f}: "
            f"(f - 1) / 2 = {(f - 1) / 2} is not a whole number of zeros per side"
        )
    return (f - 1) // 2


def conv_params(f: int, n_c_prev: int, n_filters: int, bias: bool = True) -> int:
    """Number of learnable parameters of a conv layer.

    Parameters
    ----------
    f : int
        Filter size (filters are ``f x f x n_c_prev``).
    n_c_prev : int
        Channels of the input volume.
    n_filters : int
        Number of filters ``k`` (the output channels).
    bias : bool, default True
        Whether each filter has a bias.

    Returns
    -------
    int
        ``(f * f * n_c_prev + 1) * k`` with bias, ``f * f * n_c_prev * k`` without.

    Examples
    --------
    >>> conv_params(3, 3, 10)
    280
    >>> conv_params(5, 3, 100)
    7600
    """
    f = check_int("f", f, minimum=1)
    n_c_prev = check_int("n_c_prev", n_c_prev, minimum=1)
    n_filters = check_int("n_filters", n_filters, minimum=1)
    return (f * f * n_c_prev + int(bool(bias))) * n_filters


def fc_params(n_in: int, n_out: int, bias: bool = True) -> int:
    """Number of learnable parameters of a fully connected layer.

    Parameters
    ----------
    n_in : int
        Input units ``a``.
    n_out : int
        Output units ``b``.
    bias : bool, default True
        Whether each output unit has a bias.

    Returns
    -------
    int
        ``a * b + b`` with bias, ``a * b`` without.

    Examples
    --------
    >>> fc_params(300 * 300 * 3, 100)
    27000100
    """
    n_in = check_int("n_in", n_in, minimum=1)
    n_out = check_int("n_out", n_out, minimum=1)
    return n_in * n_out + (n_out if bias else 0)


def pool_params() -> int:
    """Number of learnable parameters of a pooling layer: always 0.

    Returns
    -------
    int
        ``0``; pooling has hyperparameters (``f``, ``stride``) but nothing to learn.
    """
    return 0


def conv_output_shape(
    n_h: int, n_w: int, f: int, stride: int, pad: int, n_filters: int
) -> tuple[int, int, int]:
    """Output volume ``(n_H, n_W, n_C)`` of a conv layer.

    Parameters
    ----------
    n_h, n_w : int
        Input height and width.
    f, stride, pad : int
        Filter size, stride and padding.
    n_filters : int
        Number of filters, which becomes ``n_C``.

    Returns
    -------
    tuple of int
        ``(output_size(n_h, ...), output_size(n_w, ...), n_filters)``.

    Examples
    --------
    >>> conv_output_shape(63, 63, 7, 2, 0, 32)
    (29, 29, 32)
    """
    n_filters = check_int("n_filters", n_filters, minimum=1)
    return (output_size(n_h, f, stride, pad), output_size(n_w, f, stride, pad), n_filters)


def pool_output_shape(n_h: int, n_w: int, n_c: int, f: int, stride: int) -> tuple[int, int, int]:
    """Output volume ``(n_H, n_W, n_C)`` of a pooling layer (no padding).

    Parameters
    ----------
    n_h, n_w, n_c : int
        Input height, width and channels; pooling keeps ``n_c``.
    f, stride : int
        Window size and stride.

    Returns
    -------
    tuple of int
        ``(output_size(n_h, f, stride), output_size(n_w, f, stride), n_c)``.

    Examples
    --------
    >>> pool_output_shape(32, 32, 16, 2, 2)
    (16, 16, 16)
    """
    n_c = check_int("n_c", n_c, minimum=1)
    return (output_size(n_h, f, stride), output_size(n_w, f, stride), n_c)


@dataclass(frozen=True)
class ConvLayer:
    """A conv layer of ``n_filters`` filters of size ``f x f``."""

    name: str
    f: int
    stride: int
    pad: int
    n_filters: int


@dataclass(frozen=True)
class PoolLayer:
    """A pooling layer with an ``f x f`` window (no parameters)."""

    name: str
    f: int
    stride: int
    mode: str = "max"


@dataclass(frozen=True)
class FCLayer:
    """A fully connected layer; a 3D input activation is flattened first."""

    name: str
    units: int


@dataclass(frozen=True)
class LayerRow:
    """One row of a network table: the activation after the layer and its parameters."""

    name: str
    shape: tuple[int, ...]
    size: int
    params: int


Layer = ConvLayer | PoolLayer | FCLayer


def _size(shape: tuple[int, ...]) -> int:
    size = 1
    for dim in shape:
        size *= dim
    return size


def _next_row(shape: tuple[int, ...], layer: Layer) -> LayerRow:
    if isinstance(layer, ConvLayer):
        if len(shape) != 3:
            raise ValueError(f"conv layer {layer.name!r} needs a 3D input volume, got {shape}")
        out = conv_output_shape(shape[0], shape[1], layer.f, layer.stride, layer.pad,
                                layer.n_filters)
        params = conv_params(layer.f, shape[2], layer.n_filters)
    elif isinstance(layer, PoolLayer):
        if len(shape) != 3:
            raise ValueError(f"pool layer {layer.name!r} needs a 3D input volume, got {shape}")
        if layer.mode not in ("max", "average"):
            raise ValueError(f"pool layer {layer.name!r}: mode must be 'max' or 'average', "
                             f"got {layer.mode!r}")
        out = pool_output_shape(shape[0], shape[1], shape[2], layer.f, layer.stride)
        params = pool_params()
    elif isinstance(layer, FCLayer):
        units = check_int(f"units of {layer.name!r}", layer.units, minimum=1)
        out = (units,)
        params = fc_params(_size(shape), units)
    else:
        raise ValueError(f"unknown layer {layer!r}: expected ConvLayer, PoolLayer or FCLayer")
    return LayerRow(layer.name, out, _size(out), params)


def network_table(
    input_shape: Sequence[int], layers: Sequence[Layer], input_name: str = "input"
) -> tuple[LayerRow, ...]:
    """Activation shape, activation size and parameter count, layer by layer.

    Parameters
    ----------
    input_shape : sequence of int
        The input activation, e.g. ``(n_H, n_W, n_C) = (32, 32, 3)``.
    layers : sequence of ConvLayer, PoolLayer or FCLayer
        The network in order. An FC layer after a 3D activation flattens it.
    input_name : str, default "input"
        Name of the first row.

    Returns
    -------
    tuple of LayerRow
        The input row first (params 0), then one row per layer.

    Raises
    ------
    ValueError
        If a shape is invalid or a layer does not fit its input.

    Examples
    --------
    >>> rows = network_table((32, 32, 3), [ConvLayer("CONV1", 5, 1, 0, 8)])
    >>> rows[1]
    LayerRow(name='CONV1', shape=(28, 28, 8), size=6272, params=608)
    """
    shape = tuple(check_int("input_shape entry", d, minimum=1) for d in input_shape)
    if len(shape) not in (1, 3):
        raise ValueError(f"input_shape must be (n_H, n_W, n_C) or (n,), got {tuple(input_shape)}")
    rows = [LayerRow(input_name, shape, _size(shape), 0)]
    for layer in layers:
        rows.append(_next_row(rows[-1].shape, layer))
    return tuple(rows)
