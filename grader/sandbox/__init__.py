"""The sandbox: the only place student code runs (see :mod:`grader.sandbox.runner`)."""

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
