"""The course's conv_single_step as written for NumPy < 2.4: float(b) now raises TypeError."""

import numpy as np


def conv_single_step(a_slice_prev, W, b):
    s = np.multiply(a_slice_prev, W)
    Z = np.sum(s)
    Z = Z + float(b)
    return Z
