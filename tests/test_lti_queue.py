"""LMS scores through the grading queue (REDIS_URL): one RQ job per outbox row
(`web.code.rq.score_job`), retried with backoff while the LMS is down, nothing lost; forged score
jobs run nothing. Needs the Redis of tests/services.py (see tests/test_queue.py)."""

from __future__ import annotations

import json
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from conftest import _answer_text
from lti_lms import Lms
from rq import SimpleWorker
from rq.job import Job
from rq.serializers import JSONSerializer
from sqlalchemy import select, update
from test_lti import _answer, _course_id, _set_points, _sign_in
from test_lti_e2e import launch

from tests.test_jobs_queue import worker_command
from tests.test_queue import REDIS_URL
from web.code.backend import get_pool
from web.code.rq import SCORE_JOB_FUNCTION, enqueue_score, score_job_id
from web.code.worker import refusal
from web.db import session_factory
from web.lti.views import dispatch_round
from web.models import LtiScoreOutbox, utcnow

pytestmark = pytest.mark.services


@pytest.fixture
def redis_app(make_app, queue_name, monkeypatch):
    app = make_app(REDIS_URL=REDIS_URL, GRADING_QUEUE=queue_name, PREFERRED_URL_SCHEME="https")
    monkeypatch.setenv("DATABASE_URL", app.config["DATABASE_URL"])  # what a worker reads
    monkeypatch.setenv("STRIDE_PROBLEMS_DIR", app.config["PROBLEMS_DIR"])
    return app


@pytest.fixture
def lms(redis_app):
    server = Lms(users={"u1": ("Uma One", "student"), "u2": ("Ugo Two", "student")})
    server.add_link("link-1", "set:open-set")
    server.start()
    staff = redis_app.test_client()
    _sign_in(staff)
    assert staff.post("/lti/registrations", data=server.registration_form(
        _course_id(redis_app))).status_code == 302
    server.tool_jwks = staff.get("/lti/jwks.json").get_json()
    yield server
    server.stop()


def _work(app, with_scheduler=False) -> None:
    """A real RQ worker in this process, once through the queue (and its due retries)."""
    queue = get_pool(app).queue
    SimpleWorker([queue], connection=queue.connection, serializer=JSONSerializer).work(
        burst=True, with_scheduler=with_scheduler)


def _rows(app) -> list[LtiScoreOutbox]:
    with session_factory(app)() as session:
        return session.scalars(select(LtiScoreOutbox).order_by(LtiScoreOutbox.id)).all()


def test_scores_go_as_queue_jobs_retried_while_the_lms_is_down_and_none_is_lost(
        redis_app, lms):
    browsers = {sub: redis_app.test_client() for sub in ("u1", "u2")}
    for sub, browser in browsers.items():
        launch(browser, lms, sub)
    lms.stop()
    for browser in browsers.values():
        _answer(redis_app, browser, _answer_text)
    queue = get_pool(redis_app).queue
    assert dispatch_round(redis_app).sent == 2  # one job per outbox row
    data = queue.connection.hget(f"rq:job:{score_job_id(queue.name, _rows(redis_app)[0].id)}",
                                 "data")
    assert json.loads(zlib.decompress(data))[0] == SCORE_JOB_FUNCTION
    assert dispatch_round(redis_app).sent == 0  # never twice while a job waits
    _work(redis_app)  # the LMS is down: both jobs fail and are scheduled again
    rows = _rows(redis_app)
    assert [r.tries for r in rows] == [1, 1] and all(r.sent_at is None for r in rows)
    assert all(r.last_error for r in rows)
    jobs = [Job.fetch(score_job_id(queue.name, r.id), connection=queue.connection,
                      serializer=JSONSerializer) for r in rows]
    assert [j.get_status() for j in jobs] == ["scheduled", "scheduled"]
    assert all(j.retries_left == 7 for j in jobs)
    assert dispatch_round(redis_app).sent == 0  # the retries are on their way
    lms.start()  # back on the same port; let the backoff pass
    with session_factory(redis_app)() as session:
        session.execute(update(LtiScoreOutbox).values(next_try_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    for job in jobs:
        queue.scheduled_job_registry.schedule(job, datetime.now(UTC) - timedelta(seconds=1))
    _work(redis_app, with_scheduler=True)
    assert all(r.sent_at is not None and r.last_error is None for r in _rows(redis_app))
    earned, total = _set_points(redis_app)
    assert sorted((s["userId"], s["scoreGiven"]) for s in lms.scores) == [
        ("u1", earned), ("u2", earned)]
    assert [j.get_status(refresh=True) for j in jobs] == ["finished", "finished"]


@pytest.mark.parametrize("args, kwargs", [(["1"], {}), ([1], {"extra": True}), ([1, 2], {})])
def test_a_forged_score_job_is_refused(redis_app, args, kwargs):
    queue = get_pool(redis_app).queue
    job = queue.enqueue_call(SCORE_JOB_FUNCTION, args=args, kwargs=kwargs, job_id="forged-score")
    assert refusal(Job.fetch(job.id, connection=queue.connection, serializer=JSONSerializer))


def test_the_worker_runs_a_genuine_score_job_and_refuses_a_forged_one(redis_app, tmp_path):
    queue = get_pool(redis_app).queue
    genuine = enqueue_score(queue, 12345)  # no such row: the job has nothing to send
    assert refusal(genuine) is None
    forged = queue.enqueue_call(SCORE_JOB_FUNCTION, args=[str(tmp_path)], job_id="forged-score")
    done = worker_command(redis_app, queue.name, STRIDE_PROBLEMS_DIR=redis_app.config[
        "PROBLEMS_DIR"])
    assert done.returncode == 0, done.stderr[-2000:]
    assert genuine.get_status(refresh=True) == "finished"
    assert genuine.latest_result().return_value == "skipped"
    assert forged.get_status(refresh=True) == "failed"
    assert "refused" in (forged.latest_result().exc_string or "")


def test_a_score_job_reads_the_published_bank_not_unpublished_edits(make_app, tmp_path,
                                                                    monkeypatch):
    """Set points for the LMS come from the version the web app serves: a later edit of the
    folder that nobody published does not count, and a publish is followed."""
    import shutil

    from web import bank as web_bank
    from web.code.rq import worker_bank

    folder = tmp_path / "problems"
    shutil.copytree(Path(make_app().config["PROBLEMS_DIR"]), folder)
    app = make_app(PROBLEMS_DIR=str(folder))
    monkeypatch.setenv("DATABASE_URL", app.config["DATABASE_URL"])
    monkeypatch.setenv("STRIDE_PROBLEMS_DIR", str(folder))
    with app.app_context():
        web_bank.reload_bank()  # published: the folder as it is
    set_file = sorted((folder / "sets").glob("*.yaml"))[0]
    data = yaml.safe_load(set_file.read_text())
    points = worker_bank().sets[data["id"]].items[0].points
    data["problems"][0]["points"] = points + 5
    set_file.write_text(yaml.safe_dump(data, sort_keys=False))
    set_id = data["id"]
    assert worker_bank().sets[set_id].items[0].points == points  # an unpublished edit
    with app.app_context():
        web_bank.reload_bank()
    assert worker_bank().sets[set_id].items[0].points == points + 5
