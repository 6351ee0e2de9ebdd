"""The sandbox runner: warm workers, limits, isolation, and what crosses the boundary."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np
import pytest

from grader.sandbox import Frame, SandboxLimits, SandboxPool, TestCall, run_calls
from grader.sandbox import bwrap_binary as bwrap_path
from grader.sandbox.command import bwrap_command

ROOT = Path(__file__).resolve().parents[1]
REQUIRE_SERVICES = os.environ.get("STRIDE_REQUIRE_SERVICES") == "1"
LIMITS = SandboxLimits(wall_s=1.0, cpu_s=2.0, memory_mb=256, import_wall_s=1.0, fsize_mb=16)

needs_bwrap = pytest.mark.skipif(
    bwrap_path() is None and not REQUIRE_SERVICES,
    reason="bubblewrap (bwrap) is not installed; `make test` installs it",
)


@pytest.fixture(scope="module")
def pool():
    pool = SandboxPool(1)
    yield pool
    pool.shutdown()


def _run(pool, source, *calls):
    return run_calls(source, list(calls), limits=LIMITS, pool=pool)


def test_arrays_cross_as_npy_and_come_back_as_plain_arrays(pool):
    source = "import numpy as np\ndef double(x):\n    return np.asarray(x) * 2\n"
    [out] = _run(pool, source, TestCall("t0", "double", (np.arange(6.0).reshape(2, 3),)))
    assert out.outcome == "done"
    assert out.status.ok is True
    np.testing.assert_array_equal(out.arrays["r"], np.arange(6.0).reshape(2, 3) * 2)
    assert type(out.arrays["r"]) is np.ndarray


def test_ndarray_subclass_is_stripped_by_the_npz_round_trip(pool):
    source = (
        "import numpy as np\n"
        "class Liar(np.ndarray):\n"
        "    def __eq__(self, other):\n"
        "        return True\n"
        "def f(x):\n"
        "    return np.asarray(x).view(Liar)\n"
    )
    [out] = _run(pool, source, TestCall("t0", "f", (np.ones(3),)))
    assert out.status.result.type.endswith("Liar")
    assert type(out.arrays["r"]) is np.ndarray
    assert (out.arrays["r"] == np.zeros(3)).tolist() == [False, False, False]


def test_tuples_keep_only_the_requested_items(pool):
    source = "def f(x):\n    return x, {'cache': x}\n"
    [out] = _run(pool, source, TestCall("t0", "f", (np.ones(2),), save=(0,)))
    assert set(out.arrays) == {"r0"}
    assert out.status.result.length == 2


def test_a_timeout_is_per_call_and_later_calls_still_run(pool):
    source = "def slow(x):\n    while True:\n        pass\ndef fast(x):\n    return x + 1\n"
    slow, fast = _run(pool, source, TestCall("t0", "slow", (1.0,), wall_s=0.5),
                      TestCall("t1", "fast", (1.0,)))
    assert slow.outcome == "timeout"
    assert fast.outcome == "done"
    assert float(fast.arrays["r"]) == 2.0


def test_missing_function_is_reported_as_missing(pool):
    [out] = _run(pool, "x = 1\n", TestCall("t0", "absent", (1,)))
    assert out.status.missing is True and out.status.ok is False


def test_import_errors_carry_only_student_frames(pool):
    source = "import numpy as np\n\ndef f(x):\n    return x\n\nraise ValueError('nope')\n"
    [out] = _run(pool, source, TestCall("t0", "f", (1,)))
    assert out.outcome == "import_error"
    assert out.status.exc_type == "ValueError"
    assert out.status.frames == (Frame(6, "<module>", "raise ValueError('nope')"),)


def test_no_new_processes_or_threads(pool):
    source = (
        "import os, threading\n"
        "def fork(x):\n    os.fork()\n"
        "def thread(x):\n    threading.Thread(target=print).start()\n"
    )
    fork, thread = _run(pool, source, TestCall("t0", "fork", (1,)), TestCall("t1", "thread", (1,)))
    assert fork.status.exc_type == "BlockingIOError"
    assert thread.status.exc_type == "RuntimeError"


def test_memory_cap_turns_into_memory_error(pool):
    source = "import numpy as np\ndef f(x):\n    return np.ones(10 ** 9)\n"
    [out] = _run(pool, source, TestCall("t0", "f", (1,)))
    assert out.status.exc_type == "MemoryError"


def test_the_pool_is_safe_to_share_between_threads():
    pool = SandboxPool(2)
    source = "def f(x):\n    return x * 3\n"
    results: dict[int, float] = {}

    def grade(i: int) -> None:
        [out] = run_calls(source, [TestCall("t0", "f", (float(i),))], limits=LIMITS, pool=pool)
        results[i] = float(out.arrays["r"])

    threads = [threading.Thread(target=grade, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    pool.shutdown()
    assert results == {i: 3.0 * i for i in range(6)}


def test_a_dead_worker_is_restarted(pool):
    # The worker dies with the job (its process group is killed); the next job gets a new one.
    worker = pool.acquire()
    worker.stop()
    pool.release(worker)
    [out] = _run(pool, "def f(x):\n    return x\n", TestCall("t0", "f", (5.0,)))
    assert float(out.arrays["r"]) == 5.0


def test_duplicate_call_ids_are_rejected(pool):
    with pytest.raises(ValueError, match="unique"):
        _run(pool, "", TestCall("t0", "f", (1,)), TestCall("t0", "g", (1,)))


def test_limits_validate_their_values():
    with pytest.raises(ValueError, match="wall_s must be a positive number, got -1"):
        SandboxLimits(wall_s=-1)
    with pytest.raises(ValueError, match="nofile must be at least 16, got 3"):
        SandboxLimits(nofile=3)


# ----------------------------------------------------------------------- bubblewrap only
PROBE = '''
import os
import numpy as np

def probe(paths):
    seen = []
    for path in paths:
        try:
            with open(path, "rb") as fh:
                fh.read(1)
            seen.append(1.0)
        except OSError:
            seen.append(0.0)
    seen.append(1.0 if os.environ.get("STRIDE_SANDBOX_SECRET") else 0.0)
    seen.append(float(os.getuid()))
    return np.array(seen)
'''


@needs_bwrap
def test_sandbox_cannot_see_reference_problems_specs_instance_or_secrets(pool, monkeypatch):
    assert bwrap_path(), "bubblewrap is required under STRIDE_REQUIRE_SERVICES=1"
    monkeypatch.setenv("STRIDE_SANDBOX_SECRET", "hunter2")
    problems = sorted((ROOT / "problems").glob("*.yaml"))[:1]
    paths = [str(ROOT / "grader" / "reference.py"), str(ROOT / "exercises" / "specs" /
             "conv_step_by_step.yaml"), *map(str, problems), str(ROOT / "pyproject.toml"),
             "/etc/passwd", "/etc/shadow"]
    instance = ROOT / "instance"
    if instance.is_dir():
        paths += [str(p) for p in instance.iterdir() if p.is_file()][:2]
    for path in paths[:4]:
        assert Path(path).exists(), path
    [out] = _run(pool, PROBE, TestCall("t0", "probe", (tuple(paths),)))
    readable, secret, uid = out.arrays["r"][:-2], out.arrays["r"][-2], out.arrays["r"][-1]
    assert readable.tolist() == [0.0] * len(paths)
    assert secret == 0.0
    if os.geteuid() == 0:
        assert uid == 65534.0


@needs_bwrap
def test_sandbox_has_no_network(pool):
    assert bwrap_path(), "bubblewrap is required under STRIDE_REQUIRE_SERVICES=1"
    source = (
        "import socket\n"
        "def f(x):\n"
        "    return float(len(socket.if_nameindex()))\n"
    )
    [out] = _run(pool, source, TestCall("t0", "f", (1,)))
    assert float(out.arrays["r"]) <= 1.0  # only the loopback device, if any


@needs_bwrap
def test_bwrap_command_binds_nothing_of_the_project_but_the_worker():
    assert bwrap_path(), "bubblewrap is required under STRIDE_REQUIRE_SERVICES=1"
    cmd = bwrap_command(bwrap_path(), 8 * 1024 * 1024)
    sources = [cmd[i + 1] for i, arg in enumerate(cmd) if arg in ("--ro-bind", "--bind")]
    project = [s for s in sources if s.startswith(str(ROOT)) and ".venv" not in s]
    assert project == [str(ROOT / "grader" / "sandbox" / "zygote.py")]
    assert "--bind" not in cmd  # nothing of the host is writable
    assert cmd[cmd.index("--tmpfs") - 1] == str(8 * 1024 * 1024)  # --size N --tmpfs /tmp
    assert "--unshare-net" in cmd or "--unshare-all" in cmd
    assert "--die-with-parent" in cmd


def test_after_a_timeout_the_same_functions_other_calls_are_skipped(pool):
    source = "def slow(x):\n    while True:\n        pass\ndef fast(x):\n    return x\n"
    outcomes = _run(pool, source, TestCall("t0", "slow", (1,), wall_s=0.5),
                    TestCall("t1", "slow", (2,), wall_s=0.5), TestCall("t2", "fast", (3,)))
    assert [o.outcome for o in outcomes] == ["timeout", "skipped_after_timeout", "done"]


def test_with_the_explicit_opt_out_the_limits_still_apply_and_a_warning_says_so(monkeypatch,
                                                                              caplog):
    import grader.sandbox.policy as policy
    from grader.sandbox import require_isolation

    monkeypatch.setenv("STRIDE_SANDBOX", "unsafe-no-isolation")
    monkeypatch.setattr(policy, "_OPT_OUT_LOGGED", set())
    with caplog.at_level("WARNING", logger="grader.sandbox.policy"):
        plain = SandboxPool(1, require_isolation())
    source = ("import os\nimport numpy as np\n"
              "def fork(x):\n    os.fork()\n"
              "def loop(x):\n    while True:\n        pass\n"
              "def ok(x):\n    return np.asarray(x) + 1\n")
    try:
        fork, loop, ok = run_calls(source, [TestCall("t0", "fork", (1,)),
                                            TestCall("t1", "loop", (1,), wall_s=0.5),
                                            TestCall("t2", "ok", (np.ones(2),))],
                                   limits=LIMITS, pool=plain)
    finally:
        plain.shutdown()
    assert plain.isolation.mode == "limits-only" and plain.isolation.unsafe_opt_out
    assert fork.status.exc_type == "BlockingIOError"
    assert loop.outcome == "timeout"
    assert ok.arrays["r"].tolist() == [2.0, 2.0]
    assert "SANDBOX DISABLED: Code runs without isolation" in caplog.text


def test_a_worker_that_cannot_start_raises_sandbox_error_with_the_reason(monkeypatch):
    import grader.sandbox.command as command
    from grader.errors import SandboxError

    monkeypatch.setattr(command, "ZYGOTE", command.ZYGOTE.with_name("missing_worker.py"))
    broken = SandboxPool(1)
    with pytest.raises(SandboxError, match="the sandbox worker did not start under bubblewrap: "
                       ".*missing_worker"):
        broken.acquire()
    broken.shutdown()


LEAVE = '''
import os, tempfile
import numpy as np

PLACES = [tempfile.gettempdir(), "/tmp", "/dev/shm", "..", os.path.expanduser("~")]

def leave(x):
    left = 0.0
    for place in PLACES:
        try:
            with open(os.path.join(place, "note-for-the-next-student.txt"), "w") as fh:
                fh.write("answers")
            left += 1
        except OSError:
            pass
    return left

def find(x):
    found = 0.0
    for place in PLACES + ["/jobs", "/tmp"]:
        try:
            for root, _, files in os.walk(place):
                found += sum(name == "note-for-the-next-student.txt" for name in files)
        except OSError:
            pass
    return found
'''


@needs_bwrap
def test_a_job_leaves_nothing_for_the_next_job(pool):
    assert bwrap_path(), "bubblewrap is required under STRIDE_REQUIRE_SERVICES=1"
    [left] = _run(pool, LEAVE, TestCall("t0", "leave", (1,)))
    assert float(left.arrays["r"]) >= 1  # it could write somewhere (its own output dir)
    [found] = _run(pool, LEAVE, TestCall("t0", "find", (1,)))
    assert float(found.arrays["r"]) == 0.0
