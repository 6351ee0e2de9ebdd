"""pool_forward / pool_backward / zero_pad with one bug chosen by BUG: see test_code_grading."""

import numpy as np

BUG = "none"


def zero_pad(X, pad):
    if BUG == "pad_all_axes":
        return np.pad(X, pad)
    return np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0)))


def pool_forward(A_prev, hparameters, mode="max"):
    f, stride = hparameters["f"], hparameters["stride"]
    if BUG == "swap_mode":
        mode = "average" if mode == "max" else "max"
    m, n_H_prev, n_W_prev, n_C = A_prev.shape
    n_H = (n_H_prev - f) // stride + 1
    n_W = (n_W_prev - f) // stride + 1
    A = np.zeros((m, n_H, n_W, n_C))
    for h in range(n_H):
        for w in range(n_W):
            window = A_prev[:, h * stride:h * stride + f, w * stride:w * stride + f, :]
            A[:, h, w, :] = window.max(axis=(1, 2)) if mode == "max" else window.mean(axis=(1, 2))
    return A, (A_prev, hparameters)


def pool_backward(dA, cache, mode="max"):
    A_prev, hparameters = cache
    f, stride = hparameters["f"], hparameters["stride"]
    dA_prev = np.zeros_like(A_prev)
    m, n_H, n_W, n_C = dA.shape
    for i in range(m):
        for h in range(n_H):
            for w in range(n_W):
                for c in range(n_C):
                    rows = slice(h * stride, h * stride + f)
                    cols = slice(w * stride, w * stride + f)
                    if mode == "max":
                        window = A_prev[i, rows, cols, c]
                        share = (window == np.max(window)) * dA[i, h, w, c]
                    else:
                        share = np.full((f, f), dA[i, h, w, c] / (f * f))
                    if BUG == "assign":
                        dA_prev[i, rows, cols, c] = share
                    else:
                        dA_prev[i, rows, cols, c] += share
    return dA_prev
