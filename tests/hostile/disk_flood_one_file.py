def conv_single_step(a_slice_prev, W, b):
    # One file far past the file-size limit.
    block = b"x" * (1 << 20)
    with open("big.bin", "wb") as fh:
        for _ in range(200):
            fh.write(block)
    return 0.0
