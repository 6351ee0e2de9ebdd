"""The warm sandbox worker: imports numpy once, then forks a fresh child per batch of tests.

This module is standalone on purpose: it imports only the standard library and numpy, so the
sandbox can bind-mount this one file and nothing else of the project. It must never import
anything from ``grader``.

Protocol (one JSON object per line):

* on start it prints ``{"ready": true, ...}`` on stdout;
* the parent sends a job on stdin: ``{"dir": <job dir>, "batches": [[test, ...], ...],
  "limits": {...}, "uid": <int or null>}``; each test is ``{"id", "func", "args", "kwargs",
  "wall", "save"}`` where arguments are encoded as ``{"blob", "offset", "shape"}`` (a slice
  of one of the job's flat ``in<k>.npy`` files), ``{"tuple": [...]}`` or ``{"value": json}``;
* it answers ``{"outcomes": [{"id", "outcome", ...}, ...]}``.

Each batch runs in a new child that calls ``setsid``, applies the resource limits, drops to an
unprivileged uid when started as root, compiles the submission from ``submission.py`` in the
job directory, runs the tests one after the other, appends a status line per test to
``out/status.jsonl`` and saves the returned arrays as ``out/<id>.<key>.npy`` (no pickles).
The child reports progress on a pipe ("S id" before a test, "D id" after it) so this
worker can enforce each test's wall clock, kill the child's process group on a timeout and
continue the batch in a new child. Nothing the child writes is trusted by the grader: the
parent validates every file and compares the values itself.
"""

# Modules a submission might import: loaded here so they exist after the uid drop, when the
# interpreter's own directory may no longer be readable.
import collections  # noqa: F401
import copy  # noqa: F401
import functools  # noqa: F401
import gc
import itertools  # noqa: F401
import json
import math
import os
import random  # noqa: F401
import resource
import select
import signal
import sys
import time
import traceback
import typing  # noqa: F401
import warnings  # noqa: F401

if "--site" in sys.argv:
    sys.path.insert(0, sys.argv[sys.argv.index("--site") + 1])

import numpy as np  # noqa: E402
import numpy.linalg  # noqa: E402,F401
import numpy.random  # noqa: E402,F401


def _warm_up():
    """Import what saving and loading .npy/.npz needs, before any child drops privileges."""
    import io
    import zipfile  # noqa: F401

    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, r=np.zeros(2))
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as data:
        data["r"].sum()
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(2), allow_pickle=False)
    buffer.seek(0)
    np.load(buffer, allow_pickle=False)

SUBMISSION = "submission.py"
STATUS = "out/status.jsonl"
SAVEABLE = (np.ndarray, np.generic, int, float)
MAX_MESSAGE = 2000
MAX_FRAMES = 12


