"""The Redis queue's trust boundary: JSON-only jobs (a forged pickle never runs), REDIS_URL with
credentials, one job in flight per student and exercise, stalled RQ jobs requeued.

Needs Redis at 127.0.0.1:6379 (see tests/test_queue.py); skips or fails like it.
"""

from __future__ import annotations

import os
import pickle
import secrets
import subprocess
import sys
import zlib
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote, urlsplit

import pytest

from tests.test_queue import (
    EXERCISE,
    REDIS_URL,
    login,
    redis_or_skip,
    row_of,
    run_worker_burst,
    submit,
)
from web.code.backend import get_pool
from web.code.rq import RedisQueue, connect, job_id, redacted
from web.code.task import STALLED_MESSAGE, WAITING_MESSAGE
from web.db import session_factory
from web.models import CodeSubmission, utcnow

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.services


@pytest.fixture
def redis_app(make_app, queue_name):
    return make_app(REDIS_URL=REDIS_URL, GRADING_QUEUE=queue_name)


def worker_command(app, queue_name: str, redis_url: str = REDIS_URL, **env):
    """`python -m web.code.worker --burst` on the test queue; the finished process."""
    full = {**os.environ, "DATABASE_URL": app.config["DATABASE_URL"], "REDIS_URL": redis_url,
            **env}
    return subprocess.run([sys.executable, "-m", "web.code.worker", "--burst", "--queue", queue_name],
                          cwd=ROOT, env=full, capture_output=True, text=True, timeout=180)


