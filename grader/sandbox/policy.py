"""Which isolation student code runs under, decided once and never changed silently.

Grading *other people's* code (the server, the queue workers, an instructor's batch run) fails
closed: it needs bubblewrap (Debian package ``bubblewrap``) that really starts, or the operator's
explicit, loud opt-out ``STRIDE_SANDBOX=unsafe-no-isolation``. A student's own local check of
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

import logging
import os
import shutil
import subprocess
import threading
from dataclasses import dataclass

from grader.errors import SandboxError

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


_PROBES: dict[tuple[int, str | None], Isolation] = {}
_LOCK = threading.Lock()
_OPT_OUT_LOGGED: set[int] = set()


def _probe_command(bwrap: str) -> list[str]:
    """Start the namespaces and mounts the workers use, and run ``true`` inside."""
    unshare = (["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
               if os.geteuid() == 0 else ["--unshare-all"])
    return [bwrap, *unshare, "--die-with-parent", "--ro-bind", "/", "/", "--proc", "/proc",
            "--dev", "/dev", "--size", str(1 << 20), "--tmpfs", "/tmp", "true"]


def _run_probe(bwrap: str | None) -> Isolation:
    if bwrap is None:
        named = os.environ.get("STRIDE_BWRAP")
        where = f"STRIDE_BWRAP={named} is not an executable file" if named else \
            "bwrap is not on the PATH"
        return Isolation("limits-only", reason=where)
    try:
        done = subprocess.run(_probe_command(bwrap), capture_output=True, timeout=PROBE_TIMEOUT_S,
                              stdin=subprocess.DEVNULL, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Isolation("limits-only", reason=f"bwrap could not be run: {type(exc).__name__}")
    if done.returncode != 0:
        detail = done.stderr.decode("utf-8", "replace").strip()[:200] or f"exit {done.returncode}"
        return Isolation("limits-only", reason=f"bwrap did not start: {detail}")
    return Isolation("bwrap")


def probe_isolation() -> Isolation:
    """Really start bubblewrap once (cached per process and binary); limits-only on failure."""
    bwrap = bwrap_binary()
    key = (os.getpid(), bwrap)
    with _LOCK:
        if key not in _PROBES:
            _PROBES[key] = _run_probe(bwrap)
        return _PROBES[key]


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
