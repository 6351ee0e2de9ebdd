import sys

import numpy as np


def _in_the_grader():
    # The trusted side has the grader imported; the sandbox's child never does.
    if "grader.code" in sys.modules:
        with open("/tmp/stride-hacked.txt", "w") as fh:
            fh.write("pwned")
    return 0.0


class Lazy(np.ndarray):
    """Every hook the grader's side might call on a returned object, each one hostile there."""

    def __array_finalize__(self, obj):
        _in_the_grader()

    def __array_function__(self, func, types, args, kwargs):
        _in_the_grader()
        return NotImplemented

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        _in_the_grader()
        return NotImplemented

    def __float__(self):
        return _in_the_grader()

    def __len__(self):
        _in_the_grader()
        return 1

    def __eq__(self, other):
        return _in_the_grader() == 0.0

    def __repr__(self):
        return str(_in_the_grader())

    def __reduce__(self):
        return (_in_the_grader, ())

    def __del__(self):
        _in_the_grader()


class Duck:
    def __array__(self, dtype=None, copy=None):
        _in_the_grader()
        return np.zeros(())

    def __float__(self):
        return _in_the_grader()

    def __del__(self):
        _in_the_grader()


def conv_single_step(a_slice_prev, W, b):
    value = np.float64(np.sum(a_slice_prev * W) + b.item())
    return (np.asarray(value).view(Lazy), Duck())
