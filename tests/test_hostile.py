"""Hostile submissions: each gets its expected verdict, none passes, none hurts the grader.

Every file in tests/hostile/ attacks ``conv_single_step``. In its text ``__REPO__`` becomes the
repository path, ``__CANARY__`` a canary file made for that test under its tmp_path (with a
random content that must never appear in a report), and ``__MARK__`` a random marker naming
whatever the file tries to leave behind.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from pathlib import Path

import pytest

from grader.code import grade_source
from grader.sandbox import SandboxLimits, SandboxPool
from grader.sandbox import bwrap_binary as bwrap_path

ROOT = Path(__file__).resolve().parents[1]
REQUIRE_SERVICES = os.environ.get("STRIDE_REQUIRE_SERVICES") == "1"
HOSTILE = ROOT / "tests" / "hostile"
LIMITS = SandboxLimits(wall_s=1.0, cpu_s=2.0, memory_mb=256, import_wall_s=1.0, fsize_mb=16,
                       disk_mb=32)
BWRAP = bwrap_path() is not None
SHARED_PLACES = (Path("/tmp"), Path("/dev/shm"), Path("/var/tmp"))
# Two public tests of 1 s after a 1 s import, in at most two children: far below this, and far
# below what the deadline-extending files would take if they could extend anything (60 s).
MAX_SECONDS = 15.0
GRADED_TWICE = {"cache_result_in_file.py", "cache_result_in_sysv_shm.py"}  # the second job must not see the first one's files

# (file, verdicts accepted, needs bubblewrap for that verdict)
CASES = [
    ("infinite_loop.py", {"timeout"}, False),
    ("sleep_forever.py", {"timeout"}, False),
    ("import_time_loop.py", {"timeout"}, False),
    ("ignore_sigterm.py", {"timeout"}, False),
    ("fork_bomb.py", {"exception"}, False),
    ("subprocess_spawn.py", {"exception"}, False),
    ("memory_bomb.py", {"memory limit"}, False),
    ("huge_stdout.py", {"wrong values"}, False),
    ("write_outside.py", {"exception"}, False),
    ("read_reference.py", {"exception"}, True),
    ("read_problems.py", {"exception"}, True),
    ("read_specs.py", {"exception"}, True),
    ("read_database.py", {"exception"}, True),
    ("read_secret_env.py", {"exception"}, False),
    ("network.py", {"exception"}, True),
    ("monkeypatch_numpy.py", {"wrong values"}, False),
    # `import grader...` is a stand-in (not a provided module), so the top-level line that
    # would patch the grader can only fail and is left out: the stub's 0.0 is judged as is.
    ("monkeypatch_grader.py", {"wrong values"}, True),
    ("fake_result_print.py", {"wrong values"}, False),
    ("sys_exit.py", {"exception"}, False),
    ("os_exit.py", {"crashed"}, False),
    ("import_exit.py", {"exception"}, False),
    ("kill_parent.py", {"exception", "crashed"}, False),
    ("kill_everyone.py", {"wrong values", "crashed"}, False),
    ("ctypes_segfault.py", {"crashed"}, False),
    ("deep_recursion.py", {"exception"}, False),
    ("unlimited_recursion.py", {"timeout", "crashed", "exception"}, False),
    ("rigged_subclass.py", {"wrong values"}, False),
    ("object_array.py", {"wrong dtype"}, False),
    ("nan_inf.py", {"not finite"}, False),
    ("wrong_dtype_complex.py", {"wrong dtype"}, False),
    ("wrong_dtype_string.py", {"wrong dtype"}, False),
    ("import_error.py", {"exception"}, False),
    ("syntax_error.py", {"exception"}, False),
    ("empty.py", {"not attempted"}, False),
    ("threads_outlive.py", {"exception"}, False),
    # 96 MB against a 16 MB output cap; on a loaded machine the child may be stopped mid-write.
    ("huge_array.py", {"wrong shape", "memory limit", "crashed"}, False),
    ("modify_inputs.py", {"wrong values"}, False),
    ("forge_outputs.py", {"wrong values", "crashed"}, False),
    ("pickle_output.py", {"wrong type"}, False),
    ("forged_npy_header.py", {"wrong type"}, False),
    ("fd_exhaustion.py", {"exception"}, False),
    ("disk_filler.py", {"crashed"}, False),
    ("raise_rlimits.py", {"exception"}, False),
    ("proc_snoop.py", {"exception"}, True),
    ("stdin_read.py", {"wrong type"}, False),
    # The output area and the result channel.
    ("fifo_in_output_area.py", {"wrong values"}, False),
    ("symlink_to_canary.py", {"wrong values"}, False),
    ("symlink_to_shadow.py", {"wrong values"}, False),
    ("hardlink_to_canary.py", {"exception"}, False),
    ("mknod_device.py", {"exception"}, False),
    ("rearm_progress_text.py", {"crashed"}, False),
    ("rearm_progress_frames.py", {"crashed"}, False),
    ("borrow_next_wall.py", {"wrong type", "timeout", "crashed"}, False),
    ("forged_frame_huge_length.py", {"crashed"}, False),
    ("forged_frame_other_id.py", {"crashed"}, False),
    ("forged_frame_more_than_announced.py", {"crashed"}, False),
    ("forged_frame_pickle.py", {"wrong type", "crashed"}, False),
    ("forged_status_garbage.py", {"exception", "crashed"}, False),
    ("write_to_every_fd.py", {"crashed"}, False),
    ("close_result_pipe.py", {"timeout"}, False),
    ("huge_output_past_fsize.py", {"wrong shape"}, False),
    ("huge_output_past_frame_cap.py", {"crashed"}, False),
    ("tuple_of_big_outputs.py", {"wrong type"}, False),
    # State that could outlive a child, and the disk quota.
    ("cache_result_in_file.py", {"wrong values"}, True),
    ("cache_result_in_sysv_shm.py", {"wrong values"}, True),
    ("thread_keeps_running.py", {"exception", "wrong values"}, False),
    ("daemon_grandchild.py", {"exception"}, False),
    ("mode_000_leftovers.py", {"wrong values", "exception"}, False),
    ("disk_flood_many_files.py", {"crashed"}, True),
    ("disk_flood_empty_files.py", {"crashed"}, True),
    ("disk_flood_one_file.py", {"exception"}, False),
    ("write_host_tmp_dirs.py", {"exception"}, True),
    # Secrets of other processes, the network, privileges.
    ("environ_self.py", {"exception"}, False),
    ("environ_init.py", {"exception"}, True),
    ("environ_ancestors.py", {"exception"}, True),
    ("proc_walk.py", {"exception"}, True),
    ("raw_socket_postgres.py", {"exception"}, True),
    ("raw_socket_redis.py", {"exception"}, True),
    ("forge_rq_job.py", {"exception"}, True),
    ("setuid_root.py", {"exception"}, False),
    ("kill_worker_group.py", {"exception"}, True),
    ("read_parent_memory.py", {"exception"}, False),
    # SysV shared memory is held to the memory limit by the IPC namespace's own limits.
    ("sysv_shm_beyond_memory_limit.py", {"memory limit"}, True),
    # Outputs the parent must not spend its own time on, or fail on.
    ("zero_itemsize_huge_shape.py", {"wrong type"}, False),
    ("forged_npy_zero_itemsize.py", {"wrong type"}, False),
    ("forged_npy_negative_shape.py", {"wrong type"}, False),
    ("forged_npy_empty_huge_dims.py", {"wrong type"}, False),
    # Signals, ptrace and descriptors.
    ("sigstop_self.py", {"timeout"}, False),
    ("sigstop_parent.py", {"exception"}, True),
    ("ptrace_parent.py", {"exception"}, False),
    ("inherited_fds.py", {"exception"}, False),
    # Statuses of odd fields, and files outside the scratch area.
    ("forged_status_odd_fields.py", {"wrong type", "crashed"}, False),
    ("forged_status_odd_frames.py", {"exception", "crashed"}, False),
    ("write_outside_scratch.py", {"exception"}, True),
    ("hidden_inputs_from_memory.py", {"exception"}, False),
    ("hooks_for_the_parent.py", {"wrong type", "wrong values", "wrong shape"}, False),
    ("strided_huge_views.py", {"wrong type"}, False),
    # More items than the result channel has keys for, too many to save one by one.
    ("long_sequence_result.py", {"wrong type"}, False),
    # An exception whose message cheats the length cap, and whose repr raises.
    ("exception_str_misbehaves.py", {"exception"}, False),
]


def _snapshot(root: Path) -> dict[str, float]:
    skip = {".git", ".venv", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis",
            "node_modules", "instance"}
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in skip]
        for name in filenames:
            path = os.path.join(dirpath, name)
            found[path] = os.stat(path).st_mtime
    return found


def _entries(place: Path) -> list[Path]:
    try:
        return list(place.iterdir())
    except OSError:
        return []


def _left_behind(mark: str) -> list[str]:
    """Entries naming ``mark`` in the host's shared temporary places (two levels deep)."""
    found = []
    for place in SHARED_PLACES:
        tops = [place, *(p for p in _entries(place) if p.is_dir() and not p.is_symlink())]
        for top in tops:
            found += [str(p) for p in _entries(top) if mark in p.name]
    return found