def _harden_worker():
    """Die with the grader, and hide this worker's /proc entries (and pipes) from a child."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        libc.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 0
    except Exception:  # noqa: BLE001 - best effort, the uid drop is the real barrier
        pass


def _vm_size():
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


# ----------------------------------------------------------------------------------- child
def _child_setup(job_dir, limits, uid, progress_fd):
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.closerange(3, progress_fd)
    os.closerange(progress_fd + 1, 1 << 16)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    cpu = int(limits["cpu"]) + 1
    memory = _vm_size() + int(limits["mem"])
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(limits["fsize"]), int(limits["fsize"])))
    resource.setrlimit(resource.RLIMIT_NOFILE, (int(limits["nofile"]), int(limits["nofile"])))
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)
    # After the uid drop, so that the limit applies (it never restricts uid 0).
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    os.chdir(job_dir)
    # The job's own output directory is the one place to write (and counts toward the quota).
    os.environ["TMPDIR"] = os.environ["HOME"] = os.path.join(job_dir, "out")


def _student_frames(exc):
    frames = []
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == SUBMISSION:
            frames.append([frame.lineno, frame.name, (frame.line or "")[:200]])
    return frames[-MAX_FRAMES:]


def _describe_exception(exc):
    try:
        message = str(exc)
    except BaseException:  # noqa: BLE001 - a hostile __str__
        message = "<unprintable>"
    return {
        "ok": False,
        "exc_type": type(exc).__name__[:100],
        "exc_msg": message[:MAX_MESSAGE],
        "frames": _student_frames(exc),
    }


_INPUTS = {}


def _decode(spec):
    if "blob" in spec:
        name = spec["blob"]
        if name not in _INPUTS:
            _INPUTS[name] = np.load(os.path.basename(name), allow_pickle=False)
        size = math.prod(spec["shape"])
        start = int(spec["offset"])
        return _INPUTS[name][start:start + size].reshape(spec["shape"]).copy()
    if "tuple" in spec:
        return tuple(_decode(item) for item in spec["tuple"])
    return spec["value"]


def _describe_value(value):
    kind = type(value)
    info = {"type": kind.__module__ + "." + kind.__qualname__}
    if isinstance(value, np.ndarray):
        info["shape"] = list(value.shape)
        info["dtype"] = str(value.dtype)
    elif isinstance(value, (tuple, list)):
        info["len"] = len(value)
    return info


def _save_result(test_id, result, save):
    """Write the checked parts of ``result`` as .npy files (no pickles); describe the rest."""
    arrays = {}
    if isinstance(result, (tuple, list)):
        info = _describe_value(result)
        info["items"] = [_describe_value(item) for item in result]
        for index in save or range(len(result)):
            if index < len(result) and isinstance(result[index], SAVEABLE):
                arrays[f"r{index}"] = result[index]
    else:
        info = _describe_value(result)
        if isinstance(result, SAVEABLE):
            arrays["r"] = result
    for key, value in arrays.items():
        np.save(os.path.join("out", f"{test_id}.{key}.npy"), value, allow_pickle=False)
    return info


_STATUS_FILE = []


def _write_status(test_id, status):
    status["id"] = test_id
    if not _STATUS_FILE:
        _STATUS_FILE.append(open(STATUS, "a"))  # noqa: SIM115 - kept open for the child's life
    _STATUS_FILE[0].write(json.dumps(status) + "\n")
    _STATUS_FILE[0].flush()


def _run_one(namespace, test):
    func = namespace.get(test["func"])
    if not callable(func):
        return {"ok": False, "missing": True}
    args = [_decode(a) for a in test["args"]]
    kwargs = {k: _decode(v) for k, v in test["kwargs"].items()}
    start = time.perf_counter()
    try:
        result = func(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - SystemExit and friends are verdicts too
        return _describe_exception(exc)
    elapsed = time.perf_counter() - start
    try:
        info = _save_result(test["id"], result, test.get("save"))
    except BaseException as exc:  # noqa: BLE001
        status = _describe_exception(exc)
        status["stage"] = "save"
        try:
            status["result"] = _describe_value(result)
        except BaseException:  # noqa: BLE001
            pass
        return status
    return {"ok": True, "result": info, "seconds": elapsed}


def _child_main(job_dir, tests, limits, uid, progress_fd):
    _child_setup(job_dir, limits, uid, progress_fd)

    def say(text):
        os.write(progress_fd, (text + "\n").encode())

    namespace = {"__name__": "submission", "__file__": SUBMISSION, "__builtins__": __builtins__}
    try:
        with open(SUBMISSION, encoding="utf-8") as fh:
            source = fh.read()
        code = compile(source, SUBMISSION, "exec")
        exec(code, namespace)  # noqa: S102 - this child is the sandbox: running it is the point
    except BaseException as exc:  # noqa: BLE001
        status = _describe_exception(exc)
        if isinstance(exc, SyntaxError):
            status["frames"] = [[exc.lineno or 0, "<module>", (exc.text or "").strip()[:200]]]
        _write_status("import", status)
        say("E")
        os._exit(0)
    say("I")
    for test in tests:
        say("S " + test["id"])
        try:
            status = _run_one(namespace, test)
        except BaseException as exc:  # noqa: BLE001
            status = _describe_exception(exc)
            status["stage"] = "load"
        _write_status(test["id"], status)
        say("D " + test["id"])
    os._exit(0)


# ---------------------------------------------------------------------------------- worker
def _kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def _reap(pid):
    _, status, usage = os.wait4(pid, 0)
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status), "exit": None, "cpu": usage.ru_utime + usage.ru_stime}
    return {"signal": None, "exit": os.WEXITSTATUS(status), "cpu": usage.ru_utime + usage.ru_stime}


def _fork_child(job_dir, tests, limits, uid):
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_fd)
            _child_main(job_dir, tests, limits, uid, write_fd)
        except BaseException:  # noqa: BLE001
            if os.environ.get("STRIDE_ZYGOTE_DEBUG"):
                with open(os.path.join(job_dir, "child-error.txt"), "w") as fh:
                    traceback.print_exc(file=fh)
        finally:
            os._exit(70)
    os.close(write_fd)
    return pid, read_fd


class _Progress:
    """Reads the child's progress lines; never trusts them for more than bookkeeping."""

    def __init__(self, fd):
        self.fd = fd
        self.buffer = b""
        self.eof = False

    def lines(self, timeout):
        if self.eof:
            return []
        ready, _, _ = select.select([self.fd], [], [], max(timeout, 0))
        if not ready:
            return []
        chunk = os.read(self.fd, 4096)
        if not chunk:
            self.eof = True
            return []
        self.buffer += chunk
        *complete, self.buffer = self.buffer.split(b"\n")
        self.buffer = self.buffer[-256:]
        return [line.decode("ascii", "replace") for line in complete]


