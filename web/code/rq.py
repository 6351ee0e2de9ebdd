"""The Redis grading backend (RQ), for deployments with many hosts: the one home of the RQ job
`grade_job`, `RedisQueue` and the worker's database sessions.

With `REDIS_URL` configured, the web app enqueues one RQ job per code submission and separate
worker processes, started with `python -m web.code.worker`, grade it: they need the `grader`
package, `DATABASE_URL` and `REDIS_URL`, nothing from the web process. Without `REDIS_URL` the
in-process `web.code.pool.GradingPool` is used. Both run the same
`web.code.task.grade_submission`, so results are the same either way, and both keep one job in
flight per student and exercise.

Jobs are JSON (RQ's `JSONSerializer`, on the queue and in the worker) and carry only the
submission id: a forged job pushed into Redis is never unpickled, so it cannot run code. Jobs
name `web.code.rq.grade_job`. (Jobs queued by versions before the JSON serializer were pickles
naming `web.queue.grade_job`; a JSON worker cannot read them, so no alias of that path is kept:
the reaper hands their rows, queued and without a heartbeat, to the queue again as new jobs.)

A job lost with its worker (kill -9, out of memory, a host going away) is never left "grading":
its heartbeat goes stale and `RedisQueue.reap()` requeues it (or, after two tries, fails it with
a message). A job that vanished from Redis fails with `LOST_MESSAGE`. Workers reap at startup and
after every job; the status endpoint reaps around the row it is asked about.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, get_current_job
from rq.job import Job
from rq.serializers import JSONSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from web.code.task import (
    QueuePlace,
    as_datetime,
    grade_submission,
    reap_stalled,
    release_groups,
    scope_of,
    waiting_groups,
)
from web.db import make_engine, normalize_url
from web.models import CodeStatus, CodeSubmission, utcnow
from web.settings import DEFAULT_QUEUE, JobTiming, Settings

log = logging.getLogger(__name__)

JOB_TIMEOUT_S = 600  # one submission: import plus every test, each bounded by the sandbox
LOST_MESSAGE = ("The grading worker stopped while grading this submission (a problem on our side, "
                "not in your code). Please submit it again; if it keeps happening, tell your "
                "instructor.")
# A row whose job cannot be found is only declared lost after this long (it may be enqueued now).
MISSING_GRACE = timedelta(minutes=2)
FINISHED = ("finished",)
DEAD = ("failed", "stopped", "canceled")


JOB_FUNCTION = "web.code.rq.grade_job"  # the dotted path stored in each job
SCORE_JOB_FUNCTION = "web.code.rq.score_job"  # the only other job: one LMS score to send
# RQ retries of a score job, spaced as the outbox backs off (web.lti.outcomes.backoff); after
# the last one the row stays pending and the web app's dispatcher enqueues it again when due.
SCORE_RETRY_INTERVALS = [30, 60, 120, 240, 480, 960, 1920, 3600]
LIVE = ("queued", "started", "scheduled", "deferred")


def job_id(queue_name: str, submission_id: int) -> str:
    return f"{queue_name}-submission-{submission_id}"


def grade_job(submission_id: int) -> None:
    """The RQ job: grade one submission in this worker's own database session, then hand the
    same student's next submission to this exercise (if one waits) to the same queue."""
    next_id = grade_submission(worker_sessions(), submission_id, Settings.from_environ().timing)
    job = get_current_job()
    if job is not None:
        queue = _queue(job.origin, job.connection)
        if next_id is not None:
            enqueue(queue, next_id)
        try:  # the LMS score this grade may have changed; never fails the grading
            dispatch_scores(queue, worker_sessions())
        except Exception:
            log.exception("enqueueing LMS scores after submission %s failed", submission_id)


class ScoreNotSent(Exception):
    """A score job whose LMS did not take the score: RQ retries it (SCORE_RETRY_INTERVALS)."""


def score_job(row_id: int) -> str:
    """The RQ job: send the LMS score of outbox row `row_id` (web.lti.outcomes.deliver).
    Raises ScoreNotSent when the LMS is down or refuses, so RQ retries it later."""
    from web.lti.outcomes import deliver

    result = deliver(worker_sessions(), worker_bank(), row_id)
    if result.outcome == "failed":
        raise ScoreNotSent(f"outbox row {row_id}, try {result.tries}: {result.error}")
    return result.outcome


def score_job_id(queue_name: str, row_id: int) -> str:
    return f"{queue_name}-lti-score-{row_id}"


def enqueue_score(queue, row_id: int):
    """One RQ job sending outbox row `row_id`, unless one is already waiting or running."""
    from rq import Retry

    jid = score_job_id(queue.name, row_id)
    found = Job.fetch_many([jid], connection=queue.connection, serializer=queue.serializer)[0]
    if found is not None and str(getattr(found.get_status(), "value", "")) in LIVE:
        return None
    queue.failed_job_registry.remove(jid)
    return queue.enqueue_call(
        SCORE_JOB_FUNCTION, args=(row_id,), job_id=jid, timeout=120, result_ttl=3600,
        failure_ttl=7 * 24 * 3600, description=f"send LMS score (outbox row {row_id})",
        retry=Retry(max=len(SCORE_RETRY_INTERVALS), interval=SCORE_RETRY_INTERVALS))