def _redis_has(key: str) -> bool | None:
    """Whether the local Redis holds ``key`` (None when Redis is unreachable)."""
    try:
        import redis

        client = redis.Redis(host="127.0.0.1", port=6379, socket_timeout=1)
        return bool(client.exists(key))
    except Exception:  # noqa: BLE001 - no Redis here: nothing to check
        return None


def _texts(report) -> str:
    parts = list(report.warnings)
    for function in report.functions:
        for test in function.tests:
            parts += [test.message, test.diagnosis or ""]
    return "\n".join(parts)


@pytest.fixture(scope="module")
def pool():
    pool = SandboxPool(1)
    yield pool
    pool.shutdown()


@pytest.fixture
def canary(tmp_path):
    """A file of the grader's with a random content: its path, content and digest."""
    path = tmp_path / "canary.txt"
    content = "canary-" + secrets.token_hex(16)
    path.write_text(content)
    return path, content, hashlib.sha256(path.read_bytes()).hexdigest()


def test_there_are_at_least_seventy_five_hostile_files_and_all_are_in_the_table():
    files = sorted(p.name for p in HOSTILE.glob("*.py"))
    assert len(files) >= 75
    assert sorted(name for name, _, _ in CASES) == files


def _grade_and_check(pool, source, verdicts, secret, canary_text, tmp_path):
    report = grade_source(source, functions=["conv_single_step"], include_hidden=False,
                          limits=LIMITS, pool=pool)
    tests = report.functions[0].tests
    assert tests and not any(t.passed for t in tests)
    assert report.score == 0
    if verdicts is not None:
        assert {t.verdict for t in tests} <= verdicts, [(t.verdict, t.message) for t in tests]
    texts = _texts(report)
    assert secret not in texts and canary_text not in texts
    # No line of /etc/shadow, no command line of the grader, no host path: only what the
    # file itself already says.
    for text in ("root:", "pytest", str(tmp_path), str(ROOT)):
        assert text in source or text not in texts, text


