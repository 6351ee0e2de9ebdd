"""Run a submission's test calls in the sandbox: the trusted parent's side.

The parent writes the submission and the inputs (``.npy``, never pickles) into a fresh job
directory, asks a warm worker (:mod:`grader.sandbox.zygote`, started under bubblewrap when it
is installed) to run them, and reads back what the child wrote, validating every file before
use. Workers are started lazily, reused, and restarted when they die or overrun.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import io
import json
import logging
import math
import os
import queue
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from grader.errors import SandboxError
from grader.sandbox.limits import DEFAULT_LIMITS, SandboxLimits

log = logging.getLogger(__name__)

ZYGOTE = Path(__file__).with_name("zygote.py")
NOBODY = 65534
MAX_STATUS_BYTES = 64 * 1024
START_TIMEOUT_S = 30.0
SANDBOX_ROOT = "/sandbox"
JOBS_MOUNT = "/jobs"
TMP_SIZE = 64 * 1024 * 1024  # the sandbox's private /tmp: student code rarely needs any


@dataclass(frozen=True)
class TestCall:
    """One call of a student function: ``func(*args, **kwargs)`` within ``wall_s`` seconds.

    ``save`` lists the tuple items to bring back (None: all of them); ``solo`` runs the call in
    its own child so the worker can time the child's whole life (speed tests).
    """

    __test__ = False  # not a pytest test class

    id: str
    func: str
    args: tuple[Any, ...]
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    wall_s: float = 5.0
    save: tuple[int, ...] | None = None
    solo: bool = False


@dataclass(frozen=True)
class RawOutcome:
    """What came back from one call, before any verdict.

    ``outcome`` is one of "done", "timeout", "skipped_after_timeout" (an earlier call of the
    same function timed out), "crashed", "disk_quota", "import_error", "import_timeout",
    "import_crashed", "import_disk_quota", "lost" (the worker itself died or overran). ``status`` is the child's
    JSON status (validated to be a dict) and ``arrays`` its saved outputs, either None when
    missing or unreadable (``problem`` then says why).
    """

    id: str
    outcome: str
    status: dict | None = None
    arrays: dict[str, np.ndarray] | None = None
    exit: int | None = None
    signal: int | None = None
    lifetime: float | None = None
    cpu: float | None = None
    problem: str | None = None


# ------------------------------------------------------------------------------ environment
def bwrap_path() -> str | None:
    """The bubblewrap binary to use, or None (``STRIDE_SANDBOX=none`` disables it)."""
    if os.environ.get("STRIDE_SANDBOX", "auto").lower() in ("none", "off", "rlimits"):
        return None
    return shutil.which("bwrap")


def _jobs_parent() -> str | None:
    """Where job directories go: ``STRIDE_SANDBOX_TMP``, else /dev/shm (memory-backed, so the
    many small input and output files cost microseconds), else the system temp dir."""
    chosen = os.environ.get("STRIDE_SANDBOX_TMP")
    if chosen:
        return chosen
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK | os.X_OK):
        return "/dev/shm"
    return None


def _numpy_site() -> Path:
    return Path(np.__file__).resolve().parent.parent


def _clean_env(extra: Mapping[str, str] = ()) -> dict[str, str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/tmp",
        "LANG": "C.UTF-8",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.update(extra)
    return env


def _ancestor_dirs(path: Path) -> list[str]:
    return [str(p) for p in reversed(path.parents) if str(p) != "/"]


def _bind_system(args: list[str]) -> None:
    args += ["--ro-bind", "/usr", "/usr"]
    for name in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(name):
            args += ["--symlink", os.readlink(name), name]
        elif os.path.isdir(name):
            args += ["--ro-bind", name, name]
    args += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]


def _bind_python(args: list[str]) -> str:
    """Bind the interpreter's installation read-only; return its path inside the sandbox."""
    exe = Path(os.path.realpath(sys.executable))
    prefix = Path(os.path.realpath(sys.base_prefix))
    if not str(prefix).startswith("/usr/"):
        for parent in _ancestor_dirs(prefix):
            args += ["--perms", "0755", "--dir", parent]
        args += ["--ro-bind", str(prefix), str(prefix)]
    site = _numpy_site()
    args += ["--perms", "0755", "--dir", SANDBOX_ROOT, "--perms", "0755", "--dir",
             f"{SANDBOX_ROOT}/site"]
    for name in ("numpy", "numpy.libs"):
        if (site / name).is_dir():
            args += ["--ro-bind", str(site / name), f"{SANDBOX_ROOT}/site/{name}"]
    args += ["--ro-bind", str(ZYGOTE), f"{SANDBOX_ROOT}/zygote.py"]
    return str(exe)


