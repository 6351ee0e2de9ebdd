"""The warm sandbox worker: imports numpy once, then forks one process per job, which forks a
fresh child per batch of tests.

The warm worker never reads a job: the per-job process reads its one line from stdin (with
``os.read``, so no buffer is left behind), runs it, writes the reply and exits, taking every copy
of the job with it. A later job's children therefore inherit no memory of an earlier one.

This module is standalone on purpose: it imports only the standard library and numpy, so the
sandbox can bind-mount this one file and nothing else of the project. It must never import
anything from ``grader``.

Protocol with the parent (one JSON object per line, both ways):

* on start it prints ``{"ready": true, ...}`` on stdout;
* the parent sends a job on stdin: ``{"token", "source", "inputs": {name: base64 .npy},
  "batches": [[test, ...], ...], "limits": {...}, "uid": <int or null>}``; each test is
  ``{"id", "func", "args", "kwargs", "wall", "save"}`` where arguments are encoded as
  ``{"blob", "offset", "shape"}`` (a slice of one of the flat input arrays),
  ``{"tuple": [...]}`` or ``{"value": json}``;
* it answers ``{"token", "outcomes": [{"id", "outcome", "status", "arrays", ...}, ...]}`` with
  each test's status (a dict or null) and its output arrays as base64 ``.npy`` bytes.

Nothing reaches the child through the file system: the source and the inputs are in this
process's memory when it forks. Each child calls ``setsid``, applies the resource limits, drops
to an unprivileged uid when started as root, runs in a fresh, empty scratch directory (the only
place it can write; under bubblewrap a size-limited tmpfs) and sends everything back over one
pipe as length-prefixed frames (:data:`FRAME`): ``I`` (imported), ``E`` (import failed, with a
status), then per test ``S id``, ``A key\\n<npy>`` (at most once per key), ``R <status json>``
and ``D id``. This worker enforces the order, the size caps and the deadlines: each test's wall
clock starts once, when the next expected test starts, and the child as a whole has an absolute
deadline, so nothing the child sends can extend its time. Anything out of protocol kills the
child. After each child everything in the scratch area is removed. The parent still validates
every array and compares the values itself.
"""

# Modules a submission might import: loaded here so they exist after the uid drop, when the
# interpreter's own directory may no longer be readable.
import base64
import collections  # noqa: F401
import copy  # noqa: F401
import errno
import functools  # noqa: F401
import gc
import io
import itertools  # noqa: F401
import json
import linecache
import math
import os
import random  # noqa: F401
import resource
import select
import shutil
import signal
import struct
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

SUBMISSION = "submission.py"
SAVEABLE = (np.ndarray, np.generic, int, float)
RESULT_KEYS = ("r", "r0", "r1", "r2")
MAX_ITEMS = len(RESULT_KEYS) - 1  # the items of a tuple or list the protocol has keys for
MAX_MESSAGE = 2000
MAX_FRAMES = 12
MAX_STATUS = 64 * 1024
MAX_ID = 256
FRAME = struct.Struct(">cI")  # frame type, payload length
GAP_S = 0.5  # between one test's end and the next one's start: the child only loops
SLACK_S = 0.5
DISK_CHECK_S = 0.1
MAX_ENTRIES = 5000

try:
    import ctypes

    _LIBC = ctypes.CDLL(None, use_errno=True)
except Exception:  # noqa: BLE001 - without ctypes the uid drop and pid namespace remain
    _LIBC = None


def _prctl(option, value):
    if _LIBC is not None:
        _LIBC.prctl(option, value, 0, 0, 0)


def _warm_up():
    """Import what saving and loading .npy needs, before any child drops privileges."""
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(2), allow_pickle=False)
    buffer.seek(0)
    np.load(buffer, allow_pickle=False)


def _harden_worker():
    """Die with the grader, and hide this worker's /proc entries (and pipes) from a child."""
    _prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    _prctl(4, 0)  # PR_SET_DUMPABLE = 0


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
def _drop_to(uid):
    """Become ``uid`` for good (None: stay who we are, when not started as root)."""
    if uid is not None:
        os.setgroups([])
        os.setresgid(uid, uid, uid)
        os.setresuid(uid, uid, uid)


