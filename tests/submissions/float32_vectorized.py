"""A correct solution that computes in float32, as students who save memory do."""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

F32 = np.float32


def zero_pad(X, pad):
    return np.pad(X.astype(F32), ((0, 0), (pad, pad), (pad, pad), (0, 0)))


def conv_single_step(a_slice_prev, W, b):
    s = a_slice_prev.astype(F32) * W.astype(F32)
    return np.sum(s, dtype=F32) + F32(b.item())


def _windows(A, f, stride):
    return sliding_window_view(A, (f, f), axis=(1, 2))[:, ::stride, ::stride]


def conv_forward(A_prev, W, b, hparameters):
    A_prev, W, b = A_prev.astype(F32), W.astype(F32), b.astype(F32)
    stride, pad = hparameters["stride"], hparameters["pad"]
    windows = _windows(zero_pad(A_prev, pad), W.shape[0], stride)
    Z = np.einsum("mhwcij,ijcn->mhwn", windows, W) + b
    return Z, (A_prev, W, b, hparameters)


def pool_forward(A_prev, hparameters, mode="max"):
    windows = _windows(A_prev.astype(F32), hparameters["f"], hparameters["stride"])
    A = windows.max(axis=(4, 5)) if mode == "max" else windows.mean(axis=(4, 5), dtype=F32)
    return A, (A_prev, hparameters)


def conv_backward(dZ, cache):
    A_prev, W, b, hparameters = cache
    A_prev, W, dZ = A_prev.astype(F32), W.astype(F32), dZ.astype(F32)
    stride, pad = hparameters["stride"], hparameters["pad"]
    f = W.shape[0]
    _, n_H, n_W, _ = dZ.shape
    A_pad = zero_pad(A_prev, pad)
    dA_pad = np.zeros_like(A_pad)
    dW = np.zeros_like(W)
    for i in range(f):
        for j in range(f):
            rows = slice(i, i + stride * (n_H - 1) + 1, stride)
            cols = slice(j, j + stride * (n_W - 1) + 1, stride)
            dW[i, j] = np.einsum("mhwc,mhwn->cn", A_pad[:, rows, cols, :], dZ)
            dA_pad[:, rows, cols, :] += np.einsum("mhwn,cn->mhwc", dZ, W[i, j])
    db = dZ.sum(axis=(0, 1, 2), keepdims=True, dtype=F32)
    n_H_prev, n_W_prev = A_prev.shape[1:3]
    return dA_pad[:, pad:pad + n_H_prev, pad:pad + n_W_prev, :], dW, db


def create_mask_from_window(x):
    return x == np.max(x)


def distribute_value(dz, shape):
    n_H, n_W = shape
    return np.full((n_H, n_W), dz / (n_H * n_W), dtype=F32)


def pool_backward(dA, cache, mode="max"):
    A_prev, hparameters = cache
    A_prev, dA = A_prev.astype(F32), dA.astype(F32)
    f, stride = hparameters["f"], hparameters["stride"]
    dA_prev = np.zeros_like(A_prev)
    _, n_H, n_W, _ = dA.shape
    windows = _windows(A_prev, f, stride)
    if mode == "max":
        mask = windows == windows.max(axis=(4, 5), keepdims=True)
        share = mask * dA[..., None, None]
    else:
        share = np.broadcast_to(dA[..., None, None] / F32(f * f), windows.shape)
    for i in range(f):
        for j in range(f):
            rows = slice(i, i + stride * (n_H - 1) + 1, stride)
            cols = slice(j, j + stride * (n_W - 1) + 1, stride)
            dA_prev[:, rows, cols, :] += share[..., i, j]
    return dA_prev