class Canary:
    """Unpickling this creates a file: the proof that a pickle was loaded."""

    def __init__(self, path: Path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


# --- 2. JSON only, never pickle ----------------------------------------------------------------

def test_a_forged_pickled_job_is_failed_without_being_unpickled(redis_app, queue_name, tmp_path):
    client = redis_app.test_client()
    login(client)
    submission_id = submit(client, "# forged\n")
    queue = get_pool(redis_app)
    forged = zlib.compress(pickle.dumps(Canary(tmp_path / "canary")))
    queue.connection.hset(f"rq:job:{job_id(queue.name, submission_id)}", "data", forged)

    done = worker_command(redis_app, queue_name)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not (tmp_path / "canary").exists(), "the worker unpickled a job"
    job = queue.queue.fetch_job(job_id(queue.name, submission_id))
    assert job.get_status(refresh=True) == "failed"
    assert row_of(redis_app, submission_id).status == "queued"  # never started, never graded

    pickle.loads(zlib.decompress(forged))  # the control: a pickle-reading worker would have run it
    assert (tmp_path / "canary").exists()


@pytest.mark.parametrize(("func", "args", "kwargs"), [
    ("os.system", None, {}),  # JSON, no pickle, but naming any importable function
    ("web.code.rq.grade_job", ["1"], {}),
    ("web.code.rq.grade_job", [1], {"extra": True}),
    ("web.code.rq.grade_job", [1, 2], {}),
])
def test_a_forged_json_job_runs_nothing_but_grade_job_of_one_id(redis_app, queue_name, tmp_path,
                                                                func, args, kwargs):
    marker = tmp_path / "marker"
    queue = get_pool(redis_app)
    job = queue.queue.enqueue_call(func, args=args or (f"touch {marker}",), kwargs=kwargs,
                                   job_id=f"forged-{queue_name}")
    done = worker_command(redis_app, queue_name)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not marker.exists(), "the worker ran a forged job"
    assert job.get_status(refresh=True) == "failed"
    assert "refused" in (job.latest_result().exc_string or "")


def test_jobs_in_redis_are_json_carrying_only_the_submission_id(redis_app):
    import json

    client = redis_app.test_client()
    login(client)
    submission_id = submit(client, "# plain\n")
    queue = get_pool(redis_app)
    data = queue.connection.hget(f"rq:job:{job_id(queue.name, submission_id)}", "data")
    assert json.loads(zlib.decompress(data)) == ["web.code.rq.grade_job", None, [submission_id], {}]


# --- 2. REDIS_URL with credentials -------------------------------------------------------------

def test_a_redis_url_with_a_password_is_parsed_and_never_printed():
    url = f"redis://:{quote('s3cr:t/@pw', safe='')}@redis.internal:6380/2"
    kwargs = connect(url).connection_pool.connection_kwargs
    assert (kwargs["password"], kwargs["host"], kwargs["port"], kwargs["db"]) == (
        "s3cr:t/@pw", "redis.internal", 6380, 2)
    assert redacted(url) == "redis://:***@redis.internal:6380/2"
    assert redacted("redis://127.0.0.1:6379/0") == "redis://127.0.0.1:6379/0"


@pytest.fixture
def redis_user(queue_name):
    """A Redis ACL user with a password (removed afterwards): (username, password)."""
    connection = redis_or_skip()
    name, password = f"stride-test-{secrets.token_hex(4)}", f"pw/{secrets.token_hex(8)}:@"
    connection.execute_command("ACL", "SETUSER", name, "on", f">{password}", "~*", "&*",
                               "+@all")
    yield name, password
    connection.execute_command("ACL", "DELUSER", name)
    connection.close()


def test_the_app_and_the_worker_use_a_redis_url_with_credentials(
        make_app, queue_name, redis_user):
    name, password = redis_user
    where = urlsplit(REDIS_URL)
    url = f"redis://{name}:{quote(password, safe='')}@{where.hostname}:{where.port or 6379}/0"
    app = make_app(REDIS_URL=url, GRADING_QUEUE=queue_name)
    assert get_pool(app).connection.acl_whoami() == name
    client = app.test_client()
    login(client)
    submission_id = submit(client, (ROOT / "tests/submissions/correct_basics.py").read_text())
    done = worker_command(app, queue_name, url)
    assert done.returncode == 0, done.stderr[-2000:]
    assert password not in done.stdout + done.stderr and ":***@" in done.stdout
    assert row_of(app, submission_id).status == "done"


# --- 3. one job in flight per student and exercise, through RQ -------------------------------

def test_a_second_submission_is_not_enqueued_until_the_first_is_graded(redis_app, monkeypatch):
    client = redis_app.test_client()
    login(client)
    first, second = submit(client, "# first\n"), submit(client, "# second\n")
    queue = get_pool(redis_app)
    assert queue.queue.job_ids == [job_id(queue.name, first)]
    assert row_of(redis_app, second).heartbeat_at is None
    assert WAITING_MESSAGE in client.get(f"/code/submissions/{second}").get_data(as_text=True)
    assert queue.reap(now=utcnow() + timedelta(hours=1)) == 0  # waiting is not lost
    assert queue.queue.job_ids == [job_id(queue.name, first)]

    run_worker_burst(redis_app, monkeypatch)  # grades the first, which enqueues the second
    rows = row_of(redis_app, first), row_of(redis_app, second)
    assert [r.status for r in rows] == ["done", "done"]
    assert rows[1].started_at >= rows[0].finished_at


# --- 5. stalled RQ jobs ------------------------------------------------------------------------

def _stall(app, tries: int) -> int:
    """A row some dead worker was grading: status grading, heartbeat five minutes old."""
    from sqlalchemy import select

    from web.models import User

    with session_factory(app)() as session:
        alice = session.scalar(select(User.id).where(User.username == "alice"))
        row = CodeSubmission(user_id=alice, exercise=EXERCISE, source="x = 1\n",
                             status="grading", tries=tries,
                             heartbeat_at=utcnow() - timedelta(minutes=5))
        session.add(row)
        session.commit()
        return row.id


def test_a_stalled_rq_job_is_requeued_and_graded_then_given_up_after_two_tries(
        redis_app, monkeypatch):
    queue = get_pool(redis_app)
    assert isinstance(queue, RedisQueue)
    retry = _stall(redis_app, tries=1)
    assert queue.reap() == 1
    assert queue.queue.job_ids == [job_id(queue.name, retry)]
    run_worker_burst(redis_app, monkeypatch)
    row = row_of(redis_app, retry)
    assert (row.status, row.tries) == ("done", 2)

    given_up = _stall(redis_app, tries=2)
    client = redis_app.test_client()
    login(client)
    status = client.get(f"/code/submissions/{given_up}/status").get_json()  # the poll reaps
    assert (status["status"], status["done"]) == ("failed", True)
    assert row_of(redis_app, given_up).error == STALLED_MESSAGE
