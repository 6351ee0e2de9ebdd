"""Hostile submissions: each gets its expected verdict, none passes, none hurts the grader.

Every file in tests/hostile/ attacks ``conv_single_step``; ``__REPO__`` and ``__CANARY__`` in
its text are replaced by the repository path and a canary file outside the job directory.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from grader.codegrade import grade_source
from grader.sandbox import SandboxLimits, SandboxPool
from grader.sandbox import bwrap_binary as bwrap_path

ROOT = Path(__file__).resolve().parents[1]
REQUIRE_SERVICES = os.environ.get("STRIDE_REQUIRE_SERVICES") == "1"
HOSTILE = ROOT / "tests" / "hostile"
LIMITS = SandboxLimits(wall_s=1.0, cpu_s=2.0, memory_mb=256, import_wall_s=1.0, fsize_mb=16,
                       disk_mb=32)
CANARY = Path("/tmp/stride-hostile-canary.txt")
BWRAP = bwrap_path() is not None

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
    ("monkeypatch_grader.py", {"exception"}, True),
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
    ("huge_array.py", {"wrong shape", "memory limit"}, False),
    ("modify_inputs.py", {"wrong values"}, False),
    ("forge_outputs.py", {"wrong values", "crashed"}, False),
    ("pickle_output.py", {"wrong type"}, False),
    ("forged_npy_header.py", {"wrong type"}, False),
    ("fd_exhaustion.py", {"exception"}, False),
    ("disk_filler.py", {"crashed"}, False),
    ("raise_rlimits.py", {"exception"}, False),
    ("proc_snoop.py", {"exception"}, True),
    ("stdin_read.py", {"wrong type"}, False),
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


@pytest.fixture(scope="module")
def pool():
    pool = SandboxPool(1)
    yield pool
    pool.shutdown()


@pytest.fixture
def canary():
    CANARY.write_text("untouched")
    digest = hashlib.sha256(CANARY.read_bytes()).hexdigest()
    yield digest
    CANARY.unlink(missing_ok=True)


def test_there_are_at_least_thirty_hostile_files_and_all_are_in_the_table():
    files = sorted(p.name for p in HOSTILE.glob("*.py"))
    assert len(files) >= 30
    assert sorted(name for name, _, _ in CASES) == files


@pytest.mark.parametrize(("name", "verdicts", "sandbox_only"), CASES,
                         ids=[c[0].removesuffix(".py") for c in CASES])
def test_hostile_submission(pool, canary, monkeypatch, name, verdicts, sandbox_only):
    if sandbox_only and not BWRAP:
        if REQUIRE_SERVICES:
            pytest.fail("bubblewrap is required under STRIDE_REQUIRE_SERVICES=1")
        verdicts = None  # without bubblewrap only "never a false pass" is promised
    if name == "kill_everyone.py" and not BWRAP and os.geteuid() != 0:
        pytest.skip("without a pid namespace or a uid drop, kill(-1) would reach every process "
                    "of this user")
    monkeypatch.setenv("STRIDE_HOSTILE_SECRET", "hunter2")
    source = (HOSTILE / name).read_text().replace("__REPO__", str(ROOT)).replace(
        "__CANARY__", str(CANARY))
    before = _snapshot(ROOT)
    started = time.monotonic()
    report = grade_source(source, functions=["conv_single_step"], include_hidden=False,
                          limits=LIMITS, pool=pool)
    elapsed = time.monotonic() - started
    tests = report.functions[0].tests
    assert tests and not any(t.passed for t in tests)
    assert report.score == 0
    if verdicts is not None:
        assert {t.verdict for t in tests} <= verdicts, [(t.verdict, t.message) for t in tests]
    assert hashlib.sha256(CANARY.read_bytes()).hexdigest() == canary
    # Other processes may edit the checkout meanwhile: look at what changed for our marker.
    after = _snapshot(ROOT)
    changed = [p for p, mtime in after.items() if before.get(p) != mtime]
    assert not [p for p in changed if b"pwned" in Path(p).read_bytes()]
    assert not (ROOT / "HACKED.txt").exists()
    assert not Path("/tmp/stride-hacked.txt").exists()
    assert elapsed < 30


def test_the_grader_still_works_after_the_hostile_cases(pool):
    source = (ROOT / "tests" / "submissions" / "correct_loops.py").read_text()
    report = grade_source(source, functions=["conv_single_step"], limits=LIMITS, pool=pool)
    assert report.functions[0].status == "passed"
