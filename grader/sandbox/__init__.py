"""The sandbox: the only place student code runs (see :mod:`grader.sandbox.runner`).

Pieces: :mod:`~grader.sandbox.policy` (which isolation code runs under: grading other people's
code requires bubblewrap), :mod:`~grader.sandbox.limits` (what a child may use),
:mod:`~grader.sandbox.zygote` (the warm worker that forks one child per batch of tests;
standalone, it imports only the standard library and numpy), :mod:`~grader.sandbox.runner`
(the trusted parent: jobs, workers, pools) and :mod:`~grader.sandbox.outcome` (what came back
from one call, parsed once into typed values).

Deployment settings, all optional:

* ``STRIDE_SANDBOX``: unset or ``auto``: bubblewrap (Debian package ``bubblewrap``) is required
  to grade other people's code; ``unsafe-no-isolation``: resource limits only, logged loudly.
* ``STRIDE_BWRAP``: the bubblewrap binary (default: ``bwrap`` on the PATH).
* ``STRIDE_SANDBOX_WORKERS``: warm workers per process and purpose (default 2).
* ``STRIDE_SANDBOX_TMP``: where a limits-only worker's scratch directory goes (default
  ``/dev/shm``, else the temp dir). Under bubblewrap nothing is written on the host.

Started as root, each child drops to uid 65534 (``RLIMIT_NPROC`` never restricts uid 0);
started as another user, children run as that user, whose process limit then applies.
"""

from grader.sandbox.limits import DEFAULT_LIMITS, SandboxLimits
from grader.sandbox.outcome import ChildStatus, Frame, OutcomeKind, RawOutcome, ValueInfo
from grader.sandbox.policy import (
    UNSAFE_OPT_OUT,
    Isolation,
    IsolationUnavailable,
    bwrap_binary,
    local_isolation,
    probe_isolation,
    require_isolation,
)
from grader.sandbox.runner import (
    SandboxPool,
    TestCall,
    WirePlan,
    default_pool,
    run_calls,
    sandbox_warning,
    wire_plan,
)

__all__ = [
    "DEFAULT_LIMITS",
    "UNSAFE_OPT_OUT",
    "ChildStatus",
    "Frame",
    "Isolation",
    "IsolationUnavailable",
    "OutcomeKind",
    "RawOutcome",
    "SandboxLimits",
    "SandboxPool",
    "TestCall",
    "ValueInfo",
    "WirePlan",
    "bwrap_binary",
    "default_pool",
    "local_isolation",
    "probe_isolation",
    "require_isolation",
    "run_calls",
    "sandbox_warning",
    "wire_plan",
]
