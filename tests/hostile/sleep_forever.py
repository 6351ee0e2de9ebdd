import time

def conv_single_step(a_slice_prev, W, b):
    time.sleep(10 ** 6)
