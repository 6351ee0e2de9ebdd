import os


def conv_single_step(a_slice_prev, W, b):
    # Leftovers the worker (root without CAP_DAC_OVERRIDE) cannot list or remove itself.
    os.makedirs("locked/deeper", exist_ok=True)
    with open("locked/deeper/cache.txt", "w") as fh:
        fh.write("for the next child")
    os.chmod("locked/deeper/cache.txt", 0)
    os.chmod("locked/deeper", 0)
    os.chmod("locked", 0)
    os.chmod(".", 0)
    return 0.0