def _run_batch(job_dir, tests, limits, uid):
    """Run ``tests`` in one child, continuing in a fresh child after a timeout or crash."""
    outcomes = {}
    remaining = list(tests)
    while remaining:
        started = time.monotonic()
        pid, read_fd = _fork_child(job_dir, remaining, limits, uid)
        progress = _Progress(read_fd)
        state = _watch(progress, remaining, limits, started, pid, job_dir)
        os.close(read_fd)
        exit_info = _reap(pid)
        lifetime = time.monotonic() - started
        remaining = _settle(state, remaining, outcomes, exit_info, lifetime)
    return [outcomes[t["id"]] for t in tests]


DISK_CHECK_S = 0.1
MAX_ENTRIES = 5000


def _disk_usage(job_dir):
    """Bytes the job directory holds (files past MAX_ENTRIES count as over any quota)."""
    total, seen = 0, 0
    for root, dirs, files in os.walk(job_dir):
        for name in files:
            seen += 1
            if seen > MAX_ENTRIES:
                return float("inf")
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
        seen += len(dirs)
    return total


def _watch(progress, tests, limits, started, pid, job_dir):
    """Follow the child's progress until it ends or overruns; returns what happened.

    Besides each test's wall clock, every DISK_CHECK_S the job directory's size is checked
    against the disk quota: RLIMIT_FSIZE bounds one file, not how many the child writes.
    """
    ids = [t["id"] for t in tests]
    walls = {t["id"]: float(t["wall"]) for t in tests}
    state = {"imported": False, "import_error": False, "done": [], "current": None,
             "timeout": False, "disk": False}
    deadline = started + float(limits["import_wall"])
    next_check = started + DISK_CHECK_S
    while not progress.eof:
        now = time.monotonic()
        if now >= deadline:
            state["timeout"] = True
            _kill_group(pid)
            break
        if now >= next_check:
            next_check = now + DISK_CHECK_S
            if _disk_usage(job_dir) > float(limits["disk"]):
                state["disk"] = True
                _kill_group(pid)
                break
        for line in progress.lines(min(deadline, next_check) - now):
            if line == "I" and not state["imported"]:
                state["imported"] = True
                deadline = time.monotonic() + (walls[ids[0]] if ids else 1.0)
            elif line == "E":
                state["import_error"] = True
            elif line.startswith("S ") and line[2:] in walls and line[2:] not in state["done"]:
                state["current"] = line[2:]
                deadline = time.monotonic() + walls[line[2:]]
            elif line.startswith("D ") and line[2:] == state["current"]:
                state["done"].append(state["current"])
                state["current"] = None
                deadline = time.monotonic() + 0.5 + (walls[ids[0]] if ids else 1.0)
    return state


def _settle(state, tests, outcomes, exit_info, lifetime):
    """Record outcomes for the tests this child ran; return the tests still to run."""
    base = dict(exit_info, lifetime=lifetime)
    if not state["imported"]:
        if state["import_error"]:
            kind = "import_error"
        elif state["disk"]:
            kind = "import_disk_quota"
        else:
            kind = "import_timeout" if state["timeout"] else "import_crashed"
        for test in tests:
            outcomes[test["id"]] = dict(base, id=test["id"], outcome=kind)
        return []
    for test_id in state["done"]:
        outcomes[test_id] = dict(base, id=test_id, outcome="done")
    pending = [t for t in tests if t["id"] not in outcomes]
    if not pending:
        return []
    failed = state["current"] or pending[0]["id"]
    kind = "timeout" if state["timeout"] else "disk_quota" if state["disk"] else "crashed"
    outcomes[failed] = dict(base, id=failed, outcome=kind)
    rest = [t for t in pending if t["id"] != failed]
    if not state["timeout"]:
        return rest
    # One timeout per function is enough: an endless loop would only time out again.
    func = next(t["func"] for t in tests if t["id"] == failed)
    for test in rest:
        if test["func"] == func:
            outcomes[test["id"]] = dict(base, id=test["id"], outcome="skipped_after_timeout")
    return [t for t in rest if t["func"] != func]


def _empty_private_tmp():
    """Under bubblewrap /tmp is the sandbox's own: empty it so jobs never share files."""
    for root, dirs, files in os.walk("/tmp", topdown=False):
        for name in files:
            try:
                os.unlink(os.path.join(root, name))
            except OSError:
                pass
        for name in dirs:
            try:
                os.rmdir(os.path.join(root, name))
            except OSError:
                pass


def _handle(job):
    outcomes = []
    for batch in job["batches"]:
        outcomes.extend(_run_batch(job["dir"], batch, job["limits"], job.get("uid")))
        if "--private-tmp" in sys.argv:
            _empty_private_tmp()
    return {"token": job.get("token"), "outcomes": outcomes}


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    _harden_worker()
    _warm_up()
    # Children share the warm heap copy-on-write; keep the collector from touching it.
    gc.collect()
    gc.freeze()
    out = sys.stdout
    out.write(json.dumps({"ready": True, "numpy": np.__version__}) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            reply = _handle(json.loads(line))
        except Exception as exc:  # noqa: BLE001 - report, never die silently
            reply = {"error": type(exc).__name__ + ": " + str(exc)[:500]}
        out.write(json.dumps(reply) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
