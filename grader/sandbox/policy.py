"""Which isolation student code runs under, decided once and never changed silently.

Grading *other people's* code (the server, the queue workers, an instructor's batch run) fails
closed: it needs bubblewrap (Debian package ``bubblewrap``) that really starts the grading
worker (the probe runs the runner's own command line, :mod:`grader.sandbox.command`, and one
trivial job in it), or the operator's explicit, loud opt-out
``STRIDE_SANDBOX=unsafe-no-isolation``. A student's own local check of
their own code may run with resource limits only, and says so.

Settings:

* ``STRIDE_SANDBOX``: unset, ``auto`` or ``bwrap``: bubblewrap is required.
  ``unsafe-no-isolation``: resource limits only, logged once per process as a warning. The old
  values ``none``, ``off`` and ``rlimits`` raise :class:`IsolationUnavailable` (they were renamed
  so that nobody keeps disabling isolation by accident).
* ``STRIDE_BWRAP``: the bubblewrap binary (default: ``bwrap`` on the PATH).

Where bubblewrap cannot run at all (user namespaces disabled, a container without the needed
privileges), a second layer such as ``unshare -n`` (a network namespace alone) would keep
submissions off PostgreSQL, Redis and the network. We do not offer it as a mode: it still shows
the whole file system (the database file, secrets, the reference code) and the grading
process's ``/proc``, so it would make "limits only" look safe when it is not. The opt-out stays
named for what it is.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass

from grader.errors import SandboxError
from grader.sandbox.command import (
    ArgsPipe,
    bwrap_command,
    child_uid,
    clean_env,
    kill_worker_group,
)
from grader.sandbox.limits import DEFAULT_LIMITS

log = logging.getLogger(__name__)

UNSAFE_OPT_OUT = "unsafe-no-isolation"
REQUIRED_VALUES = ("", "auto", "bwrap")
RENAMED_VALUES = ("none", "off", "rlimits")
PROBE_TIMEOUT_S = 20.0


class IsolationUnavailable(SandboxError):
    """Bubblewrap is required to grade other people's code but cannot run here."""


@dataclass(frozen=True)
class Isolation:
    """How student code is isolated.

    Attributes
    ----------
    mode : str
        ``"bwrap"`` or ``"limits-only"``.
    reason : str or None
        Why limits only (None for bwrap).
    unsafe_opt_out : bool
        True when the operator set ``STRIDE_SANDBOX=unsafe-no-isolation``.
    """

    mode: str
    reason: str | None = None
    unsafe_opt_out: bool = False

    def __post_init__(self) -> None:
        if self.mode not in ("bwrap", "limits-only"):
            raise ValueError(f"Isolation.mode must be 'bwrap' or 'limits-only', got {self.mode!r}")

    def warning(self) -> str | None:
        """One sentence for reports, logs and banners when code is not isolated, else None."""
        if self.mode == "bwrap":
            return None
        if self.unsafe_opt_out:
            return (f"Code runs without isolation (STRIDE_SANDBOX={UNSAFE_OPT_OUT}): resource "
                    "limits apply, but submissions can read this machine's files and reach "
                    "its network.")
        return (f"Your code ran with resource limits only, because bubblewrap is not available "
                f"here ({self.reason}): fine for checking your own code, but it is not isolated.")


def bwrap_binary() -> str | None:
    """The bubblewrap binary to use: ``STRIDE_BWRAP`` or ``bwrap`` on the PATH (None: none)."""
    chosen = os.environ.get("STRIDE_BWRAP")
    if chosen:
        return chosen if os.path.isfile(chosen) and os.access(chosen, os.X_OK) else None
    return shutil.which("bwrap")


def _setting() -> str:
    return os.environ.get("STRIDE_SANDBOX", "").strip().lower()


def _check_setting(value: str) -> None:
    if value in RENAMED_VALUES:
        raise IsolationUnavailable(
            f"STRIDE_SANDBOX={value} no longer disables isolation: the setting was renamed to "
            f"STRIDE_SANDBOX={UNSAFE_OPT_OUT}, because without bubblewrap submissions can read "
            "this machine's files and reach its network. Unset it to use bubblewrap.")
    if value not in REQUIRED_VALUES and value != UNSAFE_OPT_OUT:
        raise IsolationUnavailable(
            f"STRIDE_SANDBOX={value!r} is not a known setting: use 'auto' (bubblewrap, the "
            f"default) or {UNSAFE_OPT_OUT!r}.")


_PROBES: dict[str, Isolation] = {}
_LOCK = threading.Lock()
_OPT_OUT_LOGGED: set[int] = set()


PROBE_SOURCE = "def probe():\n    return 1\n"


def _probe_job() -> bytes:
    """One trivial job, as the runner sends it: the worker forks a child that drops to the
    grading uid under the grading limits and calls ``probe()``."""
    test = {"id": "probe", "func": "probe", "args": [], "kwargs": {}, "wall": 2.0, "save": None}
    job = {"token": "probe", "source": PROBE_SOURCE, "inputs": {}, "batches": [[test]],
           "limits": DEFAULT_LIMITS.to_wire(), "uid": child_uid()}
    return (json.dumps(job) + "\n").encode()


