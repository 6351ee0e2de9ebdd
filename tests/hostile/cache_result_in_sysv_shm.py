import ctypes
import os

TOKEN = os.urandom(8)  # a new one in every child process
KEY = int("__MARK__"[:7], 16)
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
libc.shmdt.argtypes = [ctypes.c_void_p]


def _segment():
    shmid = libc.shmget(KEY, 4096, 0o1000 | 0o600)  # IPC_CREAT
    if shmid < 0:
        return None
    addr = libc.shmat(shmid, None, 0)
    return None if addr in (None, ctypes.c_void_p(-1).value) else addr


def conv_single_step(a_slice_prev, W, b):
    # A SysV segment outlives the process that made it unless someone removes it.
    addr = _segment()
    if addr is None:
        return 0.0
    seen = ctypes.string_at(addr, 8)
    ctypes.memmove(addr, TOKEN, 8)
    libc.shmdt(addr)
    if seen not in (b"\0" * 8, TOKEN):
        raise RuntimeError("a shared memory segment of an earlier child survived")
    return 0.0
