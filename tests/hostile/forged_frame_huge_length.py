import os
import stat
import struct
import sys


def _channel():
    # The child's only open pipe is its result channel to the worker.
    for fd in range(3, 256):
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode):
                return fd
        except OSError:
            pass
    raise RuntimeError("no channel")


def _frame(kind, payload=b""):
    os.write(_channel(), struct.pack(">cI", kind, len(payload)) + payload)


def _current_id():
    return sys._getframe(2).f_locals["test"]["id"]


def conv_single_step(a_slice_prev, W, b):
    # Announce a 4 GB output: the worker must refuse before reading (or allocating) any of it.
    os.write(_channel(), struct.pack(">cI", b"A", 2 ** 32 - 1) + b"r\n" + b"\0" * 4096)
    return 0.0
