"""Convolution basics: 1D and 2D convolution and cross-correlation, and edge detection.

Check your work with ``grader check exercises/convolution_basics.py``. Functions you leave as
they are count as "not attempted".

Modes, for an input of size n and a kernel of size f (after ``pad`` zeros on each side):

* ``"full"``: every position where the kernel overlaps the input, size n + 2*pad + f - 1;
* ``"valid"``: only where the kernel fits entirely, size n + 2*pad - f + 1;
* ``"same"``: size n + 2*pad, the "full" result cropped starting at (f - 1) // 2.

True convolution flips the kernel, (x * k)[n] = sum_m x[m] k[n - m]; cross-correlation does
not, and is what deep learning calls convolution. Return float arrays, or integer arrays when
both inputs are integer arrays.
"""



def convolve1d(x, k, mode="full", pad=0):
    """True 1D convolution of x (shape (n,)) with k (shape (f,)); returns a 1D array."""
    raise NotImplementedError("convolve1d")


def correlate1d(x, k, mode="valid", pad=0):
    """1D cross-correlation, out[n] = sum_m x[n + m] k[m]; returns a 1D array."""
    raise NotImplementedError("correlate1d")


def convolve2d(x, k, mode="full", pad=0):
    """True 2D convolution of x (shape (n_H, n_W)) with k (shape (f_H, f_W))."""
    raise NotImplementedError("convolve2d")


def correlate2d(x, k, mode="valid", pad=0):
    """2D cross-correlation, out[i, j] = sum_{a, b} x[i + a, j + b] k[a, b]."""
    raise NotImplementedError("correlate2d")


def detect_edges(image, direction="vertical"):
    """Apply the 3x3 edge filter to a grayscale image (shape (n_H, n_W)), "valid" mode.

    The vertical-edge filter is [[1, 0, -1], [1, 0, -1], [1, 0, -1]] (cross-correlated, as in
    deep learning); the horizontal one is its transpose. ``direction`` is "vertical" or
    "horizontal". Returns an array of shape (n_H - 2, n_W - 2).
    """
    raise NotImplementedError("detect_edges")