@pytest.mark.parametrize(("name", "verdicts", "sandbox_only"), CASES,
                         ids=[c[0].removesuffix(".py") for c in CASES])
def test_hostile_submission(pool, canary, monkeypatch, tmp_path, name, verdicts, sandbox_only):
    if sandbox_only and not BWRAP:
        if REQUIRE_SERVICES:
            pytest.fail("bubblewrap is required under STRIDE_REQUIRE_SERVICES=1")
        verdicts = None  # without bubblewrap only "never a false pass" is promised
    if name == "kill_everyone.py" and not BWRAP and os.geteuid() != 0:
        pytest.skip("without a pid namespace or a uid drop, kill(-1) would reach every process "
                    "of this user")
    canary_path, canary_text, digest = canary
    secret = "secret-" + secrets.token_hex(12)
    mark = secrets.token_hex(8)
    monkeypatch.setenv("STRIDE_HOSTILE_SECRET", secret)
    source = (HOSTILE / name).read_text().replace("__REPO__", str(ROOT)).replace(
        "__CANARY__", str(canary_path)).replace("__MARK__", mark)
    before = _snapshot(ROOT)
    started = time.monotonic()
    runs = 2 if name in GRADED_TWICE else 1
    for _ in range(runs):
        _grade_and_check(pool, source, verdicts, secret, canary_text, tmp_path)
    elapsed = time.monotonic() - started
    assert hashlib.sha256(canary_path.read_bytes()).hexdigest() == digest
    # Other processes may edit the checkout meanwhile: look at what changed for our marker.
    after = _snapshot(ROOT)
    changed = [p for p, mtime in after.items() if before.get(p) != mtime]
    assert not [p for p in changed if b"pwned" in Path(p).read_bytes()]
    assert not (ROOT / "HACKED.txt").exists()
    assert not Path("/tmp/stride-hacked.txt").exists()
    if BWRAP:
        assert _left_behind(mark) == []
        assert _redis_has(f"rq:queue:stride-hostile-{mark}") in (False, None)
    assert elapsed < MAX_SECONDS * runs


