while True:
    pass

def conv_single_step(a_slice_prev, W, b):
    return 0.0
