"""The NumPy reference: convolution and pooling, forward and backward, vectorized.

The API and layout are the deep-learning course's, so code written for its exercises can be
compared function by function:

- activations ``A`` have shape ``(m, n_H, n_W, n_C)``: batch, height, width, channels;
- conv weights ``W`` have shape ``(f, f, n_C_prev, n_C)`` and biases ``b`` shape ``(1, 1, 1, n_C)``;
- conv hyperparameters are ``{"stride": s, "pad": p}``, pooling ones ``{"f": f, "stride": s}``.

No function loops in Python over output positions. The forward passes gather every window with
``numpy.lib.stride_tricks.sliding_window_view`` (a view, no copy) and contract it with one matrix
product (im2col); the backward passes and pooling loop at most over the ``f * f`` offsets inside a
window, each step touching every output position at once.

Inputs are validated before any arithmetic; a bad shape, a channel mismatch, a filter larger than
the padded input or a non-positive stride raises ``ValueError`` whose message echoes the values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from grader.formulas import check_int

__all__ = [
    "adaptive_avg_pool1d",
    "adaptive_pool_params",
    "conv_backward",
    "conv_forward",
    "conv_single_step",
    "convolve1d",
    "convolve2d",
    "correlate1d",
    "correlate2d",
    "create_mask_from_window",
    "distribute_value",
    "pool_backward",
    "pool_forward",
    "zero_pad",
]

MODES = ("full", "valid", "same")
POOL_MODES = ("max", "average")

# Rows of the im2col matrix built at once: large enough for an efficient matrix product, small
# enough that the gathered windows stay in cache instead of streaming through memory.
_IM2COL_BYTES = 1 << 21


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------

def _as_real_array(func: str, name: str, x: Any, ndim: int, layout: str) -> np.ndarray:
    """Return ``x`` as an ndarray of real numbers with ``ndim`` non-empty axes."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "iuf":
        raise ValueError(
            f"{func}: {name} must hold real numbers, got dtype {arr.dtype} "
            f"(an array of shape {arr.shape})"
        )
    if arr.ndim != ndim or 0 in arr.shape:
        raise ValueError(f"{func}: {name} must have shape {layout} with every size >= 1, "
                         f"got shape {arr.shape}")
    return arr


def _as_float(func: str, name: str, x: Any, ndim: int, layout: str) -> np.ndarray:
    return _as_real_array(func, name, x, ndim, layout).astype(np.float64, copy=False)


def _hparam(func: str, hparameters: Any, key: str, keys: tuple[str, ...], minimum: int) -> int:
    """Read one integer hyperparameter, naming the function and the key on failure."""
    if not isinstance(hparameters, Mapping):
        raise ValueError(f"{func}: hparameters must be a dict with keys {list(keys)}, "
                         f"got {type(hparameters).__name__} {hparameters!r}")
    if key not in hparameters:
        raise ValueError(f"{func}: hparameters must have keys {list(keys)}, "
                         f"got keys {sorted(map(str, hparameters))}")
    try:
        return check_int(key, hparameters[key], minimum=minimum)
    except ValueError as err:
        raise ValueError(f"{func}: {err}") from None


def _check_fits(func: str, f: int, n: int, pad: int, axis_name: str) -> None:
    if f > n + 2 * pad:
        what = "padded input" if pad else "input"
        raise ValueError(f"{func}: filter of size {f} is larger than the {what} of size "
                         f"{n + 2 * pad} ({axis_name}={n}, pad={pad})")


def _out_size(n: int, f: int, stride: int, pad: int) -> int:
    return (n + 2 * pad - f) // stride + 1


def _windows(A: np.ndarray, f: int, stride: int) -> np.ndarray:
    """View of every ``f x f`` window of ``A`` (m, n_H, n_W, n_C) at the given stride.

    The result has shape ``(m, n_H_out, n_W_out, n_C, f, f)`` and shares memory with ``A``.
    """
    return sliding_window_view(A, (f, f), axis=(1, 2))[:, ::stride, ::stride]


def _offset_slice(i: int, j: int, stride: int, n_H: int, n_W: int) -> tuple[slice, ...]:
    """Positions of window offset ``(i, j)`` for every output position, as one strided slice."""
    return (slice(None), slice(i, i + stride * (n_H - 1) + 1, stride),
            slice(j, j + stride * (n_W - 1) + 1, stride), slice(None))