def bwrap_command(bwrap: str, jobs_root: Path) -> list[str]:
    """The bubblewrap command line of one warm worker.

    Only the system, the interpreter, numpy and the worker's own file are visible, read-only;
    the jobs directory is the one writable place. No network, a private /tmp, /proc and /dev,
    a new session, and the sandbox dies with the grader. As root we keep the host user
    namespace so the worker can drop each child to an unprivileged uid (RLIMIT_NPROC never
    restricts uid 0).
    """
    args = [bwrap]
    if os.geteuid() == 0:
        args += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                 "--unshare-cgroup-try", "--cap-drop", "ALL", "--cap-add", "CAP_SETUID",
                 "--cap-add", "CAP_SETGID", "--cap-add", "CAP_KILL"]
    else:
        args += ["--unshare-all", "--cap-drop", "ALL"]
    args += ["--die-with-parent", "--new-session", "--clearenv"]
    for key, value in _clean_env().items():
        args += ["--setenv", key, value]
    _bind_system(args)
    python = _bind_python(args)
    args += ["--size", str(TMP_SIZE), "--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev",
             "--bind", str(jobs_root), JOBS_MOUNT, "--chdir", "/tmp"]
    args += [python, "-I", "-S", "-B", f"{SANDBOX_ROOT}/zygote.py", "--site",
             f"{SANDBOX_ROOT}/site", "--private-tmp"]
    return args


def plain_command() -> list[str]:
    """The worker's command line without bubblewrap: limits only."""
    return [sys.executable, "-I", "-S", "-B", str(ZYGOTE), "--site", str(_numpy_site())]


# -------------------------------------------------------------------------------- spawning
class _Spawner:
    """Starts workers from one long-lived thread.

    ``--die-with-parent`` (PR_SET_PDEATHSIG) fires when the *thread* that started the process
    exits, so workers must not be started from short-lived request threads.
    """

    def __init__(self) -> None:
        self._requests: queue.Queue = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def popen(self, cmd: list[str], **kwargs: Any) -> subprocess.Popen:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="sandbox-spawner",
                                                daemon=True)
                self._thread.start()
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._requests.put((future, cmd, kwargs))
        return future.result()

    def _loop(self) -> None:
        while True:
            future, cmd, kwargs = self._requests.get()
            try:
                future.set_result(subprocess.Popen(cmd, **kwargs))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                future.set_exception(exc)


_SPAWNER = _Spawner()


