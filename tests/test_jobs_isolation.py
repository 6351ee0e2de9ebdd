"""Fail closed: without working isolation neither the app (grading in-process) nor a grading
worker starts, unless the operator opts out explicitly, and then it is recorded and loud.

`STRIDE_BWRAP=/nonexistent` simulates a host without bubblewrap.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from grader.sandbox import Isolation, IsolationUnavailable, require_isolation

ROOT = Path(__file__).resolve().parents[1]
OPT_OUT = "unsafe-no-isolation"


@pytest.fixture
def no_bwrap(monkeypatch):
    monkeypatch.setenv("STRIDE_BWRAP", "/nonexistent")
    monkeypatch.delenv("STRIDE_SANDBOX", raising=False)


def test_without_bubblewrap_the_app_refuses_to_start(no_bwrap, web_config):
    from server import create_app

    with pytest.raises(IsolationUnavailable, match="Grading other people.s code needs bubblewrap"):
        create_app(web_config)


def test_with_the_explicit_opt_out_the_app_starts_and_records_it(no_bwrap, monkeypatch,
                                                                make_app):
    monkeypatch.setenv("STRIDE_SANDBOX", OPT_OUT)
    isolation = make_app().extensions["stride_isolation"]
    assert isinstance(isolation, Isolation)
    assert (isolation.mode, isolation.unsafe_opt_out) == ("limits-only", True)
    assert "without isolation (STRIDE_SANDBOX=unsafe-no-isolation)" in isolation.warning()


def test_with_bubblewrap_the_app_records_it(make_app):
    isolation = make_app().extensions["stride_isolation"]
    assert (isolation.mode, isolation.unsafe_opt_out, isolation.warning()) == (
        "bwrap", False, None)


def test_an_app_that_only_enqueues_does_not_check_and_records_none(no_bwrap, make_app):
    app = make_app(REDIS_URL="redis://127.0.0.1:1/0")  # RQ workers elsewhere check for themselves
    assert app.extensions["stride_isolation"] is None


def test_require_isolation_names_the_fix(no_bwrap):
    with pytest.raises(IsolationUnavailable, match=f"STRIDE_SANDBOX={OPT_OUT}"):
        require_isolation()


def _worker(web_config, queue_name: str, **env):
    full = {key: value for key, value in os.environ.items() if key != "STRIDE_SANDBOX"}
    full.update(DATABASE_URL=web_config["DATABASE_URL"],
                REDIS_URL=os.environ.get("STRIDE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
                **env)
    return subprocess.run([sys.executable, "-m", "web.code.worker", "--burst", "--queue", queue_name],
                          cwd=ROOT, env=full, capture_output=True, text=True, timeout=120)


def test_without_bubblewrap_the_worker_exits_non_zero_with_the_reason(web_config):
    done = _worker(web_config, "stride-test-never-used", STRIDE_BWRAP="/nonexistent")
    assert done.returncode == 3
    assert "error: Grading other people's code needs bubblewrap" in done.stderr
    assert "Grading worker" not in done.stdout  # it never started listening


@pytest.mark.services
def test_with_the_opt_out_the_worker_starts_and_warns(web_config):
    from tests.test_queue import delete_queue_keys, redis_or_skip

    connection = redis_or_skip()
    queue_name = f"stride-test-{secrets.token_hex(6)}"
    try:
        done = _worker(web_config, queue_name, STRIDE_BWRAP="/nonexistent",
                       STRIDE_SANDBOX=OPT_OUT)
    finally:
        delete_queue_keys(connection, queue_name)
        connection.close()
    assert done.returncode == 0, done.stderr[-2000:]
    assert "WARNING: Code runs without isolation" in done.stderr
    assert "(limits-only)" in done.stdout