# --------------------------------------------------------------------------------------------
# The course's functions
# --------------------------------------------------------------------------------------------

def zero_pad(X: Any, pad: int) -> np.ndarray:
    """Pad the height and width of a batch of images with zeros.

    Parameters
    ----------
    X : array_like, shape (m, n_H, n_W, n_C)
        A batch of ``m`` images.
    pad : int
        Zeros added on each side of ``n_H`` and ``n_W``; non-negative.

    Returns
    -------
    X_pad : ndarray, shape (m, n_H + 2 * pad, n_W + 2 * pad, n_C)
        ``X`` with zero borders; the batch and channel axes are untouched.

    Raises
    ------
    ValueError
        If ``X`` is not 4D or ``pad`` is not a non-negative integer.

    Examples
    --------
    >>> zero_pad(np.ones((4, 3, 3, 2)), 2).shape
    (4, 7, 7, 2)
    """
    X = _as_real_array("zero_pad", "X", X, 4, "(m, n_H, n_W, n_C)")
    try:
        pad = check_int("pad", pad, minimum=0)
    except ValueError as err:
        raise ValueError(f"zero_pad: {err}") from None
    return np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="constant",
                  constant_values=0)


def conv_single_step(a_slice_prev: Any, W: Any, b: Any) -> float:
    """Apply one filter to one window: the sum of the elementwise product, plus the bias.

    Parameters
    ----------
    a_slice_prev : array_like, shape (f, f, n_C_prev)
        One window of the input.
    W : array_like, shape (f, f, n_C_prev)
        One filter's weights.
    b : array_like, shape (1, 1, 1)
        The filter's bias (any array holding exactly one number).

    Returns
    -------
    Z : float
        ``sum(a_slice_prev * W) + b``.

    Examples
    --------
    >>> conv_single_step(np.ones((2, 2, 3)), np.full((2, 2, 3), 0.5), np.array([[[1.0]]]))
    7.0
    """
    func = "conv_single_step"
    a = _as_float(func, "a_slice_prev", a_slice_prev, 3, "(f, f, n_C_prev)")
    W = _as_float(func, "W", W, 3, "(f, f, n_C_prev)")
    b = np.asarray(b)
    if a.shape != W.shape:
        raise ValueError(f"{func}: a_slice_prev and W must have the same shape, "
                         f"got a_slice_prev.shape={a.shape}, W.shape={W.shape}")
    if b.size != 1 or b.dtype.kind not in "iuf":
        raise ValueError(f"{func}: b must hold exactly one real number, "
                         f"got shape {b.shape} dtype {b.dtype}")
    return float(np.sum(a * W) + b.item())


def _check_conv_inputs(A_prev: Any, W: Any, b: Any) -> tuple[np.ndarray, ...]:
    func = "conv_forward"
    A_prev = _as_float(func, "A_prev", A_prev, 4, "(m, n_H_prev, n_W_prev, n_C_prev)")
    W = _as_float(func, "W", W, 4, "(f, f, n_C_prev, n_C)")
    b = _as_float(func, "b", b, 4, "(1, 1, 1, n_C)")
    if W.shape[0] != W.shape[1]:
        raise ValueError(f"{func}: W must hold square f x f filters, got W.shape={W.shape}")
    if W.shape[2] != A_prev.shape[3]:
        raise ValueError(f"{func}: W has {W.shape[2]} input channels but A_prev has "
                         f"{A_prev.shape[3]} (A_prev.shape={A_prev.shape}, W.shape={W.shape})")
    if b.shape != (1, 1, 1, W.shape[3]):
        raise ValueError(f"{func}: b must have shape (1, 1, 1, {W.shape[3]}) for "
                         f"{W.shape[3]} filters, got b.shape={b.shape}")
    return A_prev, W, b


def _conv_hparameters(func: str, hparameters: Any, A_prev: np.ndarray, f: int) -> tuple[int, int]:
    keys = ("stride", "pad")
    stride = _hparam(func, hparameters, "stride", keys, minimum=1)
    pad = _hparam(func, hparameters, "pad", keys, minimum=0)
    _check_fits(func, f, A_prev.shape[1], pad, "n_H_prev")
    _check_fits(func, f, A_prev.shape[2], pad, "n_W_prev")
    return stride, pad


