"""The command line of one sandbox worker: the one home of what bubblewrap binds and starts.

Both the runner (:mod:`grader.sandbox.runner`, which keeps workers) and the isolation probe
(:mod:`grader.sandbox.policy`, which starts one worker once to see that it really answers) build
the worker's command here, so the probe tests exactly what grading will run.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from grader.sandbox.limits import DEFAULT_LIMITS, MB

ZYGOTE = Path(__file__).with_name("zygote.py")
NOBODY = 65534
SANDBOX_ROOT = "/sandbox"
SCRATCH = "/tmp"  # inside bubblewrap: the size-limited tmpfs, the child's only writable place


def child_uid() -> int | None:
    """The uid children run as: nobody when started as root, else our own (None)."""
    return NOBODY if os.geteuid() == 0 else None


def _numpy_site() -> Path:
    """Where NumPy is installed (found, not imported: a check that runs nothing needs none)."""
    spec = importlib.util.find_spec("numpy")
    if spec is None or spec.origin is None:
        raise ModuleNotFoundError("numpy is not installed; the sandbox's worker needs it")
    return Path(spec.origin).resolve().parent.parent


def clean_env(extra: Mapping[str, str] = ()) -> dict[str, str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": "/nonexistent",
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


def bwrap_command(bwrap: str, disk_bytes: int = DEFAULT_LIMITS.disk_mb * MB) -> list[str]:
    """The bubblewrap command line of one warm worker.

    Only the system, the interpreter, numpy and the worker's own file are visible, read-only.
    The one writable place is a tmpfs of ``disk_bytes`` (the disk quota, enforced by the
    kernel) at /tmp, where each child gets a fresh directory; nothing of the host's /tmp,
    /var/tmp or /dev/shm is visible. No network, a pid namespace (the child sees no process of
    the host), a new session, and the sandbox dies with the grader. As root we keep the host
    user namespace so the worker can drop each child to an unprivileged uid (RLIMIT_NPROC
    never restricts uid 0).
    """
    args = [bwrap]
    if os.geteuid() == 0:
        args += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
                 "--unshare-cgroup-try", "--cap-drop", "ALL", "--cap-add", "CAP_SETUID",
                 "--cap-add", "CAP_SETGID", "--cap-add", "CAP_KILL", "--cap-add", "CAP_CHOWN"]
    else:
        args += ["--unshare-all", "--cap-drop", "ALL"]
    args += ["--die-with-parent", "--new-session", "--clearenv"]
    for key, value in clean_env().items():
        args += ["--setenv", key, value]
    _bind_system(args)
    python = _bind_python(args)
    args += ["--perms", "0755", "--size", str(int(disk_bytes)), "--tmpfs", SCRATCH,
             "--proc", "/proc", "--dev", "/dev",
             # The root and /dev are tmpfs of bubblewrap's own, owned by the grading user when it
             # runs unprivileged (then the child keeps that uid): read-only, they can hold no
             # file past the disk quota and none for the next child.
             "--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/"]
    args += [python, "-I", "-S", "-B", f"{SANDBOX_ROOT}/zygote.py", "--site",
             f"{SANDBOX_ROOT}/site", "--scratch", SCRATCH, "--tmpfs"]
    return args


def plain_command(scratch_root: Path) -> list[str]:
    """The worker's command line without bubblewrap: limits only."""
    return [sys.executable, "-I", "-S", "-B", str(ZYGOTE), "--site", str(_numpy_site()),
            "--scratch", str(scratch_root)]


class ArgsPipe:
    """Hand bubblewrap its arguments through a pipe (``--args FD``), not its command line.

    The sandbox sees bubblewrap as its pid 1, and anyone may read a process's
    ``/proc/<pid>/cmdline``: the arguments name host paths, which the child need not know.
    """

    def __init__(self, cmd: list[str], use_pipe: bool) -> None:
        self.cmd, self.fds, self._read = cmd, (), None
        if use_pipe:
            command = cmd.index("-I") - 1  # the interpreter: bubblewrap wants it on argv
            self._read, write = os.pipe()
            data = b"".join(arg.encode() + b"\0" for arg in cmd[1:command])
            with os.fdopen(write, "wb") as fh:  # far below a pipe's buffer: never blocks
                fh.write(data)
            self.cmd = [cmd[0], "--args", str(self._read), *cmd[command:]]
            self.fds = (self._read,)

    def __enter__(self) -> ArgsPipe:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._read is not None:
            os.close(self._read)


def kill_worker_group(proc: subprocess.Popen) -> None:
    """SIGKILL a started worker's whole process group (under bubblewrap: its whole pid
    namespace); the caller reaps it (``wait`` or ``communicate``)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    proc.kill()
