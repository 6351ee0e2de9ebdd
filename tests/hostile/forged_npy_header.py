import numpy as np


def _forged_save(file, value, allow_pickle=False):
    # A valid .npy header that claims a terabyte of data, followed by a few bytes: the grader
    # must check the claim against the data's size before allocating anything.
    header = {"descr": "<f8", "fortran_order": False, "shape": (10 ** 11,)}
    np.lib.format.write_array_header_1_0(file, header)
    file.write(b"\0" * 64)


np.save = _forged_save


def conv_single_step(a_slice_prev, W, b):
    return np.sum(a_slice_prev * W) + b.item()
