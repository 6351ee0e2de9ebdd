"""conv_forward with one bug chosen by BUG (the tests rewrite that line): see test_code_grading."""

import numpy as np

BUG = "none"


def conv_forward(A_prev, W, b, hparameters):
    stride, pad = hparameters["stride"], hparameters["pad"]
    if BUG == "stride":
        stride = 1
    if BUG == "nopad":
        pad = 0
    if BUG == "flip":
        W = W[::-1, ::-1]
    m, n_H_prev, n_W_prev, _ = A_prev.shape
    f, _, _, n_C = W.shape
    n_H = (n_H_prev + 2 * pad - f) // stride + 1
    n_W = (n_W_prev + 2 * pad - f) // stride + 1
    if BUG == "no_plus_one":
        n_H, n_W = n_H - 1, n_W - 1
    if BUG == "ceil":
        n_H = -(-(n_H_prev + 2 * pad - f) // stride) + 1
        n_W = -(-(n_W_prev + 2 * pad - f) // stride) + 1
    A_pad = np.pad(A_prev, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    Z = np.zeros((m, n_H, n_W, n_C))
    for h in range(n_H):
        for w in range(n_W):
            window = A_pad[:, h * stride:h * stride + f, w * stride:w * stride + f, :]
            if window.shape[1] < f or window.shape[2] < f:
                window = np.pad(window, ((0, 0), (0, f - window.shape[1]),
                                         (0, f - window.shape[2]), (0, 0)))
            Z[:, h, w, :] = np.tensordot(window, W, axes=([1, 2, 3], [0, 1, 2]))
    if BUG == "nobias":
        pass
    elif BUG == "bias_twice":
        Z = Z + 2 * b
    else:
        Z = Z + b
    if BUG == "nchw":
        Z = Z.transpose(0, 3, 1, 2)
    if BUG == "no_cache":
        return Z
    if BUG == "int":
        Z = Z.astype(int)
    return Z, (A_prev, W, b, hparameters)
