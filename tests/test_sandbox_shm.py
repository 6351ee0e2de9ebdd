"""SysV shared memory is held to the job's memory limit while a child runs: by the IPC
namespace's own limits where the worker can set them (root of the namespace), else by polling
the namespace's segments (a worker in a user namespace), and nothing is left after the child.

tests/test_hostile.py grades the hostile file through the whole grader; here the raw outcomes.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import grader.sandbox.command as command
from grader.sandbox import (
    OutcomeKind,
    SandboxLimits,
    SandboxPool,
    TestCall,
    bwrap_binary,
    run_calls,
)

ROOT = Path(__file__).resolve().parents[1]
REQUIRE_SERVICES = os.environ.get("STRIDE_REQUIRE_SERVICES") == "1"
pytestmark = pytest.mark.skipif(bwrap_binary() is None and not REQUIRE_SERVICES,
                                reason="bubblewrap (bwrap) is not installed")
LIMITS = SandboxLimits(wall_s=2.0, cpu_s=3.0, memory_mb=64, import_wall_s=1.0, disk_mb=8)
HOARD = """
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmget.argtypes = [ctypes.c_int, ctypes.c_size_t, ctypes.c_int]

def hoard(count):
    made = 0
    for _ in range(count):
        if libc.shmget(0, 16 * 1024 * 1024, 0o1000 | 0o600) < 0:  # IPC_PRIVATE, IPC_CREAT
            raise MemoryError(f"shmget refused after {made} segments")
        made += 1
    while True:  # hold them: only the poll can stop this child before its wall clock
        pass
"""
POLL_ONLY = "def _limit_ipc(memory):\n    return False\n\n\ndef _limit_ipc_unused(memory):"


def _call(count: int) -> list[TestCall]:
    return [TestCall(id="t", func="hoard", args=(count,), wall_s=2.0)]


def _pid(pool: SandboxPool) -> int:
    return pool._all[0].proc.pid


def test_the_namespace_limit_refuses_segments_past_the_memory_limit():
    pool = SandboxPool(1)
    try:
        (outcome,) = run_calls(HOARD, _call(8), limits=LIMITS, pool=pool)  # 128 MB > 64 MB
        assert outcome.outcome is OutcomeKind.DONE
        assert outcome.status.exc_type == "MemoryError"
        assert outcome.status.exc_msg.startswith("shmget refused after 4 segments")
        pid = _pid(pool)
        (outcome,) = run_calls(HOARD, _call(8), limits=LIMITS, pool=pool)
        assert outcome.status.exc_msg.startswith("shmget refused after 4 segments")
        assert _pid(pool) == pid  # nothing was left: the worker was not restarted
    finally:
        pool.shutdown()


def test_where_the_limit_cannot_be_set_the_segments_are_polled_and_the_child_stopped(
        tmp_path, monkeypatch):
    zygote = tmp_path / "zygote.py"
    text = command.ZYGOTE.read_text()
    assert "def _limit_ipc(memory):" in text
    zygote.write_text(text.replace("def _limit_ipc(memory):", POLL_ONLY, 1))
    monkeypatch.setattr(command, "ZYGOTE", zygote)
    pool = SandboxPool(1)
    try:
        (outcome,) = run_calls(HOARD, _call(8), limits=LIMITS, pool=pool)
        assert outcome.outcome is OutcomeKind.CRASHED
        assert outcome.problem == "the code held more SysV shared memory than its memory limit"
        pid = _pid(pool)
        (small,) = run_calls(HOARD, _call(2), limits=LIMITS, pool=pool)  # 32 MB: within it
        assert small.outcome is OutcomeKind.TIMEOUT
        assert _pid(pool) == pid
    finally:
        pool.shutdown()
