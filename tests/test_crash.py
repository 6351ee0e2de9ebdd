"""Crash tests: kill -9 the server mid-stream, and a grading worker mid-job.

Server: gunicorn (the repo's gunicorn.conf.py) on a free loopback port and a temporary database;
a client thread streams answer submissions; once some are acknowledged the whole server process
group gets SIGKILL. After a restart every acknowledged submission must be stored, the database
must pass its integrity check, and the server must take new answers. Runs on SQLite, and on
PostgreSQL when it is reachable.

Grading: a gunicorn worker killed mid-grading leaves its job requeued by the next worker's
monitor and graded, within 30 s and without a restart. A real `python -m web.code.worker` process
whose grading blocks (its grade function waits on a file the test never creates) is killed with
its work-horse mid-job: reaping requeues the submission, and after a second kill fails it with a
message; it is never left "grading".
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


# --- a gunicorn worker killed mid-grading (the in-process pool) ------------------------------

# The sandbox's import time limit ends this, so a second try grades it (as "timed out").
SLOW_SOURCE = "import time\n\ntime.sleep(120)\n"


def code_row(url: str, submission_id: int) -> tuple[str, int, str | None]:
    from web.models import CodeSubmission

    engine = make_engine(url)
    with engine.connect() as connection:
        row = connection.execute(select(CodeSubmission.status, CodeSubmission.tries,
                                        CodeSubmission.error)
                                 .where(CodeSubmission.id == submission_id)).one()
    engine.dispose()
    return tuple(row)


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def post_code(client, exercise: str, source: str) -> int:
    import re

    path = f"/code/{exercise}"
    _status, _headers, page = client.request("GET", path)
    form = {"csrf_token": load.CSRF.search(page).group(1), "source": source,
            "request_token": re.search(r'name="request_token" value="([^"]+)"', page).group(1)}
    status, headers, _ = client.request("POST", path, form)
    assert status == 302, status
    return int(headers["location"].rstrip("/").rsplit("/", 1)[1])


def test_a_gunicorn_worker_killed_mid_grading_leaves_its_job_requeued_and_graded(
        database_url, tmp_path):
    load.prepare(tmp_path, database_url, students=1)
    spec = load.app_spec(database_url, tmp_path / "problems", GRADING_HEARTBEAT_S=0.5,
                         GRADING_STALE_S=3)
    port = load.free_port()
    server = load.start_gunicorn(spec, port, workers=1, log_path=tmp_path / "gunicorn.log")
    try:
        client = load.Client(port)
        assert client.login("student0000") == 302
        submission_id = post_code(client, "convolution_basics", SLOW_SOURCE)
        wait_until(lambda: code_row(database_url, submission_id)[0] == "grading", 60,
                   "the pool to start grading")
        workers = children_of(server.pid)
        assert workers, "gunicorn has no worker process"
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        # No restart: the master replaces the worker, whose monitor finds the stale heartbeat.
        wait_until(lambda: code_row(database_url, submission_id)[0] in ("done", "failed"), 30,
                   "the killed worker's job to be requeued and graded")
        assert code_row(database_url, submission_id) == ("done", 2, None)
        assert server.poll() is None
    finally:
        load.stop(server, signal.SIGKILL)


# --- a grading worker killed mid-job ---------------------------------------------------------

BLOCKING_WORKER = """
import pathlib, sys, time
import grader.code

def blocking_grade_source(source, **kwargs):
    gate = pathlib.Path(sys.argv[1])
    while not gate.exists():  # the test never creates it: this job only ends by a kill
        time.sleep(0.05)
    raise SystemExit("unreachable")

grader.code.grade_source = blocking_grade_source
from web.code.worker import main
sys.exit(main(["--queue", sys.argv[2]]))
"""


def _blocking_worker(env: dict, gate: Path, queue_name: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", BLOCKING_WORKER, str(gate), queue_name], cwd=ROOT,
        env=env, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _kill(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGKILL)  # the worker and its work-horse
    worker.wait(timeout=30)


def test_a_worker_killed_mid_job_is_requeued_then_given_up_with_a_message(web_config, tmp_path):
    """Killed once: requeued (its heartbeat went stale) and picked up by the next worker. Killed
    on its second try too: failed with a message, never left "grading"."""
    from tests.test_queue import REDIS_URL, delete_queue_keys, login, redis_or_skip, row_of
    from web.code.backend import get_pool
    from web.code.task import STALLED_MESSAGE

    connection = redis_or_skip()
    queue_name = f"stride-test-{secrets.token_hex(6)}"
    from server import create_app

    app = create_app({**web_config, "REDIS_URL": REDIS_URL, "GRADING_QUEUE": queue_name})
    env = {**os.environ, "DATABASE_URL": web_config["DATABASE_URL"], "REDIS_URL": REDIS_URL}
    queue = get_pool(app)
    stale = queue.timing.stale_after_s + 1
    workers = []
    try:
        client = app.test_client()
        login(client)
        response = client.post("/code/convolution_basics",
                               data={"source": "# blocks\n", "request_token": secrets.token_hex(16)})
        submission_id = int(response.headers["Location"].rstrip("/").split("/")[-1])
        for tries in (1, 2):
            workers.append(_blocking_worker(env, tmp_path / "never", queue_name))
            wait_until(lambda: row_of(app, submission_id).status == "grading", 60,
                       f"a worker to start try {tries}")
            assert queue.reap() == 0  # alive and heartbeating: left alone
            _kill(workers[-1])
            assert row_of(app, submission_id).status == "grading"
            assert queue.reap(now=time.time() + stale) == 1
            row = row_of(app, submission_id)
            if tries == 1:
                assert (row.status, row.tries) == ("queued", 1)  # requeued, back in Redis
                assert queue.queue.job_ids == [f"{queue_name}-submission-{submission_id}"]
        assert (row.status, row.tries, row.error) == ("failed", 2, STALLED_MESSAGE)
        status = client.get(f"/code/submissions/{submission_id}/status").get_json()
        assert status["done"] and status["status"] == "failed"
        page = client.get(f"/code/submissions/{submission_id}").get_data(as_text=True)
        assert "interrupted twice" in page
    finally:
        for worker in workers:
            _kill(worker)
        get_pool(app).shutdown()
        app.extensions["stride_engine"].dispose()
        delete_queue_keys(connection, queue_name)
        connection.close()