def _child_setup(scratch, limits, uid, channel_fd):
    os.setsid()
    _prctl(1, signal.SIGKILL)  # die with this worker, whatever the child does
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.closerange(3, channel_fd)
    os.closerange(channel_fd + 1, 1 << 16)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    cpu = int(limits["cpu"]) + 1
    memory = _vm_size() + int(limits["mem"])
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(limits["fsize"]), int(limits["fsize"])))
    resource.setrlimit(resource.RLIMIT_NOFILE, (int(limits["nofile"]), int(limits["nofile"])))
    _drop_to(uid)
    # After the uid drop, so that the limit applies (it never restricts uid 0).
    resource.setrlimit(resource.RLIMIT_NPROC, (0, 0))
    os.chdir(scratch)
    os.environ["TMPDIR"] = os.environ["HOME"] = scratch


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
        size = math.prod(spec["shape"])
        start = int(spec["offset"])
        return _INPUTS[spec["blob"]][start:start + size].reshape(spec["shape"]).copy()
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


def _npy_bytes(value, limit):
    """``value`` as .npy bytes (no pickles), refusing anything past the file-size limit."""
    if isinstance(value, np.ndarray) and value.nbytes > limit:
        raise OSError(errno.EFBIG, "the output is larger than the file-size limit")
    buffer = io.BytesIO()
    np.save(buffer, value, allow_pickle=False)
    data = buffer.getvalue()
    if len(data) > limit:
        raise OSError(errno.EFBIG, "the output is larger than the file-size limit")
    return data


def _encode_result(result, save, limit):
    """The checked parts of ``result`` as .npy bytes by key, and a description of the rest.

    Of a tuple or list only the first :data:`MAX_ITEMS` items are described and saved: the
    protocol has keys for no more (``r0`` to ``r2``), and a list of a million numbers returned
    by mistake must come back as "a list of 1000000 items", not as a broken channel or a
    timeout spent saving each of them.
    """
    arrays = {}
    if isinstance(result, (tuple, list)):
        info = _describe_value(result)
        first = range(min(len(result), MAX_ITEMS))
        info["items"] = [_describe_value(result[index]) for index in first]
        for index in save or first:
            if index in first and isinstance(result[index], SAVEABLE):
                arrays[f"r{index}"] = result[index]
    else:
        info = _describe_value(result)
        if isinstance(result, SAVEABLE):
            arrays["r"] = result
    encoded = {key: _npy_bytes(value, limit) for key, value in arrays.items()}
    if sum(map(len, encoded.values())) > limit:
        raise OSError(errno.EFBIG, "the outputs are larger than the file-size limit")
    return info, encoded


def _run_one(namespace, test, limit):
    """Call one test's function; its status and its encoded arrays."""
    func = namespace.get(test["func"])
    if not callable(func):
        return {"ok": False, "missing": True}, {}
    args = [_decode(a) for a in test["args"]]
    kwargs = {k: _decode(v) for k, v in test["kwargs"].items()}
    start = time.perf_counter()
    try:
        result = func(*args, **kwargs)
    except BaseException as exc:  # noqa: BLE001 - SystemExit and friends are verdicts too
        return _describe_exception(exc), {}
    elapsed = time.perf_counter() - start
    try:
        info, encoded = _encode_result(result, test.get("save"), limit)
    except BaseException as exc:  # noqa: BLE001
        status = _describe_exception(exc)
        status["stage"] = "save"
        try:
            status["result"] = _describe_value(result)
        except BaseException:  # noqa: BLE001
            pass
        return status, {}
    return {"ok": True, "result": info, "seconds": elapsed}, encoded


