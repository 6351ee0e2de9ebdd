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

from grader.lazy import lazy_exports

# Each name and the module it lives in: imported on first use (PEP 562), so the isolation
# policy and the limits load without the runner and NumPy (a stub's check runs nothing).
_HOMES = {
    "DEFAULT_LIMITS": "limits", "SandboxLimits": "limits",
    "ChildStatus": "outcome", "Frame": "outcome", "OutcomeKind": "outcome",
    "RawOutcome": "outcome", "ValueInfo": "outcome",
    "UNSAFE_OPT_OUT": "policy", "Isolation": "policy", "IsolationUnavailable": "policy",
    "bwrap_binary": "policy", "local_isolation": "policy", "probe_isolation": "policy",
    "require_isolation": "policy",
    "SandboxPool": "runner", "TestCall": "runner", "WirePlan": "runner",
    "default_pool": "runner", "run_calls": "runner", "sandbox_warning": "runner",
    "wire_plan": "runner",
}

__all__ = sorted(_HOMES)


__getattr__, __dir__ = lazy_exports(__name__, _HOMES)
