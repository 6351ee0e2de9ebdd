import numpy as np


def _pad1(x, pad):
    return np.concatenate([np.zeros(pad), np.asarray(x, dtype=float), np.zeros(pad)]) if pad else np.asarray(x)


def correlate1d(x, k, mode="valid", pad=0):
    x = _pad1(x, pad)
    k = np.asarray(k)
    n, f = len(x), len(k)
    if mode == "full":
        x = np.concatenate([np.zeros(f - 1), x, np.zeros(f - 1)])
    out = np.array([np.sum(x[i:i + f] * k) for i in range(len(x) - f + 1)])
    if mode == "same":
        start = (f - 1) // 2
        out = np.array([np.sum(np.concatenate([np.zeros(f - 1), x, np.zeros(f - 1)])[i:i + f] * k)
                        for i in range(n + f - 1)])[start:start + n]
    return out


def convolve1d(x, k, mode="full", pad=0):
    return correlate1d(x, np.flip(k), mode=mode, pad=pad)


def correlate2d(x, k, mode="valid", pad=0):
    x = np.asarray(x)
    k = np.asarray(k)
    if pad:
        x = np.pad(x, pad)
    n_H, n_W = x.shape
    f_H, f_W = k.shape
    if mode in ("full", "same"):
        xp = np.pad(x, ((f_H - 1, f_H - 1), (f_W - 1, f_W - 1)))
    else:
        xp = x
    out_H, out_W = xp.shape[0] - f_H + 1, xp.shape[1] - f_W + 1
    dtype = np.result_type(x, k)
    out = np.zeros((out_H, out_W), dtype=dtype)
    for i in range(out_H):
        for j in range(out_W):
            out[i, j] = np.sum(xp[i:i + f_H, j:j + f_W] * k)
    if mode == "same":
        r, c = (f_H - 1) // 2, (f_W - 1) // 2
        out = out[r:r + n_H, c:c + n_W]
    return out


def convolve2d(x, k, mode="full", pad=0):
    return correlate2d(x, np.flip(k), mode=mode, pad=pad)


def detect_edges(image, direction="vertical"):
    vertical = np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]])
    kernel = vertical if direction == "vertical" else vertical.T
    return convolve2d(image, kernel, mode="valid")