def _send(fd, kind, payload=b""):
    data = FRAME.pack(kind, len(payload)) + payload
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _status_bytes(status):
    data = json.dumps(status).encode()
    if len(data) > MAX_STATUS:  # only a huge exception message gets here: keep the gist
        status = dict(status, exc_msg=str(status.get("exc_msg", ""))[:200], frames=[])
        data = json.dumps(status).encode()[:MAX_STATUS]
    return data


def _import_submission(source, fd):
    namespace = {"__name__": "submission", "__file__": SUBMISSION, "__builtins__": __builtins__}
    # The source never touches the disk: tracebacks quote its lines from memory.
    linecache.cache[SUBMISSION] = (len(source), None, source.splitlines(True), SUBMISSION)
    try:
        code = compile(source, SUBMISSION, "exec")
        exec(code, namespace)  # noqa: S102 - this child is the sandbox: running it is the point
    except BaseException as exc:  # noqa: BLE001
        status = _describe_exception(exc)
        if isinstance(exc, SyntaxError):
            status["frames"] = [[exc.lineno or 0, "<module>", (exc.text or "").strip()[:200]]]
        _send(fd, b"E", _status_bytes(status))
        os._exit(0)
    _send(fd, b"I")
    return namespace


def _child_main(source, scratch, tests, limits, uid, fd):
    _child_setup(scratch, limits, uid, fd)
    namespace = _import_submission(source, fd)
    limit = int(limits["fsize"])
    for test in tests:
        _send(fd, b"S", test["id"].encode())
        try:
            status, encoded = _run_one(namespace, test, limit)
        except BaseException as exc:  # noqa: BLE001
            status, encoded = _describe_exception(exc), {}
            status["stage"] = "load"
        for key, data in encoded.items():
            _send(fd, b"A", key.encode() + b"\n" + data)
        _send(fd, b"R", _status_bytes(status))
        _send(fd, b"D", test["id"].encode())
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


EXIT_POLL_S = 0.01


def _reap(pid, child=None, quota=None):
    """Wait for the child; past its deadline (or a full disk) it is killed, never waited on.

    The result pipe's end is no proof the child ended: one that closes the pipe and keeps
    running is still held to its deadline here.
    """
    while child is not None and not child.ended:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return _exit_info(status, usage)
        if time.monotonic() >= child.deadline:
            child.ended = "timeout"
        elif quota is not None:
            child.ended = quota.full()
        if not child.ended:
            time.sleep(EXIT_POLL_S)
            continue
        child.ended_after_eof = True
        _kill_group(pid)
    _, status, usage = os.wait4(pid, 0)
    return _exit_info(status, usage)


def _exit_info(status, usage):
    if os.WIFSIGNALED(status):
        return {"signal": os.WTERMSIG(status), "exit": None, "cpu": usage.ru_utime + usage.ru_stime}
    return {"signal": None, "exit": os.WEXITSTATUS(status), "cpu": usage.ru_utime + usage.ru_stime}


def _fork_child(source, scratch, tests, limits, uid):
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(read_fd)
            _child_main(source, scratch, tests, limits, uid, write_fd)
        finally:
            os._exit(70)
    os.close(write_fd)
    return pid, read_fd


class ProtocolViolation(Exception):
    """The child sent something the protocol does not allow: it is killed."""


class _Channel:
    """Reads the child's frames, refusing any frame past its cap before reading it."""

    def __init__(self, fd, caps):
        self.fd = fd
        self.caps = caps
        self.buffer = bytearray()
        self.eof = False

    def frames(self, timeout):
        """Yield the complete frames that arrive within ``timeout``, in order.

        A generator, so the frames before a bad one are handled before it raises.
        """
        if self.eof:
            return
        ready, _, _ = select.select([self.fd], [], [], max(timeout, 0))
        if not ready:
            return
        chunk = os.read(self.fd, 1 << 20)
        if not chunk:
            self.eof = True
            return
        self.buffer += chunk
        while len(self.buffer) >= FRAME.size:
            kind, length = FRAME.unpack_from(self.buffer)
            if length > self.caps.get(kind, -1):
                raise ProtocolViolation(f"frame {kind!r} of {length} bytes")
            if len(self.buffer) < FRAME.size + length:
                return
            frame = bytes(self.buffer[FRAME.size:FRAME.size + length])
            del self.buffer[:FRAME.size + length]
            yield kind, frame


