"""The Redis grading queue (RQ): same results as the in-process pool, queue place, lost jobs.

Needs Redis at 127.0.0.1:6379 (REDIS_URL overrides); skips with the reason when unreachable,
fails under STRIDE_REQUIRE_SERVICES=1. Each test uses its own queue name and deletes its keys.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import REQUIRE_SERVICES
from web.code.backend import get_pool
from web.code.pool import GradingPool
from web.code.rq import LOST_MESSAGE, RedisQueue, job_id
from web.code.task import database_place
from web.db import session_factory
from web.models import CodeSubmission

ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("STRIDE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
EXERCISE = "convolution_basics"
pytestmark = pytest.mark.services


def redis_or_skip():
    from redis import Redis
    from redis.exceptions import RedisError

    connection = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        connection.ping()
    except RedisError as exc:
        if REQUIRE_SERVICES:
            pytest.fail(f"Redis at {REDIS_URL} is required but unreachable: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} is unreachable: {exc}")
    return connection


def delete_queue_keys(connection, queue_name: str) -> None:
    keys = list(connection.scan_iter(match=f"*{queue_name}*", count=1000))
    if keys:
        connection.delete(*keys)
    workers = [w for w in connection.smembers("rq:workers") if queue_name.encode() in w]
    if workers:
        connection.srem("rq:workers", *workers)


@pytest.fixture
def redis_app(web_config, queue_name):
    from server import create_app

    app = create_app({**web_config, "REDIS_URL": REDIS_URL, "GRADING_QUEUE": queue_name})
    yield app
    get_pool(app).shutdown()
    app.extensions["stride_engine"].dispose()


def login(client, username="alice"):
    from tests.conftest import WEB_PASSWORD

    response = client.post("/auth/login", data={"username": username, "password": WEB_PASSWORD})
    assert response.status_code == 302


def submit(client, source: str, exercise: str = EXERCISE) -> int:
    """POST the code form with a fresh idempotency token; the new submission's id."""
    response = client.post(f"/code/{exercise}",
                           data={"source": source, "request_token": secrets.token_urlsafe(32)})
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rstrip("/").split("/")[-1])


def row_of(app, submission_id: int) -> CodeSubmission:
    with session_factory(app)() as session:
        return session.get(CodeSubmission, submission_id)


def run_worker_burst(app, monkeypatch) -> None:
    """A real RQ worker, in this process, draining the test queue once."""
    from rq import SimpleWorker
    from rq.serializers import JSONSerializer

    monkeypatch.setenv("DATABASE_URL", app.config["DATABASE_URL"])
    queue = get_pool(app)
    SimpleWorker([queue.queue], connection=queue.connection,
                 serializer=JSONSerializer).work(burst=True)


def test_redis_url_selects_the_queue_and_its_absence_the_pool(app, redis_app):
    assert isinstance(get_pool(app), GradingPool)
    assert isinstance(get_pool(redis_app), RedisQueue)


def test_one_submission_grades_the_same_through_the_pool_and_the_queue(
        app, redis_app, monkeypatch):
    source = (ROOT / "tests/submissions/correct_basics.py").read_text()
    pool_client = app.test_client()
    login(pool_client)
    pooled = submit(pool_client, source)
    get_pool(app).wait_all(timeout=120)

    queue_client = redis_app.test_client()
    login(queue_client)
    queued = submit(queue_client, source)
    assert row_of(redis_app, queued).status == "queued"
    run_worker_burst(redis_app, monkeypatch)

    first, second = row_of(app, pooled), row_of(redis_app, queued)
    assert (first.status, second.status) == ("done", "done")
    assert json.loads(first.report_json) == json.loads(second.report_json)
    assert (first.score, first.max_score) == (second.score, second.max_score)
    assert first.score == first.max_score > 0