# ---------------------------------------------------------------------------------- worker
class Worker:
    """One warm worker process and its private jobs directory."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.jobs_root: Path | None = None
        self.mode = "none"
        self._buffer = b""
        self._finalizer: weakref.finalize | None = None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        self.stop()
        self.jobs_root = Path(tempfile.mkdtemp(prefix="stride-jobs-", dir=_jobs_parent()))
        # Traversable but neither listable nor writable by the sandboxed uid: a child reaches
        # its own job's directory only, and the worker (root without CAP_DAC_OVERRIDE in the
        # sandbox) can still watch that directory's disk use.
        os.chmod(self.jobs_root, 0o711)
        bwrap = bwrap_path()
        if bwrap:
            cmd, self.mode = bwrap_command(bwrap, self.jobs_root), "bwrap"
        else:
            cmd, self.mode = plain_command(), "rlimits"
        with tempfile.TemporaryFile() as errors:
            self.proc = _SPAWNER.popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors,
                env=_clean_env(), start_new_session=True, close_fds=True, cwd="/",
            )
            self._buffer = b""
            self._finalizer = weakref.finalize(self, _cleanup, self.proc, self.jobs_root,
                                               os.getpid())
            line = self._readline(time.monotonic() + START_TIMEOUT_S)
            if line is None or not line.startswith('{"ready": true'):
                self.stop()
                errors.seek(0)
                detail = errors.read(2000).decode("utf-8", "replace").strip()
                raise SandboxError(
                    f"the sandbox worker did not start ({self.mode}): {detail or 'no output'}."
                    + (" If bubblewrap cannot work here (e.g. user namespaces are disabled), "
                       "set STRIDE_SANDBOX=none to run with resource limits only."
                       if self.mode == "bwrap" else ""))

    def stop(self) -> None:
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except OSError:
                pass
            self.proc.kill()
            self.proc.wait()
            for stream in (self.proc.stdin, self.proc.stdout):
                if stream is not None:
                    stream.close()
            self.proc = None
        if self.jobs_root is not None:
            shutil.rmtree(self.jobs_root, ignore_errors=True)
            self.jobs_root = None

    def job_path(self, host_dir: Path) -> str:
        if self.mode == "bwrap":
            return f"{JOBS_MOUNT}/{host_dir.name}"
        return str(host_dir)

    def request(self, job: dict, timeout_s: float) -> dict | None:
        """Send one job; the reply, or None when the worker died or overran (then it is gone)."""
        try:
            self.proc.stdin.write((json.dumps(job) + "\n").encode())
            self.proc.stdin.flush()
        except OSError:
            self.stop()
            return None
        line = self._readline(time.monotonic() + timeout_s)
        if line is None:
            self.stop()
            return None
        try:
            reply = json.loads(line)
        except ValueError:
            self.stop()
            return None
        return reply if isinstance(reply, dict) else None

    def _readline(self, deadline: float) -> str | None:
        fd = self.proc.stdout.fileno()
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(fd, 65536)
            if not chunk:
                return None
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return line.decode("utf-8", "replace")


def _cleanup(proc: subprocess.Popen, jobs_root: Path, owner_pid: int) -> None:
    """Stop a forgotten worker and remove its directory (at garbage collection or exit).

    Never in a forked copy of the process that started it: that worker is not ours to stop.
    """
    if os.getpid() != owner_pid:
        return
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
        proc.kill()
        proc.wait()
    shutil.rmtree(jobs_root, ignore_errors=True)


class SandboxPool:
    """A fixed number of lazily started workers shared by threads."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"a sandbox pool needs at least one worker, got {size!r}")
        self.size = size
        self._idle: queue.Queue[Worker] = queue.Queue()
        self._all = [Worker() for _ in range(size)]
        for worker in self._all:
            self._idle.put(worker)
        self.owner_pid = os.getpid()
        _POOLS.add(self)

    def acquire(self) -> Worker:
        worker = self._idle.get()
        try:
            if not worker.alive:
                worker.start()
        except BaseException:
            self._idle.put(worker)
            raise
        return worker

    def release(self, worker: Worker) -> None:
        self._idle.put(worker)

    def shutdown(self) -> None:
        for worker in self._all:
            worker.stop()


_POOL: SandboxPool | None = None
_POOL_PID = 0
_POOL_LOCK = threading.Lock()
_WARNED = False


def default_pool() -> SandboxPool:
    """The process-wide pool (``STRIDE_SANDBOX_WORKERS`` workers, default 2)."""
    global _POOL, _POOL_PID
    with _POOL_LOCK:
        if _POOL is None or _POOL_PID != os.getpid():
            size = int(os.environ.get("STRIDE_SANDBOX_WORKERS", "2"))
            _POOL, _POOL_PID = SandboxPool(max(size, 1)), os.getpid()
        return _POOL


_POOLS: weakref.WeakSet[SandboxPool] = weakref.WeakSet()


def _shutdown_pools() -> None:
    """At exit, stop the workers of the pools this process made (never a forked parent's)."""
    for pool in list(_POOLS):
        if pool.owner_pid == os.getpid():
            pool.shutdown()


atexit.register(_shutdown_pools)


def sandbox_warning() -> str | None:
    """A sentence for reports and logs when bubblewrap is missing, else None."""
    if bwrap_path():
        return None
    return ("The sandbox runs without bubblewrap (install the Debian package `bubblewrap`): "
            "resource limits apply, but submissions can see the file system and the network.")


def _warn_once() -> None:
    global _WARNED
    message = sandbox_warning()
    if message and not _WARNED:
        _WARNED = True
        log.warning(message)


