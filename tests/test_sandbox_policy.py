"""The isolation policy: grading other people's code fails closed without bubblewrap."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

import grader.sandbox.policy as policy
import grader.sandbox.runner as runner
from grader.errors import SandboxError
from grader.sandbox import (
    UNSAFE_OPT_OUT,
    Isolation,
    IsolationUnavailable,
    SandboxLimits,
    SandboxPool,
    TestCall,
    bwrap_binary,
    default_pool,
    local_isolation,
    probe_isolation,
    require_isolation,
    run_calls,
    sandbox_warning,
)

REQUIRE_SERVICES = os.environ.get("STRIDE_REQUIRE_SERVICES") == "1"
LIMITS = SandboxLimits(wall_s=1.0, cpu_s=2.0, memory_mb=256, import_wall_s=1.0)
needs_bwrap = pytest.mark.skipif(
    bwrap_binary() is None and not REQUIRE_SERVICES,
    reason="bubblewrap (bwrap) is not installed; `make test` installs it",
)


@pytest.fixture
def no_bwrap(monkeypatch):
    """A host without bubblewrap."""
    monkeypatch.setenv("STRIDE_BWRAP", "/nonexistent")
    monkeypatch.delenv("STRIDE_SANDBOX", raising=False)


@pytest.fixture
def fresh_defaults(monkeypatch):
    """No process-wide pools yet (each test makes, and stops, its own)."""
    pools: dict = {}
    monkeypatch.setattr(runner, "_DEFAULT_POOLS", pools)
    monkeypatch.setattr(runner, "_DEFAULT_PID", [os.getpid()])
    yield pools
    for pool in pools.values():
        pool.shutdown()


@pytest.fixture
def broken_bwrap(tmp_path, monkeypatch):
    """A bwrap that is installed but cannot start (as where user namespaces are disabled)."""
    script = tmp_path / "bwrap"
    script.write_text("#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\n"
                      "exit 1\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("STRIDE_BWRAP", str(script))
    monkeypatch.delenv("STRIDE_SANDBOX", raising=False)
    return script


def test_without_bubblewrap_grading_others_code_raises_with_how_to_install(no_bwrap):
    with pytest.raises(IsolationUnavailable, match=r"Debian package `bubblewrap` .*apt-get "
                       r"install bubblewrap.*user namespaces are enabled"):
        require_isolation()
    with pytest.raises(IsolationUnavailable, match="STRIDE_BWRAP=/nonexistent is not an "
                       "executable file"):
        require_isolation()


def test_a_bwrap_that_cannot_start_is_no_isolation_and_says_why(broken_bwrap):
    isolation = probe_isolation()
    assert isolation.mode == "limits-only"
    assert "setting up uid map: Permission denied" in isolation.reason
    with pytest.raises(IsolationUnavailable, match="uid map: Permission denied"):
        require_isolation()


def test_the_explicit_opt_out_gives_limits_only_and_is_logged_once(no_bwrap, monkeypatch,
                                                                   caplog):
    monkeypatch.setenv("STRIDE_SANDBOX", UNSAFE_OPT_OUT)
    monkeypatch.setattr(policy, "_OPT_OUT_LOGGED", set())
    with caplog.at_level("WARNING", logger="grader.sandbox.policy"):
        first, second = require_isolation(), require_isolation()
    assert first == second == Isolation("limits-only", f"STRIDE_SANDBOX={UNSAFE_OPT_OUT}", True)
    assert first.warning().startswith("Code runs without isolation (STRIDE_SANDBOX="
                                      "unsafe-no-isolation)")
    assert caplog.text.count("SANDBOX DISABLED") == 1


@pytest.mark.parametrize("value", ["none", "off", "rlimits", "NONE"])
def test_the_old_values_no_longer_disable_isolation(monkeypatch, value):
    monkeypatch.setenv("STRIDE_SANDBOX", value)
    with pytest.raises(IsolationUnavailable, match=f"STRIDE_SANDBOX={value.lower()} no longer "
                       "disables isolation: the setting was renamed to "
                       "STRIDE_SANDBOX=unsafe-no-isolation, because"):
        require_isolation()


def test_an_unknown_value_is_refused(monkeypatch):
    monkeypatch.setenv("STRIDE_SANDBOX", "maybe")
    with pytest.raises(IsolationUnavailable, match="STRIDE_SANDBOX='maybe' is not a known "
                       "setting"):
        require_isolation()


@pytest.mark.parametrize("value", [None, "auto", "none", UNSAFE_OPT_OUT, "maybe"])
def test_the_local_check_never_raises_and_says_it_is_not_isolated(no_bwrap, monkeypatch, value):
    if value is not None:
        monkeypatch.setenv("STRIDE_SANDBOX", value)
    isolation = local_isolation()
    assert isolation.mode == "limits-only"
    assert isolation.unsafe_opt_out is (value == UNSAFE_OPT_OUT)
    if value != UNSAFE_OPT_OUT:
        assert isolation.warning().startswith("Your code ran with resource limits only, "
                                              "because bubblewrap is not available here")


@needs_bwrap
def test_where_bubblewrap_works_it_is_required_and_used(monkeypatch):
    monkeypatch.delenv("STRIDE_SANDBOX", raising=False)
    assert require_isolation() == Isolation("bwrap")
    assert local_isolation() == Isolation("bwrap")
    assert Isolation("bwrap").warning() is None


def test_a_pool_for_others_code_refuses_to_exist_without_isolation(no_bwrap, fresh_defaults):
    with pytest.raises(IsolationUnavailable, match="needs bubblewrap"):
        SandboxPool(1)
    with pytest.raises(IsolationUnavailable, match="needs bubblewrap"):
        default_pool()
    with pytest.raises(IsolationUnavailable, match="needs bubblewrap"):
        run_calls("def f(x):\n    return x\n", [TestCall("t0", "f", (1.0,))], limits=LIMITS)
    assert fresh_defaults == {}
    assert "needs bubblewrap" in sandbox_warning()


def test_the_local_check_runs_with_limits_only_and_warns(no_bwrap, fresh_defaults):
    [out] = run_calls("import numpy as np\ndef f(x):\n    return np.asarray(x) + 1\n",
                      [TestCall("t0", "f", (np.ones(2),))], limits=LIMITS, own_code=True)
    assert out.arrays["r"].tolist() == [2.0, 2.0]
    assert default_pool(own_code=True).isolation.mode == "limits-only"
    assert sandbox_warning(own_code=True).startswith("Your code ran with resource limits only")


@needs_bwrap
def test_a_bwrap_pool_never_falls_back_when_a_worker_cannot_start(broken_bwrap):
    pool = SandboxPool(1, Isolation("bwrap"))
    try:
        with pytest.raises(SandboxError, match="did not start under bubblewrap: bwrap: setting "
                           "up uid map"):
            pool.acquire()
    finally:
        pool.shutdown()
    assert pool.isolation.mode == "bwrap"


def test_a_bwrap_pool_whose_binary_vanished_raises(no_bwrap):
    pool = SandboxPool(1, Isolation("bwrap"))
    with pytest.raises(SandboxError, match="did not start under bubblewrap: the bwrap binary "
                       "is gone"):
        pool.acquire()
    pool.shutdown()


def test_isolation_modes_are_checked():
    with pytest.raises(ValueError, match="Isolation.mode must be 'bwrap' or 'limits-only', got "
                       "'none'"):
        Isolation("none")