def dispatch_scores(queue, sessions: sessionmaker[Session]):
    """Enqueue a score job for every due outbox row (none twice); returns
    web.lti.outcomes.DrainResult(sent=jobs enqueued, failed=0, next_due)."""
    from web.lti.outcomes import DrainResult, due_rows

    ids, next_due = due_rows(sessions)
    queued = sum(1 for row_id in ids if enqueue_score(queue, row_id) is not None)
    return DrainResult(queued, 0, next_due)


def worker_bank():
    """The problem bank a score job reads set points from: the published version, as the web
    app serves it (`web.bank.published_bank`), with PROBLEMS_DIR as the local copy."""
    from web.bank import published_bank

    return published_bank(worker_sessions(), Path(Settings.from_environ().problems_dir))


_SESSIONS: dict[tuple[int, str], sessionmaker[Session]] = {}


def worker_sessions() -> sessionmaker[Session]:
    """A sessionmaker on `DATABASE_URL`, one per process (a forked work-horse builds its own)."""
    url = Settings.from_environ().database_url
    if not url:
        raise RuntimeError("DATABASE_URL is not set: a grading worker needs the database URL.")
    key = (os.getpid(), url)
    if key not in _SESSIONS:
        _SESSIONS[key] = sessionmaker(make_engine(normalize_url(url)), expire_on_commit=False)
    return _SESSIONS[key]


def connect(redis_url: str):
    """A Redis client for `redis_url`; credentials in the URL (``redis://user:password@host``,
    ``rediss://`` for TLS) are used, and are never printed (see `redacted`)."""
    return Redis.from_url(redis_url)


def redacted(redis_url: str) -> str:
    """`redis_url` without its password, for logs and messages."""
    parts = urlsplit(redis_url)
    if parts.password is None:
        return redis_url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _queue(name: str, connection):
    """An RQ queue that speaks JSON only: a job is ids and names, never a pickle, so a forged
    job pushed into Redis cannot run code when a worker reads it."""
    return Queue(name, connection=connection, serializer=JSONSerializer)


def enqueue(queue, submission_id: int):
    """One RQ job for `submission_id` (its id carries only the submission id), replacing any
    trace of an earlier run of the same submission (a requeued one)."""
    jid = job_id(queue.name, submission_id)
    started = queue.started_job_registry
    for entry_job_id, execution_id in started.get_job_and_execution_ids(cleanup=False):
        if entry_job_id == jid:
            queue.connection.zrem(started.key, f"{jid}:{execution_id}")
    queue.failed_job_registry.remove(jid)
    return queue.enqueue_call(
        JOB_FUNCTION, args=(submission_id,), job_id=jid,
        timeout=JOB_TIMEOUT_S, result_ttl=3600, failure_ttl=7 * 24 * 3600,
        description=f"grade code submission {submission_id}")


# ---------------------------------------------------------------- how each worker isolates
WORKER_MODE_PREFIX = "stride:worker-mode:"
MODE_CACHE_S = 5.0  # how long the web app trusts what it last read of the workers' modes
MAX_NAMES = 5


@dataclass(frozen=True)
class WorkerMode:
    """What one live grading worker recorded of itself: its queue and how it isolates code.

    `unsafe` is True when it runs with the explicit opt-out `STRIDE_SANDBOX=unsafe-no-isolation`.
    """

    name: str
    queue: str
    mode: str
    unsafe: bool


def record_worker_mode(connection, name: str, queue_name: str, isolation, ttl: int) -> None:
    """Record worker `name`'s isolation under `stride:worker-mode:<name>`, expiring after `ttl`
    seconds unless refreshed (the worker refreshes it with each heartbeat, so a dead worker's
    entry vanishes by itself). `connection` may be a pipeline."""
    value = {"queue": queue_name, "mode": isolation.mode,
             "unsafe": bool(isolation.unsafe_opt_out)}
    connection.set(WORKER_MODE_PREFIX + name, json.dumps(value), ex=max(int(ttl), 1))


def forget_worker_mode(connection, name: str) -> None:
    connection.delete(WORKER_MODE_PREFIX + name)


def _worker_mode(key: bytes, raw: bytes | None) -> WorkerMode | None:
    try:
        value = json.loads(raw) if raw is not None else None
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    return WorkerMode(name=key.decode("utf-8", "replace").removeprefix(WORKER_MODE_PREFIX),
                      queue=str(value.get("queue", "")), mode=str(value.get("mode", "")),
                      unsafe=value.get("unsafe") is True)


def worker_modes(connection) -> list[WorkerMode]:
    """What every live worker recorded of itself (any queue), by name."""
    keys = sorted(connection.scan_iter(match=WORKER_MODE_PREFIX + "*", count=500))
    values = connection.mget(keys) if keys else []
    found = [_worker_mode(key, raw) for key, raw in zip(keys, values, strict=True)]
    return [mode for mode in found if mode is not None]


