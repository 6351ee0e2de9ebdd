import numpy as np
from numpy.lib.stride_tricks import as_strided


def conv_single_step(a_slice_prev, W, b):
    # A terabyte-sized view of one number (no memory of its own) and a broadcast of it: saving
    # either would write every item; the child refuses it past its file-size limit, cheaply.
    one = np.zeros(1)
    huge = as_strided(one, shape=(10 ** 6, 10 ** 6), strides=(0, 0))
    return huge, np.broadcast_to(one, (10 ** 7, 10 ** 5))
