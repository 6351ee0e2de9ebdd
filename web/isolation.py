"""Whether grading other people's code may start here: `require_isolation()` and its result.

The contract lives in `grader.sandbox` (`IsolationUnavailable`, `Isolation`,
`require_isolation`). Until that lands, this module provides a stand-in with the same names and
behaviour; the web app and the workers import only from here, so the switch is one file.

TODO(integration): delete the stand-in below once `grader.sandbox` exports these names.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache

from grader.errors import SandboxError

try:
    from grader.sandbox import Isolation, IsolationUnavailable, require_isolation
except ImportError:  # stand-in until grader.sandbox exports the contract (remove at integration)
    OPT_OUT = "unsafe-no-isolation"

    class IsolationUnavailable(SandboxError):  # type: ignore[no-redef]
        """Bubblewrap does not work on this host and the operator has not opted out."""

    @dataclass(frozen=True)
    class Isolation:  # type: ignore[no-redef]
        """How student code is isolated here: "bwrap", or "limits-only" (explicit opt-out)."""

        mode: str
        reason: str
        unsafe_opt_out: bool = False

        def warning(self) -> str | None:
            """A loud sentence for logs and banners when code runs without isolation."""
            if self.mode == "bwrap":
                return None
            return ("Student code runs WITHOUT isolation (STRIDE_SANDBOX=unsafe-no-isolation): "
                    "resource limits apply, but submissions can read the file system and use "
                    f"the network. {self.reason}")

    @lru_cache(maxsize=8)  # one probe per binary and process: apps are built often in tests
    def _bwrap_works(binary: str) -> str | None:
        """None when `binary` can start a namespaced `true`; else why it cannot."""
        try:
            done = subprocess.run([binary, "--ro-bind", "/", "/", "--unshare-all", "true"],
                                  capture_output=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{binary} could not run: {exc}"
        if done.returncode != 0:
            detail = done.stderr.decode("utf-8", "replace").strip()[:300]
            return f"{binary} failed: {detail or f'exit status {done.returncode}'}"
        return None

    def require_isolation() -> Isolation:  # type: ignore[no-redef]
        """The isolation to grade with; raises `IsolationUnavailable` unless bubblewrap works
        or the operator set ``STRIDE_SANDBOX=unsafe-no-isolation``."""
        name = os.environ.get("STRIDE_BWRAP", "bwrap")
        binary = shutil.which(name)
        problem = _bwrap_works(binary) if binary else f"bubblewrap ({name}) was not found"
        if problem is None:
            return Isolation("bwrap", f"bubblewrap at {binary}", False)
        if os.environ.get("STRIDE_SANDBOX", "").lower() == OPT_OUT:
            return Isolation("limits-only", f"The operator opted out ({problem}).", True)
        raise IsolationUnavailable(
            f"Refusing to grade code without isolation: {problem}. Install the Debian package "
            "`bubblewrap` (and allow unprivileged user namespaces), or set "
            f"STRIDE_SANDBOX={OPT_OUT} to run student code with resource limits only.")

__all__ = ["Isolation", "IsolationUnavailable", "require_isolation"]
