"""Grading code submissions through a Redis task queue (RQ), for deployments with many hosts.

With `REDIS_URL` configured, the web app enqueues one RQ job per code submission (the job carries
only the submission id) and separate worker processes, started with `python -m web.worker`, grade
it: they need the `grader` package, `DATABASE_URL` and `REDIS_URL`, nothing from the web process.
Without `REDIS_URL` the in-process `web.jobs.GradingPool` is used. Both run the same
`web.jobs.grade_submission`, so results are the same either way.

A job lost with its worker (kill -9, out of memory, a host going away) is never left "grading":
`RedisQueue.reap()` lets RQ move abandoned jobs (whose heartbeat expired) to its failed registry
and marks their rows failed with a message for the student. Workers reap at startup and after
every job; the status endpoint reaps the one row it is asked about.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from web.models import CodeSubmission, utcnow

log = logging.getLogger(__name__)

DEFAULT_QUEUE = "stride-grading"
JOB_TIMEOUT_S = 600  # one submission: import plus every test, each bounded by the sandbox
LOST_MESSAGE = ("The grading worker stopped while grading this submission (a problem on our side, "
                "not in your code). Please submit it again; if it keeps happening, tell your "
                "instructor.")
# A row whose job cannot be found is only declared lost after this long (it may be enqueued now).
MISSING_GRACE = timedelta(minutes=2)
FINISHED = ("finished",)
DEAD = ("failed", "stopped", "canceled")


@dataclass(frozen=True)
class QueuePlace:
    """How many submissions wait to be graded, and where this one stands (1 = next)."""

    depth: int
    position: int | None


def job_id(queue_name: str, submission_id: int) -> str:
    return f"{queue_name}-submission-{submission_id}"


def grade_job(submission_id: int) -> None:
    """The RQ job: grade one submission in this worker's own database session."""
    from web.jobs import grade_submission

    grade_submission(worker_sessions(), submission_id)


_SESSIONS: dict[tuple[int, str], sessionmaker[Session]] = {}


def worker_sessions() -> sessionmaker[Session]:
    """A sessionmaker on `DATABASE_URL`, one per process (a forked work-horse builds its own)."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError("DATABASE_URL is not set: a grading worker needs the database URL.")
    key = (os.getpid(), url)
    if key not in _SESSIONS:
        from web.db import make_engine, normalize_url

        _SESSIONS[key] = sessionmaker(make_engine(normalize_url(url)), expire_on_commit=False)
    return _SESSIONS[key]


class RedisQueue:
    """The web app's side of the queue: enqueue, depth and position, and reaping lost jobs."""

    def __init__(self, sessions: sessionmaker[Session], redis_url: str,
                 queue_name: str = DEFAULT_QUEUE) -> None:
        from redis import Redis
        from rq import Queue

        self._sessions = sessions
        self.connection = Redis.from_url(redis_url)
        self.queue = Queue(queue_name, connection=self.connection)

    @property
    def name(self) -> str:
        return self.queue.name

    def submit(self, submission_id: int):
        return self.queue.enqueue_call(
            "web.queue.grade_job", args=(submission_id,), job_id=job_id(self.name, submission_id),
            timeout=JOB_TIMEOUT_S, result_ttl=3600, failure_ttl=7 * 24 * 3600,
            description=f"grade code submission {submission_id}")

    def place(self, submission_id: int) -> QueuePlace:
        """Queue depth (waiting + being graded) and this submission's 1-based place in line."""
        waiting = self.queue.count
        running = self.queue.started_job_registry.get_job_count(cleanup=False)
        index = self.queue.get_job_position(job_id(self.name, submission_id))
        return QueuePlace(waiting + running, None if index is None else index + 1)

    def reap(self, now: float | None = None, submission_id: int | None = None) -> int:
        """Mark rows whose job died (or vanished) as failed; returns how many were marked.

        `now` is the Unix time used to decide which started jobs were abandoned (their worker's
        heartbeat expired before it); the default is the current time.
        """
        from rq.job import Job

        self.queue.started_job_registry.cleanup(timestamp=now)
        marked = 0
        with self._sessions() as session:
            query = select(CodeSubmission).where(CodeSubmission.status.in_(("queued", "grading")))
            if submission_id is not None:
                query = query.where(CodeSubmission.id == submission_id)
            for row in session.scalars(query).all():
                job = Job.fetch_many([job_id(self.name, row.id)], connection=self.connection)[0]
                if _lost(row, None if job is None else job.get_status(refresh=False), now):
                    marked += _mark_lost(session, row.id)
            session.commit()
        return marked

    def wait_all(self, timeout: float | None = None) -> None:
        """Nothing to wait for in this process: workers elsewhere grade the jobs."""

    def shutdown(self) -> None:
        self.connection.close()


def _lost(row: CodeSubmission, status: str | None, now: float | None) -> bool:
    if status is None:
        created = row.created_at or utcnow()
        current = utcnow() if now is None else _from_unix(now)
        return current - created > MISSING_GRACE
    return str(getattr(status, "value", status)) in DEAD + FINISHED


def _from_unix(seconds: float):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC)


def _mark_lost(session: Session, submission_id: int) -> int:
    """Fail the row unless a worker finished it meanwhile (a conditional UPDATE, no race)."""
    result = session.execute(
        update(CodeSubmission)
        .where(CodeSubmission.id == submission_id,
               CodeSubmission.status.in_(("queued", "grading")))
        .values(status="failed", finished_at=utcnow(), error=LOST_MESSAGE)
        .execution_options(synchronize_session=False))
    if result.rowcount:
        log.warning("code submission %s lost its grading job; marked it failed", submission_id)
    return result.rowcount


def database_place(session: Session, submission_id: int) -> QueuePlace:
    """Depth and place from the database (the in-process pool grades in id order)."""
    unfinished = CodeSubmission.status.in_(("queued", "grading"))
    depth = session.scalar(select(func.count(CodeSubmission.id)).where(unfinished)) or 0
    row = session.get(CodeSubmission, submission_id)
    if row is None or row.status != "queued":
        return QueuePlace(depth, None)
    ahead = session.scalar(select(func.count(CodeSubmission.id)).where(
        CodeSubmission.status == "queued", CodeSubmission.id < submission_id)) or 0
    return QueuePlace(depth, ahead + 1)


def queue_place(pool, session: Session, submission_id: int) -> QueuePlace:
    """Where a submission stands, from Redis when queued there, else from the database."""
    if isinstance(pool, RedisQueue):
        pool.reap(submission_id=submission_id)
        return pool.place(submission_id)
    return database_place(session, submission_id)


def wait_until(condition, timeout: float, interval: float = 0.05) -> bool:
    """Poll `condition()` until true or `timeout` seconds pass (for scripts and tests)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())