def test_queue_depth_and_place_are_on_the_page_and_in_the_status(redis_app, monkeypatch):
    """Three jobs in flight at once: two students, and one of them on two exercises (one
    student's submissions to one exercise go one at a time, see test_jobs_one_in_flight)."""
    alice, bob = redis_app.test_client(), redis_app.test_client()
    login(alice)
    login(bob, "bob")
    ids = [submit(alice, "# attempt 0\n"), submit(bob, "# attempt 1\n"),
           submit(alice, "# attempt 2\n", exercise="conv_step_by_step")]
    client = alice
    status = client.get(f"/code/submissions/{ids[2]}/status").get_json()
    assert (status["queue_depth"], status["queue_position"], status["done"]) == (3, 3, False)
    page = bob.get(f"/code/submissions/{ids[1]}").get_data(as_text=True)
    assert "number\n  <strong>2</strong> in line" in page and "3 submissions" in page

    run_worker_burst(redis_app, monkeypatch)
    status = client.get(f"/code/submissions/{ids[2]}/status").get_json()
    assert status["done"] and status["queue_depth"] == 0 and status["queue_position"] is None
    assert {row_of(redis_app, i).status for i in ids} == {"done"}


def test_in_process_pool_place_counts_queued_rows_in_id_order(app):
    from web.models import User

    with session_factory(app)() as session:
        alice = session.scalar(select(User).where(User.username == "alice"))
        rows = [CodeSubmission(user_id=alice.id, exercise=EXERCISE, source="", status=s)
                for s in ("grading", "queued", "queued", "done")]
        session.add_all(rows)
        session.commit()
        places = [database_place(session, row.id) for row in rows]
    assert [p.position for p in places] == [None, 1, 2, None]
    assert {p.depth for p in places} == {3}


def test_a_row_whose_job_vanished_is_marked_failed_not_left_grading(redis_app):
    """Redis lost the job (flushed, evicted): past the grace period the row fails visibly."""
    import time

    client = redis_app.test_client()
    login(client)
    queue = get_pool(redis_app)
    submission_id = submit(client, "# lost\n")
    assert queue.reap() == 0  # queued and present: left alone
    queue.connection.delete(f"rq:job:{job_id(queue.name, submission_id)}")
    assert queue.reap() == 0  # just created: may still be on its way into Redis
    assert queue.reap(now=time.time() + 3600) == 1
    row = row_of(redis_app, submission_id)
    assert (row.status, row.error) == ("failed", LOST_MESSAGE)
    assert client.get(f"/code/submissions/{submission_id}/status").get_json()["done"]


def test_the_documented_worker_command_grades_a_queued_submission(redis_app, queue_name):
    """`python -m web.code.worker` needs only DATABASE_URL and REDIS_URL (here in burst mode)."""
    import subprocess
    import sys

    client = redis_app.test_client()
    login(client)
    submission_id = submit(client, (ROOT / "tests/submissions/correct_basics.py").read_text())
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env.update(DATABASE_URL=redis_app.config["DATABASE_URL"], REDIS_URL=REDIS_URL)
    done = subprocess.run([sys.executable, "-m", "web.code.worker", "--burst", "--queue", queue_name],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    row = row_of(redis_app, submission_id)
    assert row.status == "done" and row.score == row.max_score > 0


def test_the_worker_command_says_what_it_needs(tmp_path):
    import subprocess
    import sys

    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "REDIS_URL")}
    done = subprocess.run([sys.executable, "-m", "web.code.worker"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "set DATABASE_URL and REDIS_URL" in done.stderr


def test_reaping_never_overwrites_a_row_a_worker_just_finished(redis_app, monkeypatch):
    """The job reads "finished" only after the row is stored; a stale read must change nothing."""
    from web.code.rq import _mark_lost

    client = redis_app.test_client()
    login(client)
    submission_id = submit(client, "# finished\n")
    run_worker_burst(redis_app, monkeypatch)
    with session_factory(redis_app)() as session:
        assert _mark_lost(session, submission_id) == 0
        session.commit()
    row = row_of(redis_app, submission_id)
    assert row.status == "done" and row.error is None


def test_the_status_poll_itself_reports_a_lost_job_as_failed(redis_app, monkeypatch):
    from datetime import timedelta

    import web.code.rq

    client = redis_app.test_client()
    login(client)
    queue = get_pool(redis_app)
    submission_id = submit(client, "# lost while the student watches\n")
    queue.connection.delete(f"rq:job:{job_id(queue.name, submission_id)}")
    monkeypatch.setattr(web.code.rq, "MISSING_GRACE", timedelta(0))
    status = client.get(f"/code/submissions/{submission_id}/status").get_json()
    assert (status["status"], status["done"], status["queue_position"]) == ("failed", True, None)
    page = client.get(f"/code/submissions/{submission_id}").get_data(as_text=True)
    assert "The grading worker stopped" in page
