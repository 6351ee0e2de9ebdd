"""The isolation probe starts the real grading worker (the runner's own bubblewrap command line)
and has it run a trivial job: a bubblewrap that can run `true` but not the worker is no
isolation, and the server and the queue worker refuse to start on it."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import grader.sandbox.policy as policy
from grader.sandbox import IsolationUnavailable, bwrap_binary, probe_isolation, require_isolation
from grader.sandbox.command import bwrap_command

ROOT = Path(__file__).resolve().parents[1]
REQUIRE_SERVICES = os.environ.get("STRIDE_REQUIRE_SERVICES") == "1"
REAL_BWRAP = bwrap_binary() if not os.environ.get("STRIDE_BWRAP") else shutil.which("bwrap")
pytestmark = pytest.mark.skipif(REAL_BWRAP is None and not REQUIRE_SERVICES,
                                reason="bubblewrap (bwrap) is not installed")
MOUNT_ERROR = "bwrap: Failed to mount tmpfs: Operation not permitted"


def _wrapper(tmp_path: Path, body: str) -> Path:
    """A bwrap of our own: the real one for `... true` (what a probe of `true` would run), and
    `body` for anything else."""
    script = tmp_path / "bwrap"
    script.write_text(f'#!/bin/sh\nfor last; do :; done\nif [ "$last" = true ]; then exec '
                      f'{REAL_BWRAP} "$@"; fi\n{body}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


@pytest.fixture
def true_only_bwrap(tmp_path, monkeypatch):
    """Runs `true` but cannot start the worker (as uid 65534, or some bubblewrap setups)."""
    script = _wrapper(tmp_path, f"echo '{MOUNT_ERROR}' >&2\nexit 1")
    monkeypatch.setenv("STRIDE_BWRAP", str(script))
    monkeypatch.delenv("STRIDE_SANDBOX", raising=False)
    return script


def test_the_wrapper_really_runs_true_under_bubblewrap(true_only_bwrap):
    done = subprocess.run([str(true_only_bwrap), "--ro-bind", "/", "/", "true"],
                          capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr


def test_a_bwrap_that_runs_true_but_not_the_worker_is_no_isolation(true_only_bwrap):
    isolation = probe_isolation()
    assert isolation.mode == "limits-only"
    assert isolation.reason == f"the sandbox worker did not start under bubblewrap: {MOUNT_ERROR}"
    assert "\n" not in isolation.reason
    with pytest.raises(IsolationUnavailable, match="Failed to mount tmpfs: Operation not"):
        require_isolation()


def test_the_server_refuses_to_start_on_it(true_only_bwrap, web_config):
    from server import create_app

    with pytest.raises(IsolationUnavailable, match=r"needs bubblewrap, which cannot run here \(the "
                       "sandbox worker did not start under bubblewrap: bwrap: Failed to mount"):
        create_app(web_config)


def test_the_queue_worker_refuses_to_start_on_it(true_only_bwrap, web_config):
    env = {key: value for key, value in os.environ.items() if key != "STRIDE_SANDBOX"}
    env.update(DATABASE_URL=web_config["DATABASE_URL"], REDIS_URL="redis://127.0.0.1:1/0",
               STRIDE_BWRAP=str(true_only_bwrap))
    done = subprocess.run([sys.executable, "-m", "web.code.worker", "--burst"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stderr[-2000:]
    assert MOUNT_ERROR in done.stderr
    assert "Grading worker" not in done.stdout


def test_a_worker_that_starts_but_never_answers_fails_the_probe_within_its_timeout(
        tmp_path, monkeypatch):
    # The real bubblewrap and binds, but a worker that never says it is ready.
    script = _wrapper(tmp_path, 'exec sleep 60')
    monkeypatch.setenv("STRIDE_BWRAP", str(script))
    monkeypatch.setattr(policy, "PROBE_TIMEOUT_S", 1.0)
    isolation = probe_isolation()
    assert isolation.mode == "limits-only"
    assert isolation.reason == "the sandbox worker did not answer within 1 s under bubblewrap"


def test_a_worker_whose_children_cannot_run_fails_the_probe(tmp_path, monkeypatch):
    # The real worker under the real bubblewrap, but its children cannot run: here the uid
    # they must drop to cannot be taken.
    monkeypatch.setattr(policy, "_probe_job", _job_with(uid=-5))
    isolation = policy._run_probe(REAL_BWRAP)
    assert isolation.mode == "limits-only"
    assert isolation.reason == ("the sandbox worker did not work under bubblewrap: it did not "
                                "answer a trivial job (OverflowError: uid is less than minimum)")


def test_a_trivial_job_that_fails_in_its_child_fails_the_probe(monkeypatch):
    monkeypatch.setattr(policy, "PROBE_SOURCE", "import no_such_module_here\n")
    isolation = policy._run_probe(REAL_BWRAP)
    assert isolation.reason == ("the sandbox worker did not work under bubblewrap: a trivial job "
                                "failed inside it (ModuleNotFoundError)")


def test_the_real_bubblewrap_passes_the_probe_with_the_runners_command():
    assert policy._run_probe(REAL_BWRAP).mode == "bwrap"
    command = bwrap_command(REAL_BWRAP)
    assert "/sandbox/zygote.py" in command and "--tmpfs" in command


def _job_with(**fields):
    original = policy._probe_job

    def job() -> bytes:
        import json

        data = json.loads(original())
        data.update(fields)
        return (json.dumps(data) + "\n").encode()

    return job


def test_the_probe_runs_once_per_binary_and_a_forked_process_keeps_its_answer(tmp_path,
                                                                           monkeypatch):
    runs = tmp_path / "runs.txt"
    script = _wrapper(tmp_path, f'echo run >> {runs}\nexec {REAL_BWRAP} "$@"')
    monkeypatch.setenv("STRIDE_BWRAP", str(script))
    monkeypatch.delenv("STRIDE_SANDBOX", raising=False)
    assert probe_isolation().mode == "bwrap"
    assert require_isolation().mode == "bwrap"
    pid = os.fork()
    if pid == 0:  # an RQ work-horse, say
        os._exit(0 if probe_isolation().mode == "bwrap" else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert runs.read_text().splitlines() == ["run"]
