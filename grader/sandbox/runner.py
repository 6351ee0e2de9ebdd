"""Run a submission's test calls in the sandbox: the trusted parent's side.

The parent sends the submission and its inputs (``.npy`` bytes, never pickles) to a warm worker
(:mod:`grader.sandbox.zygote`) over the worker's stdin, and gets every result back over the
worker's stdout: the child's status and its output arrays as ``.npy`` bytes, which are parsed
here from memory with their headers checked. The parent never opens a path the child can
change, and reads at most a bounded number of bytes by a deadline of its own.

Workers run under bubblewrap, or with resource limits only when the pool's
:class:`~grader.sandbox.policy.Isolation` says so (see :mod:`grader.sandbox.policy`: grading
other people's code requires bubblewrap). A pool never changes its mode: when bubblewrap was
required and a worker cannot start under it, that is a :class:`SandboxError`. Workers are
started lazily, reused, and restarted when they die, overrun or leave files behind.
"""

from __future__ import annotations

import atexit
import base64
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
import subprocess
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
from grader.sandbox.command import (
    ArgsPipe,
    bwrap_command,
    child_uid,
    clean_env,
    kill_worker_group,
    plain_command,
)
from grader.sandbox.limits import DEFAULT_LIMITS, MB, SandboxLimits
from grader.sandbox.outcome import OutcomeKind, RawOutcome, parse_status
from grader.sandbox.policy import (
    Isolation,
    IsolationUnavailable,
    bwrap_binary,
    local_isolation,
    require_isolation,
)

log = logging.getLogger(__name__)

MAX_READY_BYTES = 64 * 1024
MAX_STATUS_BYTES = 64 * 1024
START_TIMEOUT_S = 30.0
RESULT_KEYS = ("r", "r0", "r1", "r2")
MAX_NDIM = 32  # numpy 1.x's own limit; no output of an exercise has more than a few


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


