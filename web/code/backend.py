"""Choosing the grading backend: the one home of `init_app`, `get_pool`, `queue_place` and the
restart recovery.

With `REDIS_URL` in the app's settings the Redis queue (`web.code.rq.RedisQueue`) grades, else
the in-process pool (`web.code.pool.GradingPool`); both implement
`web.code.task.GradingBackend`. The choice, the recovery at start-up and the rate limits read the
same typed settings (`web.settings.Settings`), never the environment. `unsafe_grading` says
whether whoever grades (this process, or any live RQ worker of the queue) runs without isolation.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Flask
from sqlalchemy.orm import Session, sessionmaker

from grader.sandbox import UNSAFE_OPT_OUT, Isolation, require_isolation
from web.code.pool import GradingPool
from web.code.rq import MAX_NAMES, RedisQueue
from web.code.task import (
    RESTART_MESSAGE,
    GradingBackend,
    QueuePlace,
    unfinished_code_submissions,
)
from web.db import session_factory
from web.models import CodeStatus, utcnow
from web.settings import Settings

log = logging.getLogger(__name__)
SETTINGS_INFO = "stride_settings"  # sessionmaker info: the settings of the app that built it


def recover_stale_jobs(sessions: sessionmaker[Session]) -> int:
    """Mark rows a previous run left queued/grading as failed; returns how many.

    With a Redis queue (REDIS_URL in the settings of the app that built `sessions`: the same
    rule as `init_app`) the jobs live in Redis and survive a web restart: nothing is marked
    here, stalled jobs are reaped instead.
    """
    settings = (sessions.kw.get("info") or {}).get(SETTINGS_INFO) or Settings()
    if settings.redis_url:
        return 0
    with sessions() as session:
        rows = unfinished_code_submissions(session)
        for row in rows:
            row.status, row.finished_at, row.error = CodeStatus.FAILED.value, utcnow(), \
                RESTART_MESSAGE
        session.commit()
        return len(rows)


def init_app(app: Flask, settings: Settings) -> None:
    """The Redis queue when `settings.redis_url` is set, else the in-process pool.

    Grading here, in-process, needs working isolation: `require_isolation()` raises
    `IsolationUnavailable` (so the app refuses to start) unless bubblewrap works or the operator
    opted out. The result is kept in `app.extensions["stride_isolation"]` (None when RQ workers
    elsewhere grade, and check for themselves).
    """
    sessions = session_factory(app)
    sessions.configure(info={**(sessions.kw.get("info") or {}), SETTINGS_INFO: settings})
    if settings.redis_url:
        app.extensions["stride_isolation"] = None
        app.extensions["stride_pool"] = RedisQueue(sessions, settings.redis_url,
                                                   settings.grading_queue, settings.timing)
        return
    isolation = require_isolation()
    if isolation.warning():
        log.warning(isolation.warning())
    app.extensions["stride_isolation"] = isolation
    app.extensions["stride_pool"] = GradingPool(
        sessions, workers=settings.grading_workers, timing=settings.timing)


def get_pool(app: Flask) -> GradingBackend:
    """The app's grading backend: submit(id), reap(), place(), wait_all(), shutdown()."""
    return app.extensions["stride_pool"]


def queue_place(backend: GradingBackend, session: Session, submission_id: int) -> QueuePlace:
    """Where a submission stands, as its backend sees it.

    Reaps around the submission first, so a status poll itself notices a stalled job.
    """
    backend.reap(submission_id=submission_id)
    return backend.place(session, submission_id)


@dataclass(frozen=True)
class UnsafeGrading:
    """Who grades student code without isolation, for the staff banner: this server (no
    `workers`) or the named live RQ workers; `warning` is `Isolation.warning()` of the opt-out.
    """

    warning: str
    workers: tuple[str, ...] = ()

    @property
    def who(self) -> str:
        """The start of the banner's sentence about the workers, e.g. "2 grading workers (a, b)
        were started"."""
        names = self.workers
        shown = ", ".join(names[:MAX_NAMES]) + (
            f" and {len(names) - MAX_NAMES} more" if len(names) > MAX_NAMES else "")
        if len(names) == 1:
            return f"The grading worker {shown} was started"
        return f"{len(names)} grading workers ({shown}) were started"


def unsafe_grading(app: Flask) -> UnsafeGrading | None:
    """Whether student code is graded without isolation (the explicit opt-out), and by whom.

    In-process grading: the isolation this app started with. With Redis: the modes the live
    workers of the app's queue recorded (`RedisQueue.unsafe_workers`, read at most every few
    seconds), whatever this app's own environment says.
    """
    backend = app.extensions.get("stride_pool")
    if isinstance(backend, RedisQueue):
        names = backend.unsafe_workers()
        if not names:
            return None
        opt_out = Isolation("limits-only", reason=f"STRIDE_SANDBOX={UNSAFE_OPT_OUT}",
                            unsafe_opt_out=True)
        return UnsafeGrading(warning=opt_out.warning(), workers=names)
    isolation = app.extensions.get("stride_isolation")
    if isolation is None or not getattr(isolation, "unsafe_opt_out", False):
        return None
    return UnsafeGrading(warning=isolation.warning())
