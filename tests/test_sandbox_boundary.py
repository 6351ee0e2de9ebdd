"""The trust boundary: what the child can send, keep, see, and how long it may run."""

from __future__ import annotations

import base64
import io
import os
import stat
import time
from pathlib import Path

import numpy as np
import pytest

import grader.sandbox.command as command
from grader.sandbox import Isolation, SandboxLimits, SandboxPool, TestCall, bwrap_binary, run_calls
from grader.sandbox.outcome import ChildStatus, Frame, OutcomeKind, ValueInfo, parse_status
from grader.sandbox.runner import _decode_arrays, _parse_npy
from grader.sandbox.zygote import MAX_ENTRIES

REQUIRE_SERVICES = os.environ.get("STRIDE_REQUIRE_SERVICES") == "1"
LIMITS = SandboxLimits(wall_s=1.0, cpu_s=2.0, memory_mb=256, import_wall_s=1.0, fsize_mb=16,
                       disk_mb=8)
needs_bwrap = pytest.mark.skipif(
    bwrap_binary() is None and not REQUIRE_SERVICES,
    reason="bubblewrap (bwrap) is not installed; `make test` installs it",
)


@pytest.fixture(scope="module")
def pool():
    pool = SandboxPool(1)
    yield pool
    pool.shutdown()


def _npy(value, **kwargs) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, value, **kwargs)
    return buffer.getvalue()


# ------------------------------------------------------------------ outputs, parsed in memory
def test_npy_bytes_round_trip_without_pickles():
    value = np.arange(12.0).reshape(3, 4)
    np.testing.assert_array_equal(_parse_npy(_npy(value), 1 << 20), value)
    fortran = np.asfortranarray(value)
    np.testing.assert_array_equal(_parse_npy(_npy(fortran), 1 << 20), value)


@pytest.mark.parametrize(("data", "reason"), [
    (_npy(np.array([{"x": 1}], dtype=object), allow_pickle=True), "object arrays are not accepted"),
    (_npy(np.zeros(4))[:-8], "its header does not match the size of its data"),
    (_npy(np.zeros(4)) + b"\0" * 8, "its header does not match the size of its data"),
    (b"60b93f secret key bytes", "its .npy header is not valid"),
    (b"root:$y$j9T$secret:19000:0:99999:7:::\n", "its .npy header is not valid"),
    (_npy(np.zeros(1000)), "it is larger than the file-size limit"),
])
def test_unreadable_outputs_get_a_reason_that_quotes_none_of_their_bytes(data, reason):
    encoded = {"r": base64.b64encode(data).decode()}
    arrays, problem = _decode_arrays(encoded, 4096)
    assert arrays is None
    assert problem == f"the output could not be read ({reason})"


def test_outputs_in_an_unexpected_form_are_unreadable():
    assert _decode_arrays({"r": "%%%not base64"}, 4096)[1] == (
        "the output could not be read (it is not in the expected form)")
    assert _decode_arrays({"../etc": ""}, 4096)[1] == (
        "the output could not be read (it is not in the expected form)")
    assert _decode_arrays({"r": "A" * 10_000}, 4096)[1] == (
        "the output could not be read (it is larger than the file-size limit)")


# ------------------------------------------------------------------------------- deadlines
FORGER = '''
import os, stat, struct, sys, time

def _channel():
    for fd in range(3, 256):
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode):
                return fd
        except OSError:
            pass

def rearm(x):
    while True:
        test_id = sys._getframe(1).f_locals["test"]["id"].encode()
        os.write(_channel(), struct.pack(">cI", b"S", len(test_id)) + test_id)
        time.sleep(0.05)

def borrow(x):
    tests = sys._getframe(1).f_back.f_locals["tests"]
    for test in tests:
        status = b'{"ok": true}'
        for kind, payload in ((b"R", status), (b"D", test["id"].encode())):
            os.write(_channel(), struct.pack(">cI", kind, len(payload)) + payload)
    while True:
        time.sleep(0.05)

def ok(x):
    return x
'''


