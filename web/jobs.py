"""Background grading of code submissions in an in-process thread pool.

Each job calls `grader.codegrade.grade_source` (which runs the student's code in a sandboxed child
process, never in this process) and writes the report in its own database session. Rows left
queued or grading by a previous run are marked failed at startup (`recover_stale_jobs`), so none
stays "grading" forever.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import Future, ThreadPoolExecutor, wait

from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from web.models import CodeSubmission, utcnow

log = logging.getLogger(__name__)

RESTART_MESSAGE = ("The server restarted before this submission was graded. "
                   "Nothing is wrong with your code: please submit it again.")
CRASH_MESSAGE = ("The grader could not finish because of a problem on our side, not in your code. "
                 "Please submit again; if it keeps happening, tell your instructor.")


class GradingPool:
    """A small ThreadPoolExecutor that grades code submissions by id."""

    def __init__(self, sessions: sessionmaker[Session], workers: int = 2) -> None:
        self._sessions = sessions
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grading")
        self._futures: dict[int, Future] = {}

    def submit(self, submission_id: int) -> Future:
        future = self._executor.submit(grade_submission, self._sessions, submission_id)
        self._futures[submission_id] = future
        future.add_done_callback(lambda _f: self._futures.pop(submission_id, None))
        return future

    def wait_all(self, timeout: float | None = None) -> None:
        """Block until every submitted job has finished (used by tests and shutdown)."""
        wait(list(self._futures.values()), timeout=timeout)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=False)


def grade_submission(sessions: sessionmaker[Session], submission_id: int) -> None:
    """Grade one queued submission and store the report; never raises."""
    with sessions() as session:
        row = session.get(CodeSubmission, submission_id)
        if row is None or row.status != "queued":
            return
        row.status, row.started_at = "grading", utcnow()
        session.commit()
        try:
            from grader.codegrade import grade_source
            from grader.errors import StudentCodeError

            try:
                report = grade_source(row.source, exercise=row.exercise)
            except StudentCodeError as exc:
                _finish(row, "failed", error=str(exc))
            else:
                _finish(row, "done", report=report.to_json())
        except Exception:
            log.exception("grading code submission %s failed", submission_id)
            _finish(row, "failed", error=CRASH_MESSAGE)
        session.commit()


def _finish(row: CodeSubmission, status: str, *, report: dict | None = None,
            error: str | None = None) -> None:
    row.status, row.finished_at, row.error = status, utcnow(), error
    if report is not None:
        row.report_json = json.dumps(report)
        row.score, row.max_score = float(report["score"]), float(report["max_score"])


def recover_stale_jobs(sessions: sessionmaker[Session]) -> int:
    """Mark rows a previous run left queued/grading as failed; returns how many.

    With REDIS_URL set the jobs live in Redis and survive a web restart: nothing is marked here,
    grading workers reap jobs that were really lost (`web.queue.RedisQueue.reap`).
    """
    import os

    from web.queries import unfinished_code_submissions

    if os.environ.get("REDIS_URL"):
        return 0

    with sessions() as session:
        rows = unfinished_code_submissions(session)
        for row in rows:
            _finish(row, "failed", error=RESTART_MESSAGE)
        session.commit()
        return len(rows)


def init_app(app: Flask) -> None:
    """The Redis queue (`web.queue`) when REDIS_URL is configured, else the in-process pool."""
    import os

    from web.db import session_factory

    redis_url = app.config.get("REDIS_URL", os.environ.get("REDIS_URL"))
    if redis_url:
        from web.queue import DEFAULT_QUEUE, RedisQueue

        queue_name = app.config.get("GRADING_QUEUE") or os.environ.get(
            "STRIDE_GRADING_QUEUE", DEFAULT_QUEUE)
        app.extensions["stride_pool"] = RedisQueue(session_factory(app), redis_url, queue_name)
        return
    app.extensions["stride_pool"] = GradingPool(
        session_factory(app), workers=int(app.config["GRADING_WORKERS"]))


def get_pool(app: Flask) -> GradingPool:
    """The grading pool or Redis queue; both have submit(id), wait_all() and shutdown()."""
    return app.extensions["stride_pool"]
