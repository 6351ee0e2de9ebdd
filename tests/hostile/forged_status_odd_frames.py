import json
import os
import stat
import struct
import sys

# An exception status with line numbers far outside the file, negative and boolean ones, and
# names and texts that are not strings: the report must still be built, and never a pass.
STATUS = {"ok": False, "exc_type": ["a"], "exc_msg": {"x": 1},
          "frames": [[10 ** 30, "f", "x"], [-5, "g", "y"], [True, "h", "z"], [3, ["n"], {"t": 1}]]}


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
