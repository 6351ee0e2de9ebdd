"""Crash tests: kill -9 the server mid-stream, and a grading worker mid-job.

Server: gunicorn (the repo's gunicorn.conf.py) on a free loopback port and a temporary database;
a client thread streams answer submissions; once some are acknowledged the whole server process
group gets SIGKILL. After a restart every acknowledged submission must be stored, the database
must pass its integrity check, and the server must take new answers. Runs on SQLite, and on
PostgreSQL when it is reachable.

Worker: a real `python -m web.worker` process whose grading blocks (its grade function waits on
a file the test never creates) is killed with its work-horse mid-job; reaping must then mark the
submission failed with a message, never leave it "grading".
"""

from __future__ import annotations

import http.client
import importlib.util
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select, text

from tests.conftest import REQUIRE_SERVICES
from web.db import make_engine

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow]


def _load_benchmark():
    spec = importlib.util.spec_from_file_location("stride_load", ROOT / "benchmarks" / "load.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["stride_load"] = module
    spec.loader.exec_module(module)
    return module


load = _load_benchmark()


def wait_until(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout} s waiting for {what}")
        time.sleep(0.02)


def postgres_url_or_skip() -> str:
    from sqlalchemy.exc import OperationalError

    try:
        name = f"stride_test_{secrets.token_hex(4)}"
        return load.create_pg_database(name)
    except OperationalError as exc:
        if REQUIRE_SERVICES:
            pytest.fail(f"PostgreSQL is required but unreachable: {exc}")
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 is unreachable: {exc}")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'stride.sqlite'}"
        return
    url = postgres_url_or_skip()
    yield url
    load.drop_pg_database(url.rsplit("/", 1)[1])


class Stream:
    """One student submitting answers in a loop; remembers every acknowledged answer."""

    def __init__(self, port: int, problems: list[str]) -> None:
        self.port, self.problems = port, problems
        self.acknowledged: list[tuple[str, str]] = []
        self.failures = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        client = load.Client(self.port)
        try:
            assert client.login("student0000") == 302
            n = 0
            while True:
                problem, raw = self.problems[n % len(self.problems)], str(-1000 - n)
                n += 1
                _status, acked = client.answer(problem, raw)
                if acked:
                    self.acknowledged.append((problem, raw))
        except (OSError, http.client.HTTPException):
            self.failures += 1  # the server died under us: expected, the stream ends here


def stored_answers(url: str) -> set[tuple[str, str]]:
    from web.models import Submission

    engine = make_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(select(Submission.problem_id, Submission.raw)).all()
    engine.dispose()
    return {tuple(row) for row in rows}


def integrity_ok(url: str) -> bool:
    engine = make_engine(url)
    with engine.connect() as connection:
        if url.startswith("sqlite"):
            ok = connection.execute(text("PRAGMA integrity_check")).scalar() == "ok"
            ok = ok and not connection.execute(text("PRAGMA foreign_key_check")).all()
        else:  # every submission points at a user and a variant that exist
            ok = connection.execute(text(
                "SELECT count(*) FROM submission s LEFT JOIN user_account u ON u.id = s.user_id "
                "LEFT JOIN variant_record v ON v.id = s.variant_id "
                "WHERE u.id IS NULL OR v.id IS NULL")).scalar() == 0
    engine.dispose()
    return ok


def test_kill_9_of_the_server_loses_no_acknowledged_submission(database_url, tmp_path):
    problems = load.prepare(tmp_path, database_url, students=2)
    spec = load.app_spec(database_url, tmp_path / "problems")
    port = load.free_port()
    server = load.start_gunicorn(spec, port, workers=2, log_path=tmp_path / "gunicorn.log")
    stream = Stream(port, problems)
    try:
        stream.thread.start()
        wait_until(lambda: len(stream.acknowledged) >= 8, 60, "eight acknowledged answers")
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
        stream.thread.join(timeout=60)
    finally:
        load.stop(server, signal.SIGKILL)
    assert not stream.thread.is_alive() and stream.failures == 1

    restarted = load.start_gunicorn(spec, port, workers=1, log_path=tmp_path / "gunicorn.log")
    try:
        client = load.Client(port)
        assert client.login("student0001") == 302
        assert client.answer(problems[0], "-5")[1]
    finally:
        load.stop(restarted)
    stored = stored_answers(database_url)
    assert set(stream.acknowledged) <= stored
    assert (problems[0], "-5") in stored
    assert integrity_ok(database_url)


# --- a grading worker killed mid-job ---------------------------------------------------------

BLOCKING_WORKER = """
import pathlib, sys, time
import grader.codegrade

def blocking_grade_source(source, **kwargs):
    gate = pathlib.Path(sys.argv[1])
    while not gate.exists():  # the test never creates it: this job only ends by a kill
        time.sleep(0.05)
    raise SystemExit("unreachable")

grader.codegrade.grade_source = blocking_grade_source
from web.worker import main
sys.exit(main(["--queue", sys.argv[2]]))
"""


def test_a_worker_killed_mid_job_leaves_a_failed_submission_with_a_message(web_config, tmp_path):
    from tests.test_queue import REDIS_URL, delete_queue_keys, login, redis_or_skip, row_of
    from web.jobs import get_pool
    from web.queue import JOB_TIMEOUT_S, LOST_MESSAGE

    connection = redis_or_skip()
    queue_name = f"stride-test-{secrets.token_hex(6)}"
    from server import create_app

    app = create_app({**web_config, "REDIS_URL": REDIS_URL, "GRADING_QUEUE": queue_name})
    env = {**os.environ, "DATABASE_URL": web_config["DATABASE_URL"], "REDIS_URL": REDIS_URL}
    worker = subprocess.Popen(
        [sys.executable, "-c", BLOCKING_WORKER, str(tmp_path / "never"), queue_name], cwd=ROOT,
        env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = app.test_client()
        login(client)
        response = client.post("/code/convolution_basics", data={"source": "# blocks\n"})
        submission_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
        wait_until(lambda: row_of(app, submission_id).status == "grading", 60,
                   "the worker to start grading")
        queue = get_pool(app)
        assert queue.reap() == 0  # alive and heartbeating: left alone
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and its work-horse
        worker.wait(timeout=30)
        assert row_of(app, submission_id).status == "grading"
        # Once the job's heartbeat has expired (at most JOB_TIMEOUT_S), RQ calls it abandoned.
        assert queue.reap(now=time.time() + JOB_TIMEOUT_S + 120) == 1
        row = row_of(app, submission_id)
        assert (row.status, row.error) == ("failed", LOST_MESSAGE)
        status = client.get(f"/code/submissions/{submission_id}/status").get_json()
        assert status["done"] and status["status"] == "failed"
        page = client.get(f"/code/submissions/{submission_id}").get_data(as_text=True)
        assert "The grading worker stopped" in page
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)
        get_pool(app).shutdown()
        app.extensions["stride_engine"].dispose()
        delete_queue_keys(connection, queue_name)
        connection.close()
