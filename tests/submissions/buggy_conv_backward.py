"""conv_backward with one bug chosen by BUG: see test_code_grading."""

import numpy as np

BUG = "none"


def conv_backward(dZ, cache):
    A_prev, W, b, hparameters = cache
    stride, pad = hparameters["stride"], hparameters["pad"]
    m, n_H_prev, n_W_prev, n_C_prev = A_prev.shape
    f, _, _, n_C = W.shape
    _, n_H, n_W, _ = dZ.shape
    A_pad = np.pad(A_prev, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    dA_pad = np.zeros_like(A_pad)
    dW = np.zeros_like(W)
    db = np.zeros_like(b)
    for i in range(m):
        if BUG == "dw_not_summed":
            dW = np.zeros_like(W)
            db = np.zeros_like(b)
        for h in range(n_H):
            for w in range(n_W):
                rows = slice(h * stride, h * stride + f)
                cols = slice(w * stride, w * stride + f)
                for c in range(n_C):
                    dA_pad[i, rows, cols, :] += W[:, :, :, c] * dZ[i, h, w, c]
                    dW[:, :, :, c] += A_pad[i, rows, cols, :] * dZ[i, h, w, c]
                    db[:, :, :, c] += dZ[i, h, w, c]
    if BUG == "db_mean":
        db = db / m
    if BUG == "empty_slice":
        dA_prev = dA_pad[:, pad:-pad, pad:-pad, :]
    else:
        dA_prev = dA_pad[:, pad:pad + n_H_prev, pad:pad + n_W_prev, :]
    return dA_prev, dW, db