def test_re_sending_the_start_of_a_test_is_a_protocol_violation(pool):
    rearm, ok = run_calls(FORGER, [TestCall("t0", "rearm", (1,), wall_s=3.0),
                                   TestCall("t1", "ok", (2.0,))], limits=LIMITS, pool=pool)
    assert rearm.outcome == "crashed"
    assert rearm.problem == ("the output could not be read: the result channel broke its "
                             "protocol")
    assert rearm.lifetime < 3.0  # killed at the first repeat, long before its own time limit
    assert ok.outcome == "done" and float(ok.arrays["r"]) == 2.0


def test_claiming_tests_done_never_buys_more_than_the_childs_total_time(pool):
    calls = [TestCall(f"t{i}", "borrow", (i,), wall_s=0.5) for i in range(3)]
    outcomes = run_calls(FORGER, calls, limits=LIMITS, pool=pool)
    # import_wall + the three walls + slack is the child's absolute deadline.
    assert max(o.lifetime for o in outcomes) < LIMITS.import_wall_s + 1.5 + 1.0
    assert not any(o.arrays for o in outcomes)


# ------------------------------------------------------------------ nothing persists, quota
KEEPER = '''
import os, stat, tempfile

PLACES = [".", tempfile.gettempdir(), os.path.expanduser("~"), "/tmp", "/dev/shm", "/var/tmp"]

def leave(x):
    for place in PLACES:
        try:
            with open(os.path.join(place, "cache.npy"), "w") as fh:
                fh.write("fast answer")
        except OSError:
            pass
    os.makedirs("locked/inner", exist_ok=True)
    with open("locked/inner/cache.txt", "w") as fh:
        fh.write("for the next child")
    os.chmod("locked/inner", 0)
    os.chmod("locked", 0)
    return float(len(os.listdir(".")))

def count(x):
    found = 0
    for place in PLACES:
        try:
            for top, dirs, files in os.walk(place):
                # Its own (fresh) scratch directory shows in /tmp: count what is inside it.
                dirs[:] = [d for d in dirs if os.path.join(top, d) != os.getcwd()]
                found += len(files) + len(dirs)
        except OSError:
            pass
    return float(found), float(stat.S_IMODE(os.stat(".").st_mode)), os.getcwd()
'''


@needs_bwrap
def test_nothing_a_child_writes_reaches_the_next_child_or_job(pool):
    leave, count = run_calls(KEEPER, [TestCall("t0", "leave", (1,), solo=True),
                                      TestCall("t1", "count", (1,), solo=True)],
                             limits=LIMITS, pool=pool)
    assert float(leave.arrays["r"]) >= 2  # it could write in its own scratch directory
    assert float(count.arrays["r0"]) == 0.0
    assert int(count.arrays["r1"]) == 0o700
    worker_pid = pool._all[0].proc.pid
    [again] = run_calls(KEEPER, [TestCall("t0", "count", (1,))], limits=LIMITS, pool=pool)
    assert float(again.arrays["r0"]) == 0.0
    assert pool._all[0].proc.pid == worker_pid  # cleaned, not restarted


@needs_bwrap
def test_the_disk_quota_is_a_real_size_limit(pool):
    source = ("def f(x):\n    with open('big', 'wb') as fh:\n"
              "        for _ in range(12):\n            fh.write(b'x' * (1 << 20))\n")
    [out] = run_calls(source, [TestCall("t0", "f", (1,))], limits=LIMITS, pool=pool)
    # 8 MB of tmpfs: the write fails (or the worker stops the child at the full disk).
    assert out.outcome == "disk_quota" or "No space left" in out.status.exc_msg


