"""Sandbox attacks whose verdict alone does not show that they held: what the child saw."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from grader.code import grade_source
from grader.sandbox import SandboxLimits, SandboxPool
from grader.sandbox import bwrap_binary as bwrap_path
from grader.sandbox.runner import _parse_npy, _Unreadable

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = ROOT / "tests" / "hostile"
LIMITS = SandboxLimits(wall_s=1.0, cpu_s=2.0, memory_mb=256, import_wall_s=1.0, fsize_mb=16,
                       disk_mb=32)
REQUIRE = os.environ.get("STRIDE_REQUIRE_SERVICES") == "1"
needs_bwrap = pytest.mark.skipif(bwrap_path() is None and not REQUIRE, reason="needs bubblewrap")


@pytest.fixture(scope="module")
def pool():
    pool = SandboxPool(1)
    yield pool
    pool.shutdown()


def _first_message(pool, name: str) -> str:
    source = (HOSTILE / name).read_text().replace("__MARK__", "probe")
    report = grade_source(source, functions=["conv_single_step"], include_hidden=False,
                          limits=LIMITS, pool=pool)
    return report.functions[0].tests[0].message


@needs_bwrap
def test_the_sandboxs_root_and_dev_are_read_only_whoever_the_child_is(pool):
    # As root the child is uid 65534 and is refused by permissions alone (errno 13); a grader
    # run unprivileged keeps its own uid in the child, which owns these tmpfs: only a
    # read-only mount (errno 30, EROFS) holds for both.
    message = _first_message(pool, "write_outside_scratch.py")
    for folder in ("/", "/dev", "/dev/shm", "/sandbox"):
        assert f"{folder}: errno 30" in message, message


def _npy(header: dict, data: bytes = b"") -> bytes:
    import io

    import numpy as np

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + data


@pytest.mark.parametrize(("header", "data"), [
    ({"descr": [("a", "<f8", (0,))], "fortran_order": False, "shape": (10 ** 15,)}, b""),
    ({"descr": "|V0", "fortran_order": False, "shape": (10 ** 12,)}, b""),
    ({"descr": "<f8", "fortran_order": False, "shape": (-1, -8)}, b"\0" * 64),
    ({"descr": "<f8", "fortran_order": False, "shape": (0, 10 ** 15, 10 ** 15)}, b""),
    ({"descr": "<f8", "fortran_order": True, "shape": (1,) * 40}, b"\0" * 8),
], ids=["no-size-items", "void-0", "negative-dims", "overflowing-empty", "40-dims"])
def test_an_npy_header_the_parent_cannot_afford_is_unreadable_at_once(header, data):
    with pytest.raises(_Unreadable):
        _parse_npy(_npy(header, data), 1 << 24)


def test_ordinary_npy_outputs_still_parse():
    import numpy as np

    for value in (np.float64(2.5), np.zeros((0, 3)), np.arange(6.0).reshape(2, 3).T,
                  np.zeros((2, 1, 1, 1, 1, 1, 1, 3), dtype=np.float32)):
        import io

        buffer = io.BytesIO()
        np.save(buffer, value, allow_pickle=False)
        parsed = _parse_npy(buffer.getvalue(), 1 << 24)
        assert parsed.shape == np.shape(value) and np.array_equal(parsed, value)


def test_a_public_tests_child_holds_nothing_of_the_hidden_tests(pool):
    # Graded with and without the hidden tests, what a public test's child finds in its memory
    # (the inputs it inherited, every test of its job) and puts in its exception is the same.
    source = (HOSTILE / "hidden_inputs_from_memory.py").read_text()
    seen = {}
    for hidden in (False, True):
        report = grade_source(source, functions=["conv_single_step"], include_hidden=hidden,
                              limits=LIMITS, pool=pool)
        tests = report.functions[0].tests
        seen[hidden] = [t.message for t in tests if not t.hidden]
        assert len(tests) > len(seen[hidden]) or not hidden
    assert seen[True] == seen[False] and "inputs [(" in seen[True][0]


class _Pipe:
    """A stand-in for a worker process whose stdout is a pipe this test writes into."""

    def __init__(self):
        read_fd, self.write_fd = os.pipe()
        self.stdout = os.fdopen(read_fd, "rb", buffering=0)


def test_a_reply_is_read_whole_across_many_reads_and_refused_past_its_cap():
    import threading
    import time

    from grader.sandbox.runner import Worker

    worker = Worker.__new__(Worker)
    worker._buffer = bytearray()
    worker.proc = pipe = _Pipe()
    big = b"x" * (3 << 20)  # a reply arrives in many 64 KB reads; only new bytes are searched

    def write():
        try:
            os.write(pipe.write_fd, b"first\n" + big + b"\n" + big + b"\n")
        except BrokenPipeError:  # the reader stopped at the cap, as it should
            pass
        finally:
            os.close(pipe.write_fd)

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    deadline = time.monotonic() + 30
    assert worker._readline(deadline, 4 << 20) == b"first"
    assert worker._readline(deadline, 4 << 20) == big
    assert worker._readline(deadline, 1 << 10) is None  # past its cap: not read to the end
    pipe.stdout.close()
    writer.join()