def test_the_grader_still_works_after_the_hostile_cases(pool):
    source = (ROOT / "tests" / "submissions" / "correct_loops.py").read_text()
    report = grade_source(source, functions=["conv_single_step"], limits=LIMITS, pool=pool)
    assert report.functions[0].status == "passed"


@pytest.mark.parametrize("name", ["forged_frame_other_id.py", "forged_frame_huge_length.py"])
def test_a_protocol_violation_is_reported_as_one_not_as_a_crash_of_python(pool, name):
    source = (HOSTILE / name).read_text()
    report = grade_source(source, functions=["conv_single_step"], include_hidden=False,
                          limits=LIMITS, pool=pool)
    first = report.functions[0].tests[0]
    assert first.verdict == "crashed"
    assert first.message == ("Your code was stopped in conv_single_step: the output could not "
                             "be read: the result channel broke its protocol.")
    assert "SIGKILL" not in _texts(report) and "Python crashed" not in _texts(report)


def test_a_child_that_closes_its_result_pipe_is_still_stopped_at_its_deadline(pool):
    source = (HOSTILE / "close_result_pipe.py").read_text()
    report = grade_source(source, functions=["conv_single_step"], include_hidden=False,
                          limits=LIMITS, pool=pool)
    first, *rest = report.functions[0].tests
    assert first.verdict == "timeout"
    assert first.message.startswith("conv_single_step did not return within 1 s")
    assert all(t.verdict in {"timeout", "skipped"} for t in rest), [t.verdict for t in rest]


@pytest.mark.skipif(not BWRAP and not REQUIRE_SERVICES, reason="needs bubblewrap")
def test_sysv_shared_memory_past_the_memory_limit_is_refused_and_nothing_is_left(pool):
    source = (HOSTILE / "sysv_shm_beyond_memory_limit.py").read_text()
    pids = []
    for _ in range(2):
        report = grade_source(source, functions=["conv_single_step"], include_hidden=False,
                              limits=LIMITS, pool=pool)
        assert {t.verdict for t in report.functions[0].tests} == {"memory limit"}
        worker = pool._all[0]
        # A worker whose child left a segment is stopped (dirty) and restarted for the next job.
        assert worker.alive
        pids.append(worker.proc.pid)
    assert pids[0] == pids[1]
    message = report.functions[0].tests[0].message
    assert "memory" in message.lower(), message
