import numpy as np

raise RuntimeError("this module refuses to load")

def conv_single_step(a_slice_prev, W, b):
    return 0.0
