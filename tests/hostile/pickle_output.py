import numpy as np

_real_save = np.save


def _evil_save(path, value, allow_pickle=False):
    # Smuggle a pickle through the harness: the grader must refuse to unpickle it.
    _real_save(path, np.array([{"x": 1}, None], dtype=object), allow_pickle=True)


np.save = _evil_save


def conv_single_step(a_slice_prev, W, b):
    return 1.5
