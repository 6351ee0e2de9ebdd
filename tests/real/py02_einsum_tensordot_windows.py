import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def zero_pad(X, pad):
    return np.pad(X, [(0, 0), (pad, pad), (pad, pad), (0, 0)], "constant")


def conv_single_step(a_slice_prev, W, b):
    return np.einsum("ijk,ijk->", a_slice_prev, W) + b.item()


def conv_forward(A_prev, W, b, hparameters):
    s, p = hparameters["stride"], hparameters["pad"]
    f = W.shape[0]
    A = zero_pad(A_prev, p)
    win = sliding_window_view(A, (f, f), axis=(1, 2))[:, ::s, ::s]  # (m, nH, nW, nC_prev, f, f)
    Z = np.einsum("mhwcij,ijcn->mhwn", win, W, optimize=True) + b.reshape(1, 1, 1, -1)
    return Z, (A_prev, W, b, hparameters)


def pool_forward(A_prev, hparameters, mode="max"):
    f, s = hparameters["f"], hparameters["stride"]
    win = sliding_window_view(A_prev, (f, f), axis=(1, 2))[:, ::s, ::s]
    A = win.max(axis=(-2, -1)) if mode == "max" else win.mean(axis=(-2, -1))
    return A, (A_prev, hparameters)


def conv_backward(dZ, cache):
    A_prev, W, b, hparameters = cache
    s, p = hparameters["stride"], hparameters["pad"]
    f = W.shape[0]
    m, n_H, n_W, n_C = dZ.shape
    A_pad = zero_pad(A_prev, p)
    dA_pad = np.zeros_like(A_pad, dtype=float)
    dW = np.zeros_like(W, dtype=float)
    for h in range(n_H):
        for w in range(n_W):
            sl = (slice(None), slice(h * s, h * s + f), slice(w * s, w * s + f), slice(None))
            dA_pad[sl] += np.tensordot(dZ[:, h, w, :], W, axes=([1], [3]))
            dW += np.tensordot(A_pad[sl], dZ[:, h, w, :], axes=([0], [0]))
    db = dZ.sum(axis=(0, 1, 2), keepdims=True)
    dA_prev = dA_pad[:, p:p + A_prev.shape[1], p:p + A_prev.shape[2], :]
    return dA_prev, dW, db


def create_mask_from_window(x):
    return np.where(x == np.max(x), 1, 0)


def distribute_value(dz, shape):
    return np.full(shape, dz / np.prod(shape))


def pool_backward(dA, cache, mode="max"):
    A_prev, hparameters = cache
    f, s = hparameters["f"], hparameters["stride"]
    dA_prev = np.zeros(A_prev.shape)
    m, n_H, n_W, n_C = dA.shape
    for h in range(n_H):
        for w in range(n_W):
            win = A_prev[:, h * s:h * s + f, w * s:w * s + f, :]
            g = dA[:, h:h + 1, w:w + 1, :]
            if mode == "max":
                dA_prev[:, h * s:h * s + f, w * s:w * s + f, :] += (win == win.max(axis=(1, 2), keepdims=True)) * g
            else:
                dA_prev[:, h * s:h * s + f, w * s:w * s + f, :] += g / (f * f)
    return dA_prev
