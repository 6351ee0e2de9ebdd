import numpy as np

def conv_single_step(a_slice_prev, W, b):
    return np.complex128(np.sum(a_slice_prev * W) + b.item())
