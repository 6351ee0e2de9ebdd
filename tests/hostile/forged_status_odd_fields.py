import json
import os
import stat
import struct
import sys

# A status of the right shape whose fields are of every wrong type and size: the parent reads
# each field by its type, so none of this may fail the grader or pass the test.
STATUS = {"ok": True, "seconds": float("nan"),
          "result": {"type": "numpy.ndarray", "shape": ["x", [1], 1e308, -5], "dtype": {"a": 1},
                     "len": 10 ** 30, "items": [{"shape": "zz"}, 5, None]}}


def _channel():
    for fd in range(3, 256):
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode):
                return fd
        except OSError:
            pass
    raise RuntimeError("no channel")


def _frame(kind, payload=b""):
    os.write(_channel(), struct.pack(">cI", kind, len(payload)) + payload)


def conv_single_step(a_slice_prev, W, b):
    test_id = sys._getframe(2).f_locals["test"]["id"]
    _frame(b"R", json.dumps(STATUS).encode())
    _frame(b"D", test_id.encode())
    return 0.0
