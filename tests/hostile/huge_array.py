import numpy as np

def conv_single_step(a_slice_prev, W, b):
    return np.ones((12 * 1024 * 1024,))
