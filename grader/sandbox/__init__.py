"""The sandbox: the only place student code runs (see :mod:`grader.sandbox.runner`).

Pieces: :mod:`~grader.sandbox.limits` (what a child may use), :mod:`~grader.sandbox.zygote`
(the warm worker that forks one child per submission; standalone, it imports only the standard
library and numpy) and :mod:`~grader.sandbox.runner` (the trusted parent: jobs, workers, pool).

Deployment settings, all optional:

* ``STRIDE_SANDBOX``: ``auto`` (default) uses bubblewrap (Debian package ``bubblewrap``) when
  ``bwrap`` is on the PATH; ``none`` runs with resource limits only and logs a warning.
* ``STRIDE_SANDBOX_WORKERS``: warm workers per process (default 2).
* ``STRIDE_SANDBOX_TMP``: where job directories go (default ``/dev/shm``, else the temp dir).

Started as root, each child drops to uid 65534 (``RLIMIT_NPROC`` never restricts uid 0);
started as another user, children run as that user, whose process limit then applies.
"""

from grader.sandbox.limits import DEFAULT_LIMITS, SandboxLimits
from grader.sandbox.runner import (
    RawOutcome,
    SandboxPool,
    TestCall,
    WirePlan,
    bwrap_path,
    default_pool,
    run_calls,
    sandbox_warning,
    wire_plan,
)

__all__ = [
    "DEFAULT_LIMITS",
    "RawOutcome",
    "SandboxLimits",
    "SandboxPool",
    "TestCall",
    "WirePlan",
    "bwrap_path",
    "default_pool",
    "run_calls",
    "sandbox_warning",
    "wire_plan",
]