def conv_forward(A_prev: Any, W: Any, b: Any, hparameters: Mapping[str, int]
                 ) -> tuple[np.ndarray, tuple]:
    """Forward pass of a conv layer (cross-correlation: filters are not flipped).

    Parameters
    ----------
    A_prev : array_like, shape (m, n_H_prev, n_W_prev, n_C_prev)
        Input activations.
    W : array_like, shape (f, f, n_C_prev, n_C)
        ``n_C`` filters of size ``f x f x n_C_prev``.
    b : array_like, shape (1, 1, 1, n_C)
        One bias per filter.
    hparameters : dict
        ``{"stride": s, "pad": p}`` with ``s >= 1`` and ``p >= 0``.

    Returns
    -------
    Z : ndarray of float64, shape (m, n_H, n_W, n_C)
        ``Z[i, h, w, c] = sum(A_pad[i, h*s:h*s+f, w*s:w*s+f, :] * W[..., c]) + b[..., c]``.
    cache : tuple
        ``(A_prev, W, b, hparameters)`` for :func:`conv_backward`.

    Raises
    ------
    ValueError
        On a bad shape, a channel mismatch, a bad hyperparameter, or a filter larger than the
        padded input.

    Notes
    -----
    ``n_H = floor((n_H_prev + 2p - f) / s) + 1`` and likewise ``n_W``; rows and columns that a
    stride cannot reach are dropped. The windows are a strided view; each chunk of them is copied
    once into an im2col matrix and multiplied by ``W`` reshaped to ``(f*f*n_C_prev, n_C)``.

    Examples
    --------
    >>> Z, _ = conv_forward(np.ones((2, 5, 7, 4)), np.ones((3, 3, 4, 8)),
    ...                     np.zeros((1, 1, 1, 8)), {"stride": 2, "pad": 1})
    >>> Z.shape
    (2, 3, 4, 8)
    """
    A_prev, W, b = _check_conv_inputs(A_prev, W, b)
    f, n_C = W.shape[0], W.shape[3]
    stride, pad = _conv_hparameters("conv_forward", hparameters, A_prev, f)
    m, n_H_prev, n_W_prev, _ = A_prev.shape
    n_H, n_W = _out_size(n_H_prev, f, stride, pad), _out_size(n_W_prev, f, stride, pad)
    windows = _windows(zero_pad(A_prev, pad), f, stride).transpose(0, 1, 2, 4, 5, 3)
    Z = np.empty((m, n_H, n_W, n_C))
    _im2col_matmul(windows, W.reshape(-1, n_C), Z)
    Z += b.reshape(n_C)
    return Z, (A_prev, W, b, hparameters)