def _scratch_parent() -> str | None:
    """Where a limits-only worker's scratch directory goes: ``STRIDE_SANDBOX_TMP``, else
    /dev/shm (memory-backed), else the system temp dir."""
    chosen = os.environ.get("STRIDE_SANDBOX_TMP")
    if chosen:
        return chosen
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK | os.X_OK):
        return "/dev/shm"
    return None


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
    """One warm worker process, under the isolation its pool was made with."""

    def __init__(self, isolation: Isolation) -> None:
        self.isolation = isolation
        self.proc: subprocess.Popen | None = None
        self.disk_bytes: int | None = None
        self.scratch_root: Path | None = None  # limits-only: the host directory children use
        self._buffer = bytearray()
        self._finalizer: weakref.finalize | None = None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def mode(self) -> str:
        return self.isolation.mode

    def start(self, disk_bytes: int = DEFAULT_LIMITS.disk_mb * MB) -> None:
        self.stop()
        self.disk_bytes = int(disk_bytes)
        cmd = self._command()
        with tempfile.TemporaryFile() as errors, ArgsPipe(cmd, self.mode == "bwrap") as argv:
            self.proc = _SPAWNER.popen(
                argv.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors,
                env=clean_env(), start_new_session=True, close_fds=True, cwd="/",
                pass_fds=argv.fds,
            )
            self._buffer = bytearray()
            self._finalizer = weakref.finalize(self, _cleanup, self.proc, self.scratch_root,
                                               os.getpid())
            line = self._readline(time.monotonic() + START_TIMEOUT_S, MAX_READY_BYTES)
            if line is None or not line.startswith(b'{"ready": true'):
                self.stop()
                errors.seek(0)
                detail = errors.read(2000).decode("utf-8", "replace").strip()
                where = "under bubblewrap" if self.mode == "bwrap" else "with limits only"
                raise SandboxError(f"the sandbox worker did not start {where}: "
                                   f"{detail or 'no output'}.")

    def _command(self) -> list[str]:
        if self.mode == "bwrap":
            bwrap = bwrap_binary()
            if bwrap is None:  # never fall back: this pool was made to isolate
                raise SandboxError("the sandbox worker did not start under bubblewrap: the "
                                   "bwrap binary is gone (install the package `bubblewrap`).")
            return bwrap_command(bwrap, self.disk_bytes)
        self.scratch_root = _private_dir("stride-scratch-")
        if os.geteuid() == 0:
            # Children run as another uid: they may enter (not list) this directory to reach
            # their own 0700 directory inside it.
            os.chmod(self.scratch_root, 0o711)
        return plain_command(self.scratch_root)

    def stop(self) -> None:
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if self.proc is not None:
            _kill(self.proc)
            for stream in (self.proc.stdin, self.proc.stdout):
                if stream is not None:
                    stream.close()
            self.proc = None
        if self.scratch_root is not None:
            shutil.rmtree(self.scratch_root, ignore_errors=True)
            self.scratch_root = None

    def request(self, job: dict, timeout_s: float, max_bytes: int) -> dict | None:
        """Send one job; the reply, or None when the worker died or overran (then it is gone)."""
        try:
            self.proc.stdin.write((json.dumps(job) + "\n").encode())
            self.proc.stdin.flush()
        except OSError:
            self.stop()
            return None
        line = self._readline(time.monotonic() + timeout_s, max_bytes)
        try:
            reply = json.loads(line) if line is not None else None
        except (ValueError, RecursionError):
            reply = None
        if not isinstance(reply, dict):
            self.stop()
            return None
        return reply

    def _readline(self, deadline: float, max_bytes: int) -> bytes | None:
        """One line of the worker's stdout by ``deadline`` and within ``max_bytes``, else None."""
        fd = self.proc.stdout.fileno()
        searched = 0  # only new bytes are searched: a reply of 40 MB comes in 64 KB reads
        while (end := self._buffer.find(b"\n", searched)) < 0:
            searched = len(self._buffer)
            remaining = deadline - time.monotonic()
            if remaining <= 0 or len(self._buffer) > max_bytes:
                return None
            ready, _, _ = select.select([fd], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                return None
            self._buffer += chunk
        if end > max_bytes:
            return None
        line = bytes(self._buffer[:end])
        del self._buffer[:end + 1]
        return line


def _private_dir(prefix: str) -> Path:
    """A fresh directory only this user can use (mkdtemp makes it 0700)."""
    old = os.umask(0o077)
    try:
        return Path(tempfile.mkdtemp(prefix=prefix, dir=_scratch_parent()))
    finally:
        os.umask(old)


def _kill(proc: subprocess.Popen) -> None:
    """Kill the worker's whole process group (under bubblewrap: its whole pid namespace)."""
    kill_worker_group(proc)
    proc.wait()


def _cleanup(proc: subprocess.Popen, scratch_root: Path | None, owner_pid: int) -> None:
    """Stop a forgotten worker and remove its directory (at garbage collection or exit).

    Never in a forked copy of the process that started it: that worker is not ours to stop.
    """
    if os.getpid() != owner_pid:
        return
    if proc.poll() is None:
        _kill(proc)
    if scratch_root is not None:
        shutil.rmtree(scratch_root, ignore_errors=True)


class SandboxPool:
    """A fixed number of lazily started workers shared by threads, all of one isolation.

    Parameters
    ----------
    size : int
        Number of workers.
    isolation : Isolation, optional
        How the workers isolate code (default: :func:`require_isolation`, which raises
        :class:`IsolationUnavailable` where bubblewrap cannot run).
    """

    def __init__(self, size: int, isolation: Isolation | None = None) -> None:
        if size < 1:
            raise ValueError(f"a sandbox pool needs at least one worker, got {size!r}")
        self.size = size
        self.isolation = isolation if isolation is not None else require_isolation()
        self._idle: queue.Queue[Worker] = queue.Queue()
        self._all = [Worker(self.isolation) for _ in range(size)]
        for worker in self._all:
            self._idle.put(worker)
        self.owner_pid = os.getpid()
        _POOLS.add(self)

    def acquire(self, disk_bytes: int = DEFAULT_LIMITS.disk_mb * MB) -> Worker:
        """An idle worker, started (or restarted) with a scratch area of ``disk_bytes``."""
        worker = self._idle.get()
        try:
            if not worker.alive or worker.disk_bytes != int(disk_bytes):
                worker.start(disk_bytes)
        except BaseException:
            self._idle.put(worker)
            raise
        return worker

    def release(self, worker: Worker) -> None:
        self._idle.put(worker)

    def shutdown(self) -> None:
        for worker in self._all:
            worker.stop()


_DEFAULT_POOLS: dict[bool, SandboxPool] = {}
_DEFAULT_PID = [0]
_POOL_LOCK = threading.Lock()


def _default_pools() -> dict[bool, SandboxPool]:
    if _DEFAULT_PID[0] != os.getpid():  # a forked process makes its own workers
        _DEFAULT_POOLS.clear()
        _DEFAULT_PID[0] = os.getpid()
    return _DEFAULT_POOLS


def default_pool(own_code: bool = False) -> SandboxPool:
    """The process-wide pool for one purpose (``STRIDE_SANDBOX_WORKERS`` workers, default 2).

    ``own_code=False`` (other people's code) requires isolation when the pool is created and
    raises :class:`IsolationUnavailable` without it; ``own_code=True`` (a student's own check)
    uses bubblewrap when it works, else limits only.
    """
    with _POOL_LOCK:
        pools = _default_pools()
        if own_code not in pools:
            isolation = local_isolation() if own_code else require_isolation()
            size = int(os.environ.get("STRIDE_SANDBOX_WORKERS", "2"))
            pools[own_code] = SandboxPool(max(size, 1), isolation)
        return pools[own_code]


_POOLS: weakref.WeakSet[SandboxPool] = weakref.WeakSet()


def _shutdown_pools() -> None:
    """At exit, stop the workers of the pools this process made (never a forked parent's)."""
    for pool in list(_POOLS):
        if pool.owner_pid == os.getpid():
            pool.shutdown()


atexit.register(_shutdown_pools)


def sandbox_warning(own_code: bool = False) -> str | None:
    """A sentence for reports and logs when code of this purpose is not isolated, else None.

    Derived from the default pool's isolation (or the policy, before that pool exists).
    """
    with _POOL_LOCK:
        pool = _default_pools().get(own_code)
    if pool is not None:
        return pool.isolation.warning()
    try:
        isolation = local_isolation() if own_code else require_isolation()
    except IsolationUnavailable as exc:
        return str(exc)
    return isolation.warning()


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

    Every input array is a slice of one flat .npy per dtype (sent base64-encoded), so the
    worker parses a handful of headers instead of one per argument.

    Plans are immutable, so callers may cache one and send it in many jobs.
    """

    ids: tuple[str, ...]
    batches: tuple
    inputs: tuple[tuple[str, str], ...]
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
        files.append((f"in{index}.npy", base64.b64encode(buffer.getvalue()).decode("ascii")))
    batches = ([shared] if shared else []) + solos
    return WirePlan(tuple(ids), json.loads(json.dumps(batches)), tuple(files),
                    sum(c.wall_s + 1.0 for c in calls))


def _job_timeout(plan: WirePlan, limits: SandboxLimits) -> float:
    """The parent's own deadline for a whole job: every child may re-import once per test."""
    return plan.timeout_extra + (len(plan.ids) + len(plan.batches)) * limits.import_wall_s + 10.0


def _reply_cap(plan: WirePlan, limits: SandboxLimits) -> int:
    """The largest reply a worker may send for ``plan``: all outputs within the disk quota."""
    outputs = math.ceil(limits.disk_mb * MB * 4 / 3)  # base64
    return outputs + len(plan.ids) * (6 * MAX_STATUS_BYTES + 4096) + 64 * 1024


def run_calls(source: str, calls: Sequence[TestCall] | WirePlan, *,
              limits: SandboxLimits = DEFAULT_LIMITS, pool: SandboxPool | None = None,
              own_code: bool = False) -> list[RawOutcome]:
    """Run ``calls`` against ``source`` in a sandboxed child; one :class:`RawOutcome` each.

    ``calls`` may be a :class:`WirePlan` made once by :func:`wire_plan`. Without ``pool`` the
    process-wide :func:`default_pool` of the purpose is used: ``own_code=True`` only for a
    student's own check of their own code. Thread-safe: each call borrows one warm worker from
    the pool for the whole job.

    Raises
    ------
    IsolationUnavailable
        When the default pool for other people's code cannot have bubblewrap.
    SandboxError
        When a worker cannot start, or fails (never the student's code).
    """
    plan = calls if isinstance(calls, WirePlan) else wire_plan(calls)
    if not plan.ids:
        return []
    pool = pool or default_pool(own_code)
    worker = pool.acquire(limits.disk_mb * MB)
    try:
        job = {"token": secrets.token_hex(12), "source": source, "inputs": dict(plan.inputs),
               "batches": plan.batches, "limits": limits.to_wire(),
               "uid": child_uid()}
        reply = worker.request(job, _job_timeout(plan, limits), _reply_cap(plan, limits))
        if reply is not None and reply.get("token") != job["token"] and "error" not in reply:
            worker.stop()  # out of step with this job: never attribute a reply to another job
            reply = None
        if reply is not None and reply.get("dirty"):
            worker.stop()  # a child left something its scratch area could not lose
        return _collect(reply, plan.ids, limits)
    except BaseException:
        worker.stop()  # interrupted mid-job: its reply must not reach the next job
        raise
    finally:
        pool.release(worker)


def _collect(reply: dict | None, ids: Sequence[str], limits: SandboxLimits
             ) -> list[RawOutcome]:
    if reply is None or not isinstance(reply.get("outcomes"), list):
        if reply is not None and "error" in reply:
            raise SandboxError(f"the sandbox worker failed: {str(reply['error'])[:500]}")
        return [RawOutcome(id=i, outcome=OutcomeKind.LOST) for i in ids]
    by_id = {o.get("id"): o for o in reply["outcomes"] if isinstance(o, dict)}
    return [_outcome(test_id, by_id.get(test_id), limits) for test_id in ids]


def _number(value: Any) -> float | int | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _outcome(test_id: str, info: dict | None, limits: SandboxLimits) -> RawOutcome:
    if info is None:
        return RawOutcome(id=test_id, outcome=OutcomeKind.LOST)
    status = parse_status(info.get("status"))
    arrays, problem = _decode_arrays(info.get("arrays"), limits.fsize_mb * MB)
    if isinstance(info.get("problem"), str):
        problem = info["problem"][:300]
    return RawOutcome(
        id=test_id, outcome=OutcomeKind.parse(info.get("outcome")), status=status, arrays=arrays,
        exit=_number(info.get("exit")), signal=_number(info.get("signal")),
        lifetime=_number(info.get("lifetime")), cpu=_number(info.get("cpu")), problem=problem,
    )


class _Unreadable(ValueError):
    """An output that is not a plain .npy array within budget (the message is ours alone)."""


def _decode_arrays(encoded: Any, budget: int) -> tuple[dict | None, str | None]:
    """The outputs parsed from their .npy bytes, or (None, why) when any is unreadable.

    The reason never quotes the bytes: they are the child's, and could be anything.
    """
    if not encoded:
        return None, None
    try:
        if not isinstance(encoded, dict) or not set(encoded) <= set(RESULT_KEYS):
            raise _Unreadable("it is not in the expected form")
        arrays = {key: _parse_npy(_unbase64(text, budget), budget)
                  for key, text in encoded.items()}
    except _Unreadable as exc:
        return None, f"the output could not be read ({exc})"
    return arrays, None


def _unbase64(text: Any, budget: int) -> bytes:
    if not isinstance(text, str) or len(text) > math.ceil(budget * 4 / 3) + 4:
        raise _Unreadable("it is larger than the file-size limit")
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise _Unreadable("it is not in the expected form") from None


def _parse_npy(data: bytes, budget: int) -> np.ndarray:
    """An array from .npy bytes without pickles, refusing oversized or forged headers."""
    if len(data) > budget:
        raise _Unreadable("it is larger than the file-size limit")
    fh = io.BytesIO(data)
    try:
        version = np.lib.format.read_magic(fh)
        read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                else np.lib.format.read_array_header_2_0)
        shape, fortran_order, dtype = read(fh)
    except Exception:  # noqa: BLE001 - numpy's messages quote the bytes: say nothing of them
        raise _Unreadable("its .npy header is not valid") from None
    if dtype.hasobject:
        raise _Unreadable("object arrays are not accepted")
    # A dtype of no size (a structured dtype of empty fields) would let a header of a few bytes
    # claim any number of items, which numpy then walks one by one: hours of the parent's CPU.
    # With items of at least one byte, the data's size bounds their number and every dimension.
    if dtype.itemsize == 0:
        raise _Unreadable("its items have no size")
    if len(shape) > MAX_NDIM or any(type(n) is not int or not 0 <= n <= budget for n in shape):
        raise _Unreadable("its shape is not valid")
    count = math.prod(shape)
    if count * dtype.itemsize != len(data) - fh.tell():
        raise _Unreadable("its header does not match the size of its data")
    try:
        values = np.frombuffer(data, dtype=dtype, count=count, offset=fh.tell()).copy()
        if fortran_order:
            return values.reshape(shape[::-1]).transpose()
        return values.reshape(shape)
    except Exception:  # noqa: BLE001 - whatever numpy refuses is unreadable, never a crash here
        raise _Unreadable("its header does not match its data") from None