# ------------------------------------------------------------------------------------- jobs
def _encode(value: Any, blobs: dict[str, list[np.ndarray]], stem: str) -> dict:
    """The wire form of one argument; arrays are appended to one flat blob per dtype."""
    if isinstance(value, np.ndarray):
        key = value.dtype.str
        group = blobs.setdefault(key, [])
        offset = sum(a.size for a in group)
        group.append(np.ascontiguousarray(value).reshape(-1))
        return {"blob": f"in{list(blobs).index(key)}.npy", "offset": offset,
                "shape": list(value.shape)}
    if isinstance(value, tuple):
        return {"tuple": [_encode(v, blobs, f"{stem}_{i}") for i, v in enumerate(value)]}
    if isinstance(value, np.generic):
        return {"value": value.item()}
    if isinstance(value, Mapping):
        return {"value": {str(k): (v.item() if isinstance(v, np.generic) else v)
                          for k, v in value.items()}}
    return {"value": value}


def _wire_test(call: TestCall, arrays: dict[str, list[np.ndarray]]) -> dict:
    return {
        "id": call.id,
        "func": call.func,
        "args": [_encode(a, arrays, f"{call.id}_a{i}") for i, a in enumerate(call.args)],
        "kwargs": {k: _encode(v, arrays, f"{call.id}_k{k}") for k, v in call.kwargs.items()},
        "wall": float(call.wall_s),
        "save": list(call.save) if call.save is not None else None,
    }


@dataclass(frozen=True)
class WirePlan:
    """The calls serialized once: batches for the worker and the inputs as .npy files (bytes).

    Every input array is a slice of one flat .npy per dtype, so the child parses a handful of
    headers instead of one per argument.

    Plans are immutable, so callers may cache one and send it in many jobs.
    """

    ids: tuple[str, ...]
    batches: tuple
    inputs: tuple[tuple[str, bytes], ...]
    timeout_extra: float


def wire_plan(calls: Sequence[TestCall]) -> WirePlan:
    """Serialize ``calls`` (validating that their ids are unique)."""
    ids = [c.id for c in calls]
    if len(set(ids)) != len(ids):
        raise ValueError(f"test call ids must be unique, got {ids!r}")
    blobs: dict[str, list[np.ndarray]] = {}
    shared = [_wire_test(c, blobs) for c in calls if not c.solo]
    solos = [[_wire_test(c, blobs)] for c in calls if c.solo]
    files = []
    for index, group in enumerate(blobs.values()):
        buffer = io.BytesIO()
        np.save(buffer, np.concatenate(group), allow_pickle=False)
        files.append((f"in{index}.npy", buffer.getvalue()))
    batches = ([shared] if shared else []) + solos
    return WirePlan(tuple(ids), json.loads(json.dumps(batches)), tuple(files),
                    sum(c.wall_s + 1.0 for c in calls))


def _prepare_job(worker: Worker, source: str, plan: WirePlan,
                 limits: SandboxLimits) -> tuple[Path, dict]:
    job_dir = worker.jobs_root / secrets.token_hex(12)
    job_dir.mkdir()
    (job_dir / "out").mkdir()
    (job_dir / "submission.py").write_text(source, encoding="utf-8")
    for name, data in plan.inputs:
        (job_dir / name).write_bytes(data)
    job = {"token": job_dir.name, "dir": worker.job_path(job_dir), "batches": plan.batches,
           "limits": limits.to_wire(), "uid": NOBODY if os.geteuid() == 0 else None}
    os.chmod(job_dir, 0o711)
    if os.geteuid() == 0:
        os.chown(job_dir / "out", NOBODY, NOBODY)
    return job_dir, job


def _purge(jobs_root: Path | None) -> None:
    """Empty the worker's jobs directory, so nothing a job left there reaches the next one."""
    if jobs_root is None:
        return
    try:
        entries = list(jobs_root.iterdir())
    except OSError:
        return
    for entry in entries:
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def _job_timeout(plan: WirePlan, limits: SandboxLimits) -> float:
    return plan.timeout_extra + 2 * len(plan.batches) * limits.import_wall_s + 10.0