class RedisQueue:
    """The web app's side of the queue: enqueue, depth and position, and reaping lost jobs."""

    def __init__(self, sessions: sessionmaker[Session], redis_url: str,
                 queue_name: str = DEFAULT_QUEUE, timing: JobTiming | None = None) -> None:
        self._sessions = sessions
        self.timing = timing or JobTiming()
        self.connection = connect(redis_url)
        self.queue = _queue(queue_name, self.connection)
        self._unsafe: tuple[float, tuple[str, ...]] | None = None

    @property
    def name(self) -> str:
        return self.queue.name

    def unsafe_workers(self, max_age: float | None = None) -> tuple[str, ...]:
        """Names of the live workers of this queue that grade without isolation (the opt-out).

        Read from Redis at most once per `max_age` seconds (default `MODE_CACHE_S`); when Redis
        cannot be read, what was last read (or nothing) is kept for as long.
        """
        max_age = MODE_CACHE_S if max_age is None else max_age
        now = time.monotonic()
        if self._unsafe is not None and now - self._unsafe[0] < max_age:
            return self._unsafe[1]
        try:
            names = tuple(m.name for m in worker_modes(self.connection)
                          if m.queue == self.name and m.unsafe)
        except RedisError as exc:
            log.warning("could not read the grading workers' isolation from Redis: %s", exc)
            names = self._unsafe[1] if self._unsafe is not None else ()
        self._unsafe = (now, names)
        return names

    def submit(self, submission_id: int):
        return enqueue(self.queue, submission_id)

    def place(self, session: Session, submission_id: int) -> QueuePlace:
        """Queue depth (waiting + being graded) and this submission's 1-based place in line,
        from Redis (`session` is not needed here: the protocol's other backend reads it)."""
        waiting = self.queue.count
        running = self.queue.started_job_registry.get_job_count(cleanup=False)
        index = self.queue.get_job_position(job_id(self.name, submission_id))
        return QueuePlace(waiting + running, None if index is None else index + 1)

    def reap(self, now=None, submission_id: int | None = None) -> int:
        """Requeue or fail stalled and lost rows (all, or around one submission); returns how
        many changed, and enqueues the submissions that this frees.

        A grading row is judged by its heartbeat (`web.code.task.reap_stalled`). A handed-over row
        whose job vanished from Redis, or ended without grading it, fails with LOST_MESSAGE
        once `MISSING_GRACE` has passed since it was handed over. `now` is a datetime or Unix
        seconds (default: the time now).
        """
        now = as_datetime(now)
        with self._sessions() as session:
            scope = scope_of(session, submission_id)
            changed, groups = reap_stalled(session, self.timing, now, (CodeStatus.GRADING.value,),
                                           scope)
            session.commit()
            lost, lost_groups = self._fail_lost(session, now, scope)
            session.commit()
            released = release_groups(session, groups | lost_groups | waiting_groups(session, scope),
                                      now)
            session.commit()
        for next_id in released:
            self.submit(next_id)
        return changed + lost

    def _fail_lost(self, session: Session, now, scope) -> tuple[int, set[tuple[int, str]]]:
        query = select(CodeSubmission).where(CodeSubmission.status == CodeStatus.QUEUED.value,
                                             CodeSubmission.heartbeat_at.is_not(None))
        if scope is not None:
            query = query.where(CodeSubmission.user_id == scope[0],
                                CodeSubmission.exercise == scope[1])
        marked, groups = 0, set()
        for row in session.scalars(query).all():
            job = Job.fetch_many([job_id(self.name, row.id)], connection=self.connection,
                                 serializer=self.queue.serializer)[0]
            status = None if job is None else job.get_status(refresh=False)
            if _lost(row, status, now) and _mark_lost(session, row.id):
                marked += 1
                groups.add((row.user_id, row.exercise))
        return marked, groups

    def wait_all(self, timeout: float | None = None) -> None:
        """Nothing to wait for in this process: workers elsewhere grade the jobs."""

    def shutdown(self) -> None:
        self.connection.close()


def _lost(row: CodeSubmission, status, now) -> bool:
    """A handed-over row's job is lost when it vanished or ended, past the grace period."""
    if status is not None and str(getattr(status, "value", status)) not in DEAD + FINISHED:
        return False
    handed = row.heartbeat_at or row.created_at or now
    return now - handed > MISSING_GRACE


def _mark_lost(session: Session, submission_id: int) -> int:
    """Fail the row unless a worker took it meanwhile (a conditional UPDATE, no race)."""
    result = session.execute(
        update(CodeSubmission)
        .where(CodeSubmission.id == submission_id, CodeSubmission.status == CodeStatus.QUEUED.value)
        .values(status=CodeStatus.FAILED.value, finished_at=utcnow(), error=LOST_MESSAGE)
        .execution_options(synchronize_session=False))
    if result.rowcount:
        log.warning("code submission %s lost its grading job; marked it failed", submission_id)
    return result.rowcount