class _Child:
    """What this worker knows of one child: the expected order of frames and its deadlines."""

    def __init__(self, tests, limits, started, job_budget):
        self.ids = [t["id"] for t in tests]
        self.walls = [float(t["wall"]) for t in tests]
        self.budget = min(int(limits["fsize"]), job_budget)  # output bytes of one test
        self.absolute = started + float(limits["import_wall"]) + sum(self.walls) + SLACK_S
        self.phase_deadline = started + float(limits["import_wall"])
        self.imported = False
        self.import_status = None
        self.index = 0  # the next test expected to start
        self.current = None  # the test running: {"status", "arrays", "bytes"}
        self.done = {}
        self.ended = None  # "timeout", "disk", "files", "protocol" or None
        self.ended_after_eof = False  # it closed its result pipe and kept running
        self.budget_left = job_budget  # output bytes all this child's tests may still send
        self.spent = 0

    @property
    def deadline(self):
        return min(self.phase_deadline, self.absolute)

    def handle(self, kind, payload, now):
        if not self.imported:
            return self._before_import(kind, payload, now)
        if self.current is None:
            if kind != b"S" or self.index >= len(self.ids) or \
                    payload != self.ids[self.index].encode():
                raise ProtocolViolation("a test started out of order")
            self.current = {"status": None, "arrays": {}, "bytes": 0}
            self.phase_deadline = now + self.walls[self.index]  # set once, never re-armed
            return None
        return self._during_test(kind, payload, now)

    def _before_import(self, kind, payload, now):
        if kind == b"I" and not payload:
            self.imported = True
            self.phase_deadline = now + GAP_S
        elif kind == b"E" and self.import_status is None:
            self.import_status = _parse_status(payload)
        else:
            raise ProtocolViolation("a frame before the import ended")

    def _during_test(self, kind, payload, now):
        record = self.current
        if kind == b"A" and record["status"] is None:
            key, _, data = payload.partition(b"\n")
            key = key.decode("ascii", "replace")
            record["bytes"] += len(data)
            self.spent += len(data)
            if key not in RESULT_KEYS or key in record["arrays"] or \
                    record["bytes"] > self.budget or self.spent > self.budget_left:
                raise ProtocolViolation("an output frame out of protocol")
            record["arrays"][key] = base64.b64encode(data).decode("ascii")
        elif kind == b"R" and record["status"] is None:
            record["status"] = _parse_status(payload)
        elif kind == b"D" and payload == self.ids[self.index].encode() and \
                record["status"] is not None:
            self.done[self.ids[self.index]] = record
            self.current, self.index = None, self.index + 1
            self.phase_deadline = now + GAP_S
        else:
            raise ProtocolViolation("a frame out of order")


def _parse_status(payload):
    try:
        status = json.loads(payload.decode("utf-8"))
    except (ValueError, RecursionError):
        return {"ok": False, "exc_type": "ProtocolError", "exc_msg": "", "frames": []}
    return status if isinstance(status, dict) else {"ok": False, "exc_type": "ProtocolError",
                                                     "exc_msg": "", "frames": []}


def _caps(limits):
    fsize = int(limits["fsize"])
    return {b"I": 0, b"E": MAX_STATUS, b"S": MAX_ID, b"A": fsize + 16, b"R": MAX_STATUS,
            b"D": MAX_ID}


def _watch(channel, child, pid, quota):
    """Follow the child's frames until it ends, overruns or breaks the protocol."""
    next_check = time.monotonic() + DISK_CHECK_S
    while not channel.eof:
        now = time.monotonic()
        if now >= child.deadline:
            child.ended = "timeout"
            break
        if now >= next_check:
            next_check = now + DISK_CHECK_S
            child.ended = quota.full()
            if child.ended:
                break
        try:
            for kind, payload in channel.frames(min(child.deadline, next_check) - now):
                child.handle(kind, payload, time.monotonic())
        except ProtocolViolation:
            child.ended = "protocol"
            break
    if child.ended:
        _kill_group(pid)