def run_calls(source: str, calls: Sequence[TestCall] | WirePlan, *,
              limits: SandboxLimits = DEFAULT_LIMITS,
              pool: SandboxPool | None = None) -> list[RawOutcome]:
    """Run ``calls`` against ``source`` in a sandboxed child; one :class:`RawOutcome` each.

    ``calls`` may be a :class:`WirePlan` made once by :func:`wire_plan`. Thread-safe: each call
    borrows one warm worker from the pool for the whole job.
    """
    _warn_once()
    plan = calls if isinstance(calls, WirePlan) else wire_plan(calls)
    if not plan.ids:
        return []
    pool = pool or default_pool()
    worker = pool.acquire()
    job_dir = None
    try:
        job_dir, job = _prepare_job(worker, source, plan, limits)
        reply = worker.request(job, _job_timeout(plan, limits))
        if reply is not None and reply.get("token") != job["token"] and "error" not in reply:
            worker.stop()  # out of step with this job: never attribute a reply to another job
            reply = None
        return _collect(reply, plan.ids, job_dir, limits)
    except BaseException:
        worker.stop()  # interrupted mid-job: its reply must not reach the next job
        raise
    finally:
        if job_dir is not None:
            _purge(worker.jobs_root)
        pool.release(worker)


def _collect(reply: dict | None, ids: Sequence[str], job_dir: Path,
             limits: SandboxLimits) -> list[RawOutcome]:
    if reply is None or not isinstance(reply.get("outcomes"), list):
        if reply is not None and "error" in reply:
            raise SandboxError(f"the sandbox worker failed: {reply['error']}")
        return [RawOutcome(id=i, outcome="lost") for i in ids]
    by_id = {o.get("id"): o for o in reply["outcomes"] if isinstance(o, dict)}
    statuses = _read_statuses(job_dir / "out" / "status.jsonl")
    try:
        present = set(os.listdir(job_dir / "out"))
    except OSError:
        present = set()
    results = []
    for test_id in ids:
        info = by_id.get(test_id)
        if info is None:
            results.append(RawOutcome(id=test_id, outcome="lost"))
            continue
        outcome = str(info.get("outcome"))
        arrays, problem = None, None
        if outcome.startswith("import"):
            status = statuses.get("import")
        else:
            status = statuses.get(test_id)
            arrays, problem = _read_arrays(job_dir / "out", test_id, limits, present)
        results.append(RawOutcome(
            id=test_id, outcome=outcome, status=status, arrays=arrays,
            exit=info.get("exit"), signal=info.get("signal"), lifetime=info.get("lifetime"),
            cpu=info.get("cpu"), problem=problem,
        ))
    return results


def _read_statuses(path: Path) -> dict[str, dict]:
    """The child's status lines by test id (the last line of an id wins)."""
    try:
        if not path.is_file() or path.stat().st_size > MAX_STATUS_BYTES:
            return {}
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return {}
    statuses = {}
    for line in lines:
        try:
            status = json.loads(line)
        except ValueError:
            continue
        if isinstance(status, dict) and isinstance(status.get("id"), str):
            statuses[status["id"]] = status
    return statuses


RESULT_KEYS = ("r", "r0", "r1", "r2")


def _read_arrays(out_dir: Path, test_id: str, limits: SandboxLimits, present: set[str]
                 ) -> tuple[dict | None, str | None]:
    """Load the child's .npy outputs without pickles, refusing oversized or forged headers."""
    arrays = {}
    budget = limits.fsize_mb * 1024 * 1024
    for key in RESULT_KEYS:
        path = out_dir / f"{test_id}.{key}.npy"
        if path.name not in present:
            continue
        try:
            arrays[key] = _read_npy(path, budget)
        except Exception as exc:  # noqa: BLE001 - anything unreadable is the child's fault
            return None, f"the output could not be read ({type(exc).__name__}: {exc})"[:300]
    return (arrays or None), None


def _read_npy(path: Path, budget: int) -> np.ndarray:
    size = path.stat().st_size
    if size > budget:
        raise ValueError("the output is too large")
    with path.open("rb") as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(fh)
        else:
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(fh)
        if dtype.hasobject:
            raise ValueError("object arrays are not accepted")
        count = math.prod(shape)
        if count * dtype.itemsize > size - fh.tell():
            raise ValueError("the header claims more data than the file holds")
        data = np.fromfile(fh, dtype=dtype, count=count)
    if data.size != count:
        raise ValueError("the file is truncated")
    if fortran_order:
        return data.reshape(shape[::-1]).transpose()
    return data.reshape(shape)