def _first_line(data: bytes, default: str) -> str:
    lines = [line.strip() for line in data.decode("utf-8", "replace").splitlines()]
    return next((line for line in lines if line), default)[:200]


def _answered(stdout: bytes) -> str | None:
    """"" when the worker said it is ready and passed the probe job, else why not (None: it
    never said it is ready)."""
    lines = stdout.splitlines()
    if not lines or not lines[0].startswith(b'{"ready": true'):
        return None
    try:
        reply = json.loads(lines[1]) if len(lines) > 1 else None
    except ValueError:
        reply = None
    outcomes = reply.get("outcomes") if isinstance(reply, dict) else None
    if not outcomes or not isinstance(outcomes[0], dict):
        error = reply.get("error") if isinstance(reply, dict) else None
        return f"it did not answer a trivial job ({str(error or 'no reply')[:150]})"
    first = outcomes[0]
    status = first.get("status") if isinstance(first.get("status"), dict) else {}
    if first.get("outcome") != "done" or not status.get("ok"):
        exc = status.get("exc_type") or first.get("problem") or first.get("outcome")
        return f"a trivial job failed inside it ({str(exc)[:150]})"
    return ""


def _run_probe(bwrap: str | None) -> Isolation:
    """Start the real grading worker under bubblewrap (the runner's own command line) and have
    it run one trivial job, within :data:`PROBE_TIMEOUT_S`."""
    if bwrap is None:
        named = os.environ.get("STRIDE_BWRAP")
        where = f"STRIDE_BWRAP={named} is not an executable file" if named else \
            "bwrap is not on the PATH"
        return Isolation("limits-only", reason=where)
    with ArgsPipe(bwrap_command(bwrap), use_pipe=True) as argv:
        try:
            proc = subprocess.Popen(argv.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, env=clean_env(), cwd="/",
                                    start_new_session=True, close_fds=True, pass_fds=argv.fds)
        except OSError as exc:
            return Isolation("limits-only",
                             reason=f"bwrap could not be run: {type(exc).__name__}")
    try:
        stdout, stderr = proc.communicate(_probe_job(), timeout=PROBE_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        kill_worker_group(proc)
        proc.communicate()
        return Isolation("limits-only", reason=f"the sandbox worker did not answer within "
                         f"{PROBE_TIMEOUT_S:g} s under bubblewrap")
    why = _answered(stdout)
    if why:
        detail = _first_line(stderr, "")
        return Isolation("limits-only", reason=f"the sandbox worker did not work under "
                         f"bubblewrap: {why}" + (f": {detail}" if detail else ""))
    if why is None:
        detail = _first_line(stderr, f"exit {proc.returncode}")
        return Isolation("limits-only", reason=f"the sandbox worker did not start under "
                         f"bubblewrap: {detail}")
    return Isolation("bwrap")


def probe_isolation() -> Isolation:
    """Really start the grading worker under bubblewrap and run a trivial job in it, once
    (cached per binary, and kept across fork); limits-only, saying why in one line, on
    failure."""
    bwrap = bwrap_binary()
    if bwrap is None:
        return _run_probe(None)  # nothing to start: say which setting is missing, every time
    with _LOCK:  # a forked process (an RQ work-horse) keeps its parent's answer: same host
        if bwrap not in _PROBES:
            _PROBES[bwrap] = _run_probe(bwrap)
        return _PROBES[bwrap]


def _opt_out() -> Isolation:
    isolation = Isolation("limits-only", reason=f"STRIDE_SANDBOX={UNSAFE_OPT_OUT}",
                          unsafe_opt_out=True)
    with _LOCK:
        if os.getpid() not in _OPT_OUT_LOGGED:
            _OPT_OUT_LOGGED.add(os.getpid())
            log.warning("SANDBOX DISABLED: %s", isolation.warning())
    return isolation


def require_isolation() -> Isolation:
    """Isolation for grading other people's code: bubblewrap, or the explicit opt-out.

    Raises
    ------
    IsolationUnavailable
        When bubblewrap cannot run and the operator did not opt out, or on an old or unknown
        ``STRIDE_SANDBOX`` value. The message says how to install or enable bubblewrap.
    """
    value = _setting()
    if value == UNSAFE_OPT_OUT:
        return _opt_out()
    _check_setting(value)
    isolation = probe_isolation()
    if isolation.mode != "bwrap":
        raise IsolationUnavailable(
            f"Grading other people's code needs bubblewrap, which cannot run here "
            f"({isolation.reason}). Install the Debian package `bubblewrap` "
            "(apt-get install bubblewrap) and make sure unprivileged user namespaces are "
            "enabled (sysctl kernel.unprivileged_userns_clone=1 and user.max_user_namespaces "
            f"> 0). Only if you accept running untrusted code unisolated, set "
            f"STRIDE_SANDBOX={UNSAFE_OPT_OUT}.")
    return isolation


def local_isolation() -> Isolation:
    """Isolation for a student's own check of their own code: bubblewrap when it works.

    Never raises: without bubblewrap (or with any ``STRIDE_SANDBOX`` value) the check runs with
    resource limits only, and :meth:`Isolation.warning` says so.
    """
    if _setting() == UNSAFE_OPT_OUT:
        return _opt_out()
    return probe_isolation()