@needs_bwrap
def test_the_child_sees_no_process_of_the_host(pool):
    source = ("import os\ndef f(x):\n"
              "    return float(sum(n.isdigit() for n in os.listdir('/proc')))\n")
    [out] = run_calls(source, [TestCall("t0", "f", (1,))], limits=LIMITS, pool=pool)
    # bubblewrap's init, the warm worker, the job's process and the child
    assert float(out.arrays["r"]) <= 4.0
    assert not Path(f"/proc/{os.getpid()}").samefile("/proc/1")


# ---------------------------------------------------------------------------- the parent
def test_a_worker_reply_past_its_cap_is_lost_not_buffered(tmp_path, monkeypatch):
    flood = tmp_path / "flooding_worker.py"
    flood.write_text("import sys\nprint('{\"ready\": true}', flush=True)\nsys.stdin.readline()\n"
                     "chunk = 'x' * (1 << 20)\nwhile True:\n    sys.stdout.write(chunk)\n")
    monkeypatch.setattr(command, "ZYGOTE", flood)
    pool = SandboxPool(1, Isolation("limits-only", reason="a test of the parent"))
    started = time.monotonic()
    try:
        [out] = run_calls("", [TestCall("t0", "f", (1,), wall_s=30.0)], limits=LIMITS,
                          pool=pool)
    finally:
        pool.shutdown()
    assert out.outcome == "lost"
    assert time.monotonic() - started < 30.0  # stopped at the cap, not at the deadline


def test_limits_only_scratch_directories_are_private_and_removed():
    pool = SandboxPool(1, Isolation("limits-only", reason="a test of privacy"))
    source = ("import os, stat\ndef f(x):\n"
              "    return float(stat.S_IMODE(os.stat('.').st_mode)), os.getcwd()\n")
    try:
        [out] = run_calls(source, [TestCall("t0", "f", (1,))], limits=LIMITS, pool=pool)
        root = pool._all[0].scratch_root
        assert stat.S_IMODE(root.stat().st_mode) == (0o711 if os.geteuid() == 0 else 0o700)
        assert int(out.arrays["r0"]) == 0o700
        assert list(root.iterdir()) == []  # the child's directory is gone with the child
    finally:
        pool.shutdown()
    assert not root.exists()


def test_the_childs_status_is_parsed_once_and_a_field_of_the_wrong_type_reads_as_missing():
    status = parse_status({
        "ok": True, "exc_type": 5, "stage": None,
        "frames": [[3, "f", "x = 1"], ["3", "g", "y"], [1, 2], "frame"],
        "result": {"type": "builtins.tuple", "len": "2", "items": "x", "shape": "big"}})
    assert status == ChildStatus(ok=True, exc_type="5", frames=(Frame(3, "f", "x = 1"),),
                                 result=ValueInfo(type="builtins.tuple"))
    assert not status.result.is_sequence
    nested = parse_status({"result": {"type": "t", "len": 2, "items": [{"len": 1}, 7]}})
    assert nested.result.items == (ValueInfo(length=1), None) and nested.result.is_sequence
    assert parse_status("garbage") is None and parse_status(None) is None
    assert OutcomeKind.parse("bogus") is OutcomeKind.LOST
    assert OutcomeKind.parse("import_timeout").at_import and not OutcomeKind.TIMEOUT.at_import


MEMORY_SCAN = '''
import ctypes

HEAD, TAIL = b"STRIDE_EARLIER_", b"JOB_MARKER_7741"


def f(x):
    # The marker is never built whole here, so each hit is a copy left by another job.
    hits = 0
    with open("/proc/self/maps") as fh:
        lines = fh.read().splitlines()
    for line in lines:
        addr, perms = line.split()[:2]
        lo, hi = (int(v, 16) for v in addr.split("-"))
        if not perms.startswith("rw") or hi - lo > 64 << 20:
            continue
        try:
            data = ctypes.string_at(lo, hi - lo)
        except Exception:
            continue
        at = data.find(HEAD)
        while at >= 0:
            hits += data[at + len(HEAD):at + len(HEAD) + len(TAIL)] == TAIL
            at = data.find(HEAD, at + 1)
    return hits
'''