def _im2col_matmul(windows: np.ndarray, W2: np.ndarray, Z: np.ndarray) -> None:
    """``Z = windows . W2`` in blocks of whole samples or of rows.

    ``windows`` has shape (m, n_H, n_W, f, f, n_C_prev) and is a strided view; ``W2`` has shape
    (f*f*n_C_prev, n_C). Each block of windows is copied into one reused im2col buffer of about
    ``_IM2COL_BYTES`` (so it stays in cache and no fresh pages are faulted in per block), then
    multiplied by ``W2`` straight into ``Z``. The Python loop runs a few times per sample at
    most, never once per output position.
    """
    m, n_H, n_W = windows.shape[:3]
    k, n_C = W2.shape
    rows = max(1, _IM2COL_BYTES // (8 * k * n_W))
    if rows >= n_H:  # several whole samples per block
        step = rows // n_H
        blocks = [(slice(i, i + step),) for i in range(0, m, step)]
    else:
        blocks = [(i, slice(h, h + rows)) for i in range(m) for h in range(0, n_H, rows)]
    buffer = np.empty(windows[blocks[0]].shape)
    for block in blocks:
        source = windows[block]
        cols = buffer[:source.shape[0]]
        np.copyto(cols, source)
        np.matmul(cols.reshape(-1, k), W2, out=Z[block].reshape(-1, n_C))


def _pool_hparameters(func: str, hparameters: Any, A_prev: np.ndarray) -> tuple[int, int]:
    keys = ("f", "stride")
    f = _hparam(func, hparameters, "f", keys, minimum=1)
    stride = _hparam(func, hparameters, "stride", keys, minimum=1)
    _check_fits(func, f, A_prev.shape[1], 0, "n_H_prev")
    _check_fits(func, f, A_prev.shape[2], 0, "n_W_prev")
    return f, stride


def _check_pool_mode(func: str, mode: Any) -> str:
    if mode not in POOL_MODES:
        raise ValueError(f"{func}: mode must be 'max' or 'average', got {mode!r}")
    return mode


def pool_forward(A_prev: Any, hparameters: Mapping[str, int], mode: str = "max"
                 ) -> tuple[np.ndarray, tuple]:
    """Forward pass of a max or average pooling layer (no padding).

    Parameters
    ----------
    A_prev : array_like, shape (m, n_H_prev, n_W_prev, n_C)
        Input activations.
    hparameters : dict
        ``{"f": f, "stride": s}``, both positive; ``f`` at most ``n_H_prev`` and ``n_W_prev``.
    mode : {"max", "average"}, default "max"
        The reduction over each ``f x f`` window.

    Returns
    -------
    A : ndarray of float64, shape (m, n_H, n_W, n_C)
        ``n_H = floor((n_H_prev - f) / s) + 1``, likewise ``n_W``; ``n_C`` is unchanged.
    cache : tuple
        ``(A_prev, hparameters)`` for :func:`pool_backward`.

    Raises
    ------
    ValueError
        On a bad shape, hyperparameter or mode, or a window larger than the input.

    Notes
    -----
    The loop runs over the ``f * f`` offsets inside a window; each step reduces one strided slice
    that holds that offset of every window at once. Windows may overlap (``s < f``).

    Examples
    --------
    >>> A, _ = pool_forward(np.arange(16.0).reshape(1, 4, 4, 1), {"f": 2, "stride": 2})
    >>> A[0, :, :, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """
    func = "pool_forward"
    A_prev = _as_float(func, "A_prev", A_prev, 4, "(m, n_H_prev, n_W_prev, n_C)")
    f, stride = _pool_hparameters(func, hparameters, A_prev)
    mode = _check_pool_mode(func, mode)
    return _pool(A_prev, f, stride, mode), (A_prev, hparameters)


def _pool(A_prev: np.ndarray, f: int, stride: int, mode: str) -> np.ndarray:
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    n_H, n_W = _out_size(n_H_prev, f, stride, 0), _out_size(n_W_prev, f, stride, 0)
    A = A_prev[_offset_slice(0, 0, stride, n_H, n_W)].copy()
    combine = np.maximum if mode == "max" else np.add
    for i in range(f):
        for j in range(f):
            if i or j:
                combine(A, A_prev[_offset_slice(i, j, stride, n_H, n_W)], out=A)
    if mode == "average":
        A /= f * f
    return A


def _check_cache(func: str, cache: Any, length: int, names: str) -> tuple:
    if not isinstance(cache, tuple | list) or len(cache) != length:
        raise ValueError(f"{func}: cache must be the tuple {names} returned by the forward pass, "
                         f"got {type(cache).__name__} of length "
                         f"{len(cache) if hasattr(cache, '__len__') else 'unknown'}")
    return tuple(cache)


def conv_backward(dZ: Any, cache: tuple) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward pass of a conv layer.

    Parameters
    ----------
    dZ : array_like, shape (m, n_H, n_W, n_C)
        Gradient of the cost with respect to the conv output ``Z``.
    cache : tuple
        ``(A_prev, W, b, hparameters)`` as returned by :func:`conv_forward`.

    Returns
    -------
    dA_prev : ndarray, shape (m, n_H_prev, n_W_prev, n_C_prev)
        Gradient with respect to the input (the padding's share is dropped).
    dW : ndarray, shape (f, f, n_C_prev, n_C)
        ``dW[i, j, :, c] = sum over (m, h, w) of A_pad[:, h*s+i, w*s+j, :] * dZ[..., c]``.
    db : ndarray, shape (1, 1, 1, n_C)
        ``dZ`` summed over the batch, height and width.

    Raises
    ------
    ValueError
        If the cache is malformed or ``dZ`` does not have the output's shape.

    Notes
    -----
    The loop runs over the ``f * f`` kernel offsets ``(i, j)``: each offset's inputs form one
    strided slice of ``A_pad``, so ``dW[i, j]`` is one matrix product and the slice of ``dA_pad``
    receives ``dZ . W[i, j].T`` with ``+=`` (overlapping windows accumulate).

    Examples
    --------
    >>> Z, cache = conv_forward(np.ones((1, 4, 4, 2)), np.ones((3, 3, 2, 1)),
    ...                         np.zeros((1, 1, 1, 1)), {"stride": 1, "pad": 1})
    >>> [g.shape for g in conv_backward(np.ones_like(Z), cache)]
    [(1, 4, 4, 2), (3, 3, 2, 1), (1, 1, 1, 1)]
    """
    func = "conv_backward"
    A_prev, W, b, hparameters = _check_cache(func, cache, 4, "(A_prev, W, b, hparameters)")
    A_prev, W, b = _check_conv_inputs(A_prev, W, b)
    f, n_C = W.shape[0], W.shape[3]
    stride, pad = _conv_hparameters(func, hparameters, A_prev, f)
    m, n_H_prev, n_W_prev, n_C_prev = A_prev.shape
    out_shape = (m, _out_size(n_H_prev, f, stride, pad), _out_size(n_W_prev, f, stride, pad), n_C)
    dZ = _as_float(func, "dZ", dZ, 4, "(m, n_H, n_W, n_C)")
    if dZ.shape != out_shape:
        raise ValueError(f"{func}: dZ must have the shape of Z, {out_shape}, got {dZ.shape}")
    A_pad = zero_pad(A_prev, pad)
    dA_pad = np.zeros_like(A_pad)
    dW2 = _conv_backward_blocks(A_pad, dA_pad, W, dZ, stride)
    db = dZ.sum(axis=(0, 1, 2)).reshape(1, 1, 1, n_C)
    # Explicit end indices: `[pad:-pad]` would be empty at pad 0.
    return dA_pad[:, pad:pad + n_H_prev, pad:pad + n_W_prev, :], dW2.reshape(W.shape), db


def _conv_backward_blocks(A_pad: np.ndarray, dA_pad: np.ndarray, W: np.ndarray, dZ: np.ndarray,
                          stride: int) -> np.ndarray:
    """Accumulate ``dA_pad`` in place and return ``dW`` as (f*f*n_C_prev, n_C), by blocks of
    samples.

    Per block: the im2col matrix ``cols`` gives ``dW += cols.T . dZ``; ``dcols = dZ . W.T`` holds
    each window's share of the input gradient, added back (col2im) with one strided ``+=`` per
    kernel offset, so overlapping windows accumulate. Both buffers are reused across blocks.
    """
    f, n_C = W.shape[0], W.shape[3]
    m, n_H, n_W = dZ.shape[:3]
    W2 = W.reshape(-1, n_C)
    k = W2.shape[0]
    step = max(1, _IM2COL_BYTES // (8 * k * n_H * n_W))
    windows = _windows(A_pad, f, stride).transpose(0, 1, 2, 4, 5, 3)
    cols_buffer = np.empty((min(step, m), n_H, n_W, f, f, W.shape[2]))
    dcols_buffer = np.empty_like(cols_buffer)
    dW2 = np.zeros_like(W2)
    for start in range(0, m, step):
        block = slice(start, start + step)
        cols, dcols = cols_buffer[:len(dZ[block])], dcols_buffer[:len(dZ[block])]
        dZ2 = dZ[block].reshape(-1, n_C)
        np.copyto(cols, windows[block])
        dW2 += cols.reshape(-1, k).T @ dZ2
        np.matmul(dZ2, W2.T, out=dcols.reshape(-1, k))
        for i in range(f):
            for j in range(f):
                where = _offset_slice(i, j, stride, n_H, n_W)
                dA_pad[block][where] += dcols[:, :, :, i, j, :]
    return dW2


def create_mask_from_window(x: Any) -> np.ndarray:
    """Boolean mask of the maximum of a pooling window.

    Parameters
    ----------
    x : array_like, shape (f, f)
        One window.

    Returns
    -------
    mask : ndarray of bool, shape (f, f)
        ``x == max(x)``; every tied maximum is marked, as in the course.

    Examples
    --------
    >>> create_mask_from_window(np.array([[1, 3], [3, 2]]))
    array([[False,  True],
           [ True, False]])
    """
    x = _as_real_array("create_mask_from_window", "x", x, 2, "(f, f)")
    return x == np.max(x)


def distribute_value(dz: Any, shape: tuple[int, int]) -> np.ndarray:
    """Spread a gradient evenly over an average-pooling window.

    Parameters
    ----------
    dz : float
        The gradient of one pooled output.
    shape : tuple of int
        ``(n_H, n_W)``, the window's shape.

    Returns
    -------
    a : ndarray of float64, shape (n_H, n_W)
        Every entry is ``dz / (n_H * n_W)``.

    Examples
    --------
    >>> distribute_value(2.0, (2, 2))
    array([[0.5, 0.5],
           [0.5, 0.5]])
    """
    func = "distribute_value"
    dz_arr = np.asarray(dz)
    if dz_arr.size != 1 or dz_arr.dtype.kind not in "iuf":
        raise ValueError(f"{func}: dz must be one real number, got {dz!r}")
    if not isinstance(shape, tuple | list) or len(shape) != 2:
        raise ValueError(f"{func}: shape must be (n_H, n_W), got {shape!r}")
    try:
        n_H, n_W = (check_int(name, v, minimum=1) for name, v in zip(("n_H", "n_W"), shape,
                                                                      strict=True))
    except ValueError as err:
        raise ValueError(f"{func}: {err}") from None
    return np.full((n_H, n_W), float(dz_arr.item()) / (n_H * n_W))


def pool_backward(dA: Any, cache: tuple, mode: str = "max") -> np.ndarray:
    """Backward pass of a pooling layer.

    Parameters
    ----------
    dA : array_like, shape (m, n_H, n_W, n_C)
        Gradient of the cost with respect to the pooling output.
    cache : tuple
        ``(A_prev, hparameters)`` as returned by :func:`pool_forward`.
    mode : {"max", "average"}, default "max"
        The mode the forward pass used.

    Returns
    -------
    dA_prev : ndarray of float64, shape (m, n_H_prev, n_W_prev, n_C)
        Max: each window's gradient goes to every position equal to the window's maximum
        (:func:`create_mask_from_window`). Average: it is spread evenly
        (:func:`distribute_value`). Overlapping windows (``s < f``) accumulate.

    Raises
    ------
    ValueError
        If the cache or mode is malformed or ``dA`` does not have the output's shape.

    Examples
    --------
    >>> A_prev = np.arange(16.0).reshape(1, 4, 4, 1)
    >>> A, cache = pool_forward(A_prev, {"f": 2, "stride": 2})
    >>> pool_backward(np.ones_like(A), cache)[0, :, :, 0]
    array([[0., 0., 0., 0.],
           [0., 1., 0., 1.],
           [0., 0., 0., 0.],
           [0., 1., 0., 1.]])
    """
    func = "pool_backward"
    A_prev, hparameters = _check_cache(func, cache, 2, "(A_prev, hparameters)")
    A_prev = _as_float(func, "A_prev", A_prev, 4, "(m, n_H_prev, n_W_prev, n_C)")
    f, stride = _pool_hparameters(func, hparameters, A_prev)
    mode = _check_pool_mode(func, mode)
    A = _pool(A_prev, f, stride, mode)
    dA = _as_float(func, "dA", dA, 4, "(m, n_H, n_W, n_C)")
    if dA.shape != A.shape:
        raise ValueError(f"{func}: dA must have the shape of the pooled output, {A.shape}, "
                         f"got {dA.shape}")
    dA_prev = np.zeros_like(A_prev)
    share = dA / (f * f)
    for i in range(f):
        for j in range(f):
            where = _offset_slice(i, j, stride, A.shape[1], A.shape[2])
            if mode == "max":
                dA_prev[where] += np.where(A_prev[where] == A, dA, 0.0)
            else:
                dA_prev[where] += share
    return dA_prev


# --------------------------------------------------------------------------------------------
# Single-channel 1D and 2D convolution and cross-correlation
# --------------------------------------------------------------------------------------------

def _signal_inputs(func: str, x: Any, k: Any, mode: Any, pad: Any, ndim: int
                   ) -> tuple[np.ndarray, np.ndarray, int]:
    layout = "(n,)" if ndim == 1 else "(n_H, n_W)"
    x = _as_real_array(func, "x", x, ndim, layout)
    k = _as_real_array(func, "k", k, ndim, layout.replace("n", "f"))
    if mode not in MODES:
        raise ValueError(f"{func}: mode must be 'full', 'valid' or 'same', got {mode!r}")
    try:
        pad = check_int("pad", pad, minimum=0)
    except ValueError as err:
        raise ValueError(f"{func}: {err}") from None
    if mode == "valid":
        for axis, (n, f) in enumerate(zip(x.shape, k.shape, strict=True)):
            name = "n" if ndim == 1 else ("n_H", "n_W")[axis]
            _check_fits(func, f, n, pad, name)
    integer = x.dtype.kind in "iu" and k.dtype.kind in "iu"
    dtype = np.int64 if integer else np.float64
    return x.astype(dtype, copy=False), k.astype(dtype, copy=False), pad


def _correlate_nd(x: np.ndarray, k: np.ndarray, mode: str, pad: int) -> np.ndarray:
    """Cross-correlate ``x`` with ``k`` (same ndim) after ``pad`` zeros on each side.

    ``full`` adds ``f - 1`` more zeros on each side; ``same`` crops ``full`` to the padded
    input's size, starting at ``(f - 1) // 2`` (SciPy's centring).
    """
    extra = 0 if mode == "valid" else 1
    widths = [(pad + extra * (f - 1),) * 2 for f in k.shape]
    xp = np.pad(x, widths)
    windows = sliding_window_view(xp, k.shape)
    axes = tuple(range(x.ndim, 2 * x.ndim))
    out = np.tensordot(windows, k, axes=(axes, tuple(range(x.ndim))))
    if mode == "same":
        crop = tuple(slice((f - 1) // 2, (f - 1) // 2 + n + 2 * pad)
                     for f, n in zip(k.shape, x.shape, strict=True))
        out = out[crop]
    return np.ascontiguousarray(out)


_SIGNAL_DOC = """
    Parameters
    ----------
    x : array_like, shape {xshape}
        The single-channel input.
    k : array_like, shape {kshape}
        The kernel.
    mode : {{"full", "valid", "same"}}, default "{default}"
        ``full``: every position where the kernel overlaps the input, size ``n + f - 1``;
        ``valid``: only where it fits entirely, size ``n - f + 1``; ``same``: the input's size,
        cropped from ``full`` starting at ``(f - 1) // 2`` (SciPy's convention).
    pad : int, default 0
        Explicit zeros added on each side of every axis before the mode applies, so ``valid``
        with ``pad = p`` has size ``n + 2p - f + 1``.

    Returns
    -------
    out : ndarray
        int64 if both inputs are integer arrays, otherwise float64.

    Raises
    ------
    ValueError
        On a bad shape, mode or pad, or (``valid``) a kernel larger than the padded input.
"""


def correlate1d(x: Any, k: Any, mode: str = "valid", pad: int = 0) -> np.ndarray:
    """Cross-correlation ``out[n] = sum_m x[n + m] k[m]``: the kernel is not flipped.

    This is what deep learning calls convolution.
    {doc}
    Examples
    --------
    >>> correlate1d([1, 3, -1, 1, -3], [1, 0, -1])
    array([2, 2, 2])
    >>> correlate1d([1, 3, -1, 1, -3], [1, 0, -1], pad=1)
    array([-3,  2,  2,  2,  1])
    """
    x, k, pad = _signal_inputs("correlate1d", x, k, mode, pad, 1)
    return _correlate_nd(x, k, mode, pad)


def convolve1d(x: Any, k: Any, mode: str = "full", pad: int = 0) -> np.ndarray:
    """True convolution ``out[n] = sum_m x[m] k[n - m]``: the kernel is flipped.
    {doc}
    Examples
    --------
    >>> convolve1d([1, 2, 3], [2, 1])
    array([2, 5, 8, 3])
    >>> convolve1d([1, 2, 3], [2, 1], mode="valid")
    array([5, 8])
    """
    x, k, pad = _signal_inputs("convolve1d", x, k, mode, pad, 1)
    return _correlate_nd(x, k[::-1], mode, pad)


def correlate2d(x: Any, k: Any, mode: str = "valid", pad: int = 0) -> np.ndarray:
    """2D cross-correlation ``out[i, j] = sum x[i + a, j + b] k[a, b]``: no flip.
    {doc}
    Examples
    --------
    >>> correlate2d([[1, 2, 1], [2, 1, 1], [1, 1, 1]], [[1, 0.5], [0.5, 1]])
    array([[4., 4.],
           [4., 3.]])
    """
    x, k, pad = _signal_inputs("correlate2d", x, k, mode, pad, 2)
    return _correlate_nd(x, k, mode, pad)


def convolve2d(x: Any, k: Any, mode: str = "full", pad: int = 0) -> np.ndarray:
    """2D true convolution ``out[i, j] = sum x[a, b] k[i - a, j - b]``: the kernel is rotated
    by 180 degrees.
    {doc}
    Examples
    --------
    >>> convolve2d([[1, 2], [3, 4]], [[0, 1], [0, 0]], mode="valid")
    array([[3]])
    """
    x, k, pad = _signal_inputs("convolve2d", x, k, mode, pad, 2)
    return _correlate_nd(x, k[::-1, ::-1], mode, pad)


for _func, _shapes in ((correlate1d, ("(n,)", "(f,)", "valid")),
                       (convolve1d, ("(n,)", "(f,)", "full")),
                       (correlate2d, ("(n_H, n_W)", "(f_H, f_W)", "valid")),
                       (convolve2d, ("(n_H, n_W)", "(f_H, f_W)", "full"))):
    _func.__doc__ = _func.__doc__.replace("{doc}", _SIGNAL_DOC.format(
        xshape=_shapes[0], kshape=_shapes[1], default=_shapes[2]))
del _func, _shapes


# --------------------------------------------------------------------------------------------
# Adaptive average pooling
# --------------------------------------------------------------------------------------------

def adaptive_pool_params(input_size: int, output_size: int) -> tuple[int, int]:
    """Kernel and stride of an adaptive pooling layer (padding 0).

    Parameters
    ----------
    input_size : int
        ``i``, the input length, positive.
    output_size : int
        ``o``, the wanted output length, ``1 <= o <= i``.

    Returns
    -------
    kernel, stride : tuple of int
        ``stride = i // o`` and ``kernel = i - (o - 1) * stride``; with them the output size
        formula ``floor((i - kernel) / stride) + 1`` gives exactly ``o``.

    Examples
    --------
    >>> adaptive_pool_params(10, 3)
    (4, 3)
    """
    func = "adaptive_pool_params"
    try:
        i = check_int("input_size", input_size, minimum=1)
        o = check_int("output_size", output_size, minimum=1)
    except ValueError as err:
        raise ValueError(f"{func}: {err}") from None
    if o > i:
        raise ValueError(f"{func}: output_size={o} is larger than input_size={i}")
    stride = i // o
    return i - (o - 1) * stride, stride


def adaptive_avg_pool1d(x: Any, output_size: int) -> np.ndarray:
    """Adaptive average pooling along the last axis.

    Parameters
    ----------
    x : array_like, shape (..., i)
        Input; pooling runs over the last axis.
    output_size : int
        ``o``, the output length, ``1 <= o <= i``.

    Returns
    -------
    out : ndarray of float64, shape (..., o)
        Averages over windows of :func:`adaptive_pool_params` ``(i, o)``.

    Notes
    -----
    This is the course's fixed-kernel formula. It equals PyTorch's ``adaptive_avg_pool1d`` when
    ``o`` divides ``i``; otherwise PyTorch uses windows of varying size.

    Examples
    --------
    >>> adaptive_avg_pool1d([1, 2, 3, 4, 5, 6], 3)
    array([1.5, 3.5, 5.5])
    """
    arr = np.asarray(x)
    if arr.dtype.kind not in "iuf" or arr.ndim < 1 or 0 in arr.shape:
        raise ValueError(f"adaptive_avg_pool1d: x must be a non-empty real array, "
                         f"got shape {arr.shape} dtype {arr.dtype}")
    kernel, stride = adaptive_pool_params(arr.shape[-1], output_size)
    windows = sliding_window_view(arr.astype(np.float64), kernel, axis=-1)[..., ::stride, :]
    return windows.mean(axis=-1)