# --------------------------------------------------------------------------------- scratch
class _Scratch:
    """The scratch area: one fresh directory per child, all of it removed after each child.

    Under bubblewrap the area is a size-limited tmpfs, so the quota is real and ``full`` only
    turns a full disk into a clear verdict. Without it the area is a host directory and ``full``
    polls the child's usage (a best effort: RLIMIT_FSIZE still bounds each file).
    """

    def __init__(self, root, quota, tmpfs):
        self.root = root
        self.quota = quota
        self.tmpfs = tmpfs
        self.current = None
        self.count = 0
        self.shm_budget = None  # bytes of SysV shm, polled only where the kernel cannot hold it

    def fresh(self, uid):
        self.count += 1
        path = os.path.join(self.root, f"c{self.count}")
        os.mkdir(path, 0o700)
        if uid is not None:
            os.chown(path, uid, uid)
        self.current = path
        return path

    def full(self):
        """Why the child must stop: "disk" (bytes), "files" (too many of them), "memory" (SysV
        shared memory past its budget, where that is polled) or None."""
        if self.shm_budget is not None and _shm_bytes() > self.shm_budget:
            return "memory"
        if self.tmpfs:
            info = os.statvfs(self.root)
            free = info.f_bavail * info.f_frsize
            if free <= max(64 * 1024, (info.f_blocks * info.f_frsize) // 100):
                return "disk"
            # The tmpfs size bounds bytes only: empty files would fill memory with inodes.
            return "files" if info.f_files - info.f_ffree > MAX_ENTRIES else None
        return "disk" if _disk_usage(self.current) > self.quota else None

    def purge(self, uid):
        """Remove everything in the area and every SysV IPC object; False if any remains.

        Under bubblewrap the worker has its own IPC namespace, so every object listed there
        is a child's. Without it the namespace is the host's and is left alone.
        """
        if _remove_entries(self.root) and not (self.tmpfs and _ipc_objects()):
            return True
        # Files a child made with mode 000 (or in such directories), and its IPC objects, are
        # removable only by their owner here: root has no CAP_DAC_OVERRIDE in the sandbox.
        pid = os.fork()
        if pid == 0:
            try:
                _drop_to(uid)
                _unlock_tree(self.root)
                _remove_entries(self.root)
                if self.tmpfs:
                    _remove_ipc()
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        return _remove_entries(self.root) and not (self.tmpfs and _ipc_objects())


IPC_KINDS = ("shm", "sem", "msg")
IPC_RMID = 0


def _ipc_objects():
    """(kind, id) of every SysV IPC object in this IPC namespace."""
    found = []
    for kind in IPC_KINDS:
        try:
            with open(f"/proc/sysvipc/{kind}") as fh:
                rows = fh.read().splitlines()[1:]
        except OSError:
            continue
        found += [(kind, int(row.split()[1])) for row in rows if row.strip()]
    return found


def _remove_ipc():
    if _LIBC is None:
        return
    for kind, ident in _ipc_objects():
        if kind == "shm":
            _LIBC.shmctl(ident, IPC_RMID, None)
        elif kind == "sem":
            _LIBC.semctl(ident, 0, IPC_RMID)
        else:
            _LIBC.msgctl(ident, IPC_RMID, None)


SHM_SEGMENTS = 64  # segments per IPC namespace (the kernel's default is 4096)
MSG_QUEUES = 16  # message queues of 16 KB each (default: 32000, about 500 MB of kernel memory)


def _limit_ipc(memory):
    """Hold this IPC namespace's SysV objects to ``memory`` bytes in all; False if we cannot.

    The kernel refuses a segment past ``shmall`` pages (all segments together) or ``shmmax``
    bytes (one), whether or not it is attached, so a child cannot fill segments, detach them
    and keep their memory beyond its RLIMIT_AS. Only the namespace's root may write these (the
    children run as another uid), and only under bubblewrap is the namespace ours alone.
    """
    page = os.sysconf("SC_PAGE_SIZE")
    values = (("shmmax", memory), ("shmall", max(1, memory // page)),
              ("shmmni", SHM_SEGMENTS), ("msgmni", MSG_QUEUES))
    try:
        for name, value in values:
            with open(f"/proc/sys/kernel/{name}", "w") as fh:
                fh.write(str(int(value)))
    except OSError:
        return False
    return True


def _shm_bytes():
    """The size of every SysV shared memory segment of this IPC namespace, together."""
    try:
        with open("/proc/sysvipc/shm") as fh:
            rows = fh.read().splitlines()[1:]
    except OSError:
        return 0
    return sum(int(row.split()[3]) for row in rows if row.strip())


def _remove_entries(root):
    for name in os.listdir(root):
        path = os.path.join(root, name)
        try:
            if not os.path.isdir(path) or os.path.islink(path):
                os.unlink(path)
            else:
                _remove_dir(path)
        except OSError:
            pass
    return not os.listdir(root)


def _remove_dir(path):
    # An empty directory first: a child's 0700 directory is not listable by root here.
    try:
        os.rmdir(path)
    except OSError:
        shutil.rmtree(path)


def _unlock_tree(root):
    for top, dirs, _ in os.walk(root):
        for name in dirs:
            path = os.path.join(top, name)
            if not os.path.islink(path):
                try:
                    os.chmod(path, 0o700)  # before os.walk descends into it
                except OSError:
                    pass


def _disk_usage(path):
    """Bytes under ``path`` (past MAX_ENTRIES entries it counts as over any quota)."""
    total, seen = 0, 0
    for root, dirs, files in os.walk(path):
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


# -------------------------------------------------------------------------------- batches
def _run_batch(job, tests, scratch):
    """Run ``tests`` in one child, continuing in a fresh child after a timeout or crash."""
    outcomes = {}
    remaining = list(tests)
    limits, uid = job["limits"], job.get("uid")
    while remaining:
        started = time.monotonic()
        pid, read_fd = _fork_child(job["source"], scratch.fresh(uid), remaining, limits, uid)
        child = _Child(remaining, limits, started, job["budget"])
        _watch(_Channel(read_fd, _caps(limits)), child, pid, scratch)
        os.close(read_fd)
        exit_info = _reap(pid, child, scratch)
        # Taken before the purge: removing what the child left is not the child's time.
        exit_info["lifetime"] = time.monotonic() - started
        if not scratch.purge(uid):
            job["dirty"] = True
        job["budget"] -= sum(r["bytes"] for r in child.done.values())
        remaining = _settle(child, remaining, outcomes, exit_info)
    return [outcomes[t["id"]] for t in tests]


PROBLEMS = {
    "protocol": "the output could not be read: the result channel broke its protocol",
    "files": f"the code made more than {MAX_ENTRIES} files in its scratch area",
    "memory": "the code held more SysV shared memory than its memory limit",
}
CLOSED_PIPE = "the code closed its result channel and kept running until it was stopped"


def _problem(child):
    return CLOSED_PIPE if child.ended_after_eof else PROBLEMS.get(child.ended)


def _settle(child, tests, outcomes, base):
    """Record outcomes for the tests this child ran; return the tests still to run."""
    if not child.imported:
        if child.import_status is not None:
            kind = "import_error"
        elif child.ended in ("disk", "files"):
            kind = "import_disk_quota"
        else:
            kind = "import_timeout" if child.ended == "timeout" else "import_crashed"
        for test in tests:
            outcomes[test["id"]] = dict(base, id=test["id"], outcome=kind,
                                        status=child.import_status, arrays={},
                                        problem=_problem(child))
        return []
    for test_id, record in child.done.items():
        outcomes[test_id] = dict(base, id=test_id, outcome="done", status=record["status"],
                                 arrays=record["arrays"], problem=None)
    pending = [t for t in tests if t["id"] not in outcomes]
    if not pending:
        return []
    failed = pending[0]["id"]  # the next expected test: running, or about to start
    kind = {"timeout": "timeout", "disk": "disk_quota", "files": "disk_quota"}.get(
        child.ended, "crashed")
    outcomes[failed] = dict(base, id=failed, outcome=kind, status=None, arrays={},
                            problem=_problem(child))
    rest = pending[1:]
    if kind != "timeout":
        return rest
    # One timeout per function is enough: an endless loop would only time out again.
    func = pending[0]["func"]
    for test in rest:
        if test["func"] == func:
            outcomes[test["id"]] = dict(base, id=test["id"], outcome="skipped_after_timeout",
                                        status=None, arrays={}, problem=None)
    return [t for t in rest if t["func"] != func]


def _load_inputs(encoded):
    _INPUTS.clear()
    for name, data in encoded.items():
        _INPUTS[name] = np.load(io.BytesIO(base64.b64decode(data)), allow_pickle=False)


def _handle(job, scratch):
    _load_inputs(job.get("inputs", {}))
    scratch.quota = int(job["limits"]["disk"])
    if scratch.tmpfs and not _limit_ipc(int(job["limits"]["mem"])):
        # Not the namespace's root (bubblewrap in a user namespace): poll the segments instead.
        scratch.shm_budget = int(job["limits"]["mem"])
    # All of a job's outputs together count toward its disk quota: the reply stays bounded.
    job["budget"] = int(job["limits"]["disk"])
    outcomes = []
    for batch in job["batches"]:
        outcomes.extend(_run_batch(job, batch, scratch))
    _INPUTS.clear()
    return {"token": job.get("token"), "outcomes": outcomes, "dirty": bool(job.get("dirty"))}


def _arg(name, default=None):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


JOB_EOF = 3  # the per-job process found stdin closed: the worker ends too
JOB_REPLIED = 0


def _read_job_line(fd=0):
    """One job line from ``fd``, read with os.read so no buffer of it outlives this process.

    The parent sends one job and waits for its reply, so nothing follows the newline.
    """
    chunks = []
    while True:
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks) or None
        chunks.append(chunk)
        if b"\n" in chunk:
            return b"".join(chunks)


def _write_line(reply, fd=1):
    data = memoryview((json.dumps(reply) + "\n").encode())
    while data:
        data = data[os.write(fd, data):]


def _job_main(scratch):
    """The per-job process: read, run and answer one job, then exit with everything of it."""
    _prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: die with the warm worker
    line = _read_job_line()
    if line is None:
        os._exit(JOB_EOF)
    if not line.strip():
        os._exit(JOB_REPLIED)
    try:
        reply = _handle(json.loads(line), scratch)
    except Exception as exc:  # noqa: BLE001 - report, never die silently
        reply = {"error": type(exc).__name__ + ": " + str(exc)[:500]}
    _write_line(reply)
    os._exit(JOB_REPLIED)


def _serve(scratch):
    """Fork one process per job; this warm worker never reads a job, so none outlives it."""
    while True:
        select.select([0], [], [])  # a job (or EOF) is waiting; the per-job process reads it
        pid = os.fork()
        if pid == 0:
            try:
                _job_main(scratch)
            finally:
                os._exit(70)
        _, status = os.waitpid(pid, 0)
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
        if code == JOB_EOF:
            return
        if code != JOB_REPLIED:
            _write_line({"error": f"the job process ended without a reply (status {status})"})


def main():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    os.umask(0o077)
    _harden_worker()
    _warm_up()
    scratch = _Scratch(_arg("--scratch"), 0, "--tmpfs" in sys.argv)
    # Children share the warm heap copy-on-write; keep the collector from touching it.
    gc.collect()
    gc.freeze()
    _write_line({"ready": True, "numpy": np.__version__})
    _serve(scratch)


if __name__ == "__main__":
    main()