def test_a_job_finds_nothing_of_an_earlier_job_in_its_memory():
    victim = ("# STRIDE_EARLIER_JOB_MARKER_7741 in the source\n"
              "def f(x):\n    raise ValueError('STRIDE_EARLIER_JOB_MARKER_7741 in the reply')\n")
    limits = SandboxLimits(wall_s=10.0, cpu_s=20.0, memory_mb=512, import_wall_s=2.0)
    pool = SandboxPool(1)
    try:
        first = run_calls(victim, [TestCall(id="t", func="f", args=(1,))], limits=limits,
                          pool=pool)
        assert "STRIDE_EARLIER_JOB_MARKER_7741" in first[0].status.exc_msg
        [scan] = run_calls(MEMORY_SCAN, [TestCall(id="t", func="f", args=(1,))], limits=limits,
                           pool=pool)
    finally:
        pool.shutdown()
    assert scan.outcome is OutcomeKind.DONE, scan
    assert int(scan.arrays["r"]) == 0


def test_closing_the_result_pipe_does_not_switch_off_the_wall_clock(pool):
    source = ("import os, time\ndef f(x):\n    os.closerange(3, 1 << 16)\n"
              "    while True:\n        time.sleep(1)\n")
    calls = [TestCall(id=f"t{i}", func="f", args=(i,)) for i in range(3)]
    first, *rest = run_calls(source, calls, limits=LIMITS, pool=pool)
    assert first.outcome == "timeout"
    assert first.problem == ("the code closed its result channel and kept running until it "
                             "was stopped")
    assert [o.outcome for o in rest] == ["skipped_after_timeout"] * 2


SYSV = '''
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
libc.shmdt.argtypes = [ctypes.c_void_p]
KEY = 0x5717


def write(x):
    shmid = libc.shmget(KEY, 4096, 0o1000 | 0o600)
    addr = libc.shmat(shmid, None, 0)
    ctypes.memmove(addr, b"cached-result-42", 16)
    libc.shmdt(addr)
    sem = libc.semget(KEY, 1, 0o1000 | 0o600)
    msg = libc.msgget(KEY, 0o1000 | 0o600)
    return min(shmid, sem, msg)


def read(x):
    # 1 for each object still there: the segment, the semaphore set, the message queue.
    return sum(getter(KEY, *args) >= 0 for getter, args in
               ((libc.shmget, (4096, 0o600)), (libc.semget, (1, 0o600)), (libc.msgget, (0o600,))))
'''


@needs_bwrap
def test_sysv_ipc_objects_do_not_outlive_their_child(pool):
    calls = [TestCall(id="w", func="write", args=(0,), solo=True),
             TestCall(id="r", func="read", args=(0,), solo=True)]
    wrote, read = run_calls(SYSV, calls, limits=LIMITS, pool=pool)
    assert wrote.outcome == "done" and int(wrote.arrays["r"]) >= 0
    assert int(read.arrays["r"]) == 0
    run_calls(SYSV, [TestCall(id="w", func="write", args=(0,))], limits=LIMITS, pool=pool)
    [later] = run_calls(SYSV, [TestCall(id="r", func="read", args=(0,))], limits=LIMITS,
                        pool=pool)
    assert int(later.arrays["r"]) == 0


@needs_bwrap
def test_a_child_making_too_many_empty_files_is_stopped_and_told_why(pool):
    source = ("import os\ndef f(x):\n    n = 0\n    while True:\n"
              "        os.close(os.open('e%d' % n, os.O_CREAT | os.O_WRONLY, 0o600))\n"
              "        n += 1\n")
    [out] = run_calls(source, [TestCall("t0", "f", (1,))], limits=LIMITS, pool=pool)
    assert out.outcome == "disk_quota"
    assert out.problem == f"the code made more than {MAX_ENTRIES} files in its scratch area"
