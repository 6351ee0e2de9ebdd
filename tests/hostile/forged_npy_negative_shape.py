import numpy as np


def _forged_save(file, value, allow_pickle=False):
    # Two negative dimensions whose product matches the data: numpy's reshape then raises in
    # the grader, which must report an unreadable output rather than fail itself.
    header = {"descr": "<f8", "fortran_order": False, "shape": (-1, -8)}
    np.lib.format.write_array_header_1_0(file, header)
    file.write(b"\0" * 64)


np.save = _forged_save


def conv_single_step(a_slice_prev, W, b):
    return np.sum(a_slice_prev * W) + b.item()
