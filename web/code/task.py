"""Background grading of code submissions: the job's life, and the in-process thread pool.

Each job calls `grader.codegrade.grade_source` (which runs the student's code in a sandboxed child
process, never in this process) and writes the report in its own database session.

A submission's life, the same in the in-process pool and in RQ workers (`web.queue`):

* **waiting**: stored as "queued" with no `heartbeat_at`. One student has at most one job in
  flight per exercise: a later submission to the same exercise waits behind the earlier one and
  is handed over (`release_next`) only when that one finishes, so nobody starves the others.
* **handed over**: still "queued", `heartbeat_at` set (the hand-over time). Setting it is a
  conditional UPDATE, so of two processes releasing the same row only one hands it over.
* **grading**: claimed by a conditional UPDATE that counts `tries`; while grading, a small
  thread refreshes `heartbeat_at` every `heartbeat_s`.
* **stalled**: a row whose heartbeat is older than `stale_after_s` lost its worker (kill -9,
  out of memory, a host gone). `reap` requeues it while `tries` < `max_tries`, else fails it with
  `STALLED_MESSAGE`; either way the next waiting submission of that student and exercise starts.

Rows left unfinished by a previous run of the single-process server are marked failed at its
startup (`recover_stale_jobs`).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from web.models import CodeSubmission, utcnow

log = logging.getLogger(__name__)

UNFINISHED = ("queued", "grading")
RESTART_MESSAGE = ("The server restarted before this submission was graded. "
                   "Nothing is wrong with your code: please submit it again.")
CRASH_MESSAGE = ("The grader could not finish because of a problem on our side, not in your code. "
                 "Please submit again; if it keeps happening, tell your instructor.")
STALLED_MESSAGE = ("Grading this submission was interrupted twice by a problem on our side (the "
                   "grading process stopped), so we stopped trying. Nothing points to your code: "
                   "please submit it again; if it keeps happening, tell your instructor.")
WAITING_MESSAGE = ("Your earlier submission to this exercise is still being graded; "
                   "this one will start after it.")
_INFO_REDIS_URL = "stride_grading_redis_url"  # sessionmaker info: where this app's jobs live


@dataclass(frozen=True)
class JobTiming:
    """How often a grading job proves it is alive, and when a silent one counts as lost.

    `stale_after_s` must be several heartbeats long: a busy database may delay one.
    """

    heartbeat_s: float = 5.0
    stale_after_s: float = 20.0
    max_tries: int = 2

    @classmethod
    def from_config(cls, config: Mapping) -> JobTiming:
        """From GRADING_HEARTBEAT_S / GRADING_STALE_S / GRADING_MAX_TRIES in `config`, else from
        the environment's STRIDE_GRADING_HEARTBEAT_S / ..._STALE_S / ..._MAX_TRIES."""
        def pick(key: str, default):
            value = config.get(f"GRADING_{key}") or os.environ.get(f"STRIDE_GRADING_{key}")
            return type(default)(value) if value else default

        return cls(pick("HEARTBEAT_S", cls.heartbeat_s), pick("STALE_S", cls.stale_after_s),
                   pick("MAX_TRIES", cls.max_tries))


def grading_redis_url(config: Mapping | None = None) -> str | None:
    """REDIS_URL from the app config, falling back to the environment (one rule for all)."""
    return (config or {}).get("REDIS_URL") or os.environ.get("REDIS_URL") or None


# --- a submission's state (queries take a session and never commit) ------------------------

def _group(user_id: int, exercise: str):
    return (CodeSubmission.user_id == user_id, CodeSubmission.exercise == exercise)


def waits_behind(session: Session, row: CodeSubmission) -> bool:
    """True while an earlier submission of the same student and exercise is unfinished."""
    return session.scalar(select(CodeSubmission.id).where(
        *_group(row.user_id, row.exercise), CodeSubmission.id < row.id,
        CodeSubmission.status.in_(UNFINISHED)).limit(1)) is not None


def release_next(session: Session, user_id: int, exercise: str,
                 now: datetime | None = None) -> int | None:
    """Hand over the group's earliest unfinished submission if it is still waiting.

    Returns its id for the caller to dispatch after committing, or None (nothing waits, or a job
    of the group is in flight, or another process handed it over first). Call it in a
    transaction of its own, after committing the change that may free the group: then of a
    submit and a finish racing, at least one sees the other.
    """
    first = session.scalars(select(CodeSubmission).where(
        *_group(user_id, exercise), CodeSubmission.status.in_(UNFINISHED))
        .order_by(CodeSubmission.id).limit(1)).first()
    if first is None or first.status != "queued" or first.heartbeat_at is not None:
        return None
    handed = session.execute(
        update(CodeSubmission)
        .where(CodeSubmission.id == first.id, CodeSubmission.status == "queued",
               CodeSubmission.heartbeat_at.is_(None))
        .values(heartbeat_at=now or utcnow()).execution_options(synchronize_session=False))
    return first.id if handed.rowcount else None


def _claim(session: Session, submission_id: int) -> int | None:
    """Start grading a handed-over row; its new `tries`, or None if someone else has it."""
    now = utcnow()
    claimed = session.execute(
        update(CodeSubmission)
        .where(CodeSubmission.id == submission_id, CodeSubmission.status == "queued",
               CodeSubmission.heartbeat_at.is_not(None))
        .values(status="grading", started_at=now, heartbeat_at=now,
                tries=CodeSubmission.tries + 1)
        .execution_options(synchronize_session=False))
    if not claimed.rowcount:
        return None
    return session.scalar(select(CodeSubmission.tries).where(CodeSubmission.id == submission_id))


def beat(session: Session, submission_ids: Iterable[int], now: datetime | None = None) -> int:
    """Refresh the heartbeat of handed-over or grading rows among `submission_ids`."""
    ids = list(submission_ids)
    if not ids:
        return 0
    return session.execute(
        update(CodeSubmission)
        .where(CodeSubmission.id.in_(ids), CodeSubmission.status.in_(UNFINISHED),
               CodeSubmission.heartbeat_at.is_not(None))
        .values(heartbeat_at=now or utcnow()).execution_options(synchronize_session=False)
    ).rowcount


class Heartbeat:
    """A daemon thread refreshing one grading row's heartbeat until the `with` block ends."""

    def __init__(self, sessions: sessionmaker[Session], submission_id: int, every_s: float):
        self._sessions, self._id, self._every = sessions, submission_id, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True,
                                        name=f"heartbeat-{submission_id}")

    def _run(self) -> None:
        while not self._stop.wait(self._every):
            try:
                with self._sessions() as session:
                    beat(session, [self._id])
                    session.commit()
            except Exception:  # a missed beat is survivable; several make the row stale
                log.exception("heartbeat of code submission %s failed", self._id)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._stop.set()
        self._thread.join(timeout=self._every + 5)


# --- grading one submission ------------------------------------------------------------------

def grade_submission(sessions: sessionmaker[Session], submission_id: int,
                     timing: JobTiming = JobTiming()) -> int | None:
    """Grade one handed-over submission and store the report; never raises.

    Returns the id of the same student's next submission to this exercise, now handed over for
    the caller to dispatch (None when nothing waits or this job did not run).
    """
    try:
        with sessions() as session:
            tries = _claim(session, submission_id)
            session.commit()
            if tries is None:
                return None
            row = session.get(CodeSubmission, submission_id)
            user_id, exercise = row.user_id, row.exercise
            with Heartbeat(sessions, submission_id, timing.heartbeat_s):
                values = _grade(row.source, exercise, submission_id)
            stored = session.execute(
                update(CodeSubmission)
                .where(CodeSubmission.id == submission_id, CodeSubmission.status == "grading",
                       CodeSubmission.tries == tries)
                .values(**values).execution_options(synchronize_session=False))
            session.commit()
            if not stored.rowcount:  # a reaper took it back meanwhile; its new run owns it
                return None
            next_id = release_next(session, user_id, exercise)
            session.commit()
            return next_id
    except Exception:  # the database went away: the row's heartbeat goes stale and is reaped
        log.exception("storing the grade of code submission %s failed", submission_id)
        return None


def _grade(source: str, exercise: str, submission_id: int) -> dict:
    """The column values of a finished row: a report, or a message saying why there is none."""
    try:
        from grader.codegrade import grade_source
        from grader.errors import StudentCodeError

        try:
            # The staff form: students are shown `student_view` of it (web.code).
            report = grade_source(source, exercise=exercise).to_json(audience="staff")
        except StudentCodeError as exc:
            return _finished("failed", error=str(exc))
        return _finished("done", report=report)
    except Exception:
        log.exception("grading code submission %s failed", submission_id)
        return _finished("failed", error=CRASH_MESSAGE)


def _finished(status: str, *, report: dict | None = None, error: str | None = None) -> dict:
    values = {"status": status, "finished_at": utcnow(), "error": error}
    if report is not None:
        values.update(report_json=json.dumps(report), score=float(report["score"]),
                      max_score=float(report["max_score"]))
    return values


# --- reaping stalled jobs ----------------------------------------------------------------------

def reap_stalled(session: Session, timing: JobTiming, now: datetime, statuses=UNFINISHED,
                 scope: tuple[int, str] | None = None, exclude: Iterable[int] = ()
                 ) -> tuple[int, set[tuple[int, str]]]:
    """Requeue (or, after `max_tries`, fail) rows in `statuses` whose heartbeat is stale.

    Returns how many rows changed and the (user, exercise) groups to release afterwards, in a
    transaction of their own. `exclude` names rows this process knows are alive.
    """
    cutoff = now - timedelta(seconds=timing.stale_after_s)
    query = select(CodeSubmission).where(
        CodeSubmission.status.in_(statuses), CodeSubmission.heartbeat_at.is_not(None),
        CodeSubmission.heartbeat_at < cutoff, CodeSubmission.id.not_in(list(exclude)))
    if scope is not None:
        query = query.where(*_group(*scope))
    changed, groups = 0, set()
    for row in session.scalars(query).all():
        give_up = row.tries >= timing.max_tries
        values = (_finished("failed", error=STALLED_MESSAGE) if give_up
                  else {"status": "queued", "heartbeat_at": None})
        result = session.execute(
            update(CodeSubmission)
            .where(CodeSubmission.id == row.id, CodeSubmission.status == row.status,
                   CodeSubmission.heartbeat_at < cutoff)
            .values(**values).execution_options(synchronize_session=False))
        if result.rowcount:
            log.warning("code submission %s stalled (try %s); %s", row.id, row.tries,
                        "marked it failed" if give_up else "requeued it")
            changed += 1
            groups.add((row.user_id, row.exercise))
    return changed, groups


def waiting_groups(session: Session, scope: tuple[int, str] | None = None
                   ) -> set[tuple[int, str]]:
    """Groups with a submission never handed over (a safety net for a lost release)."""
    query = select(CodeSubmission.user_id, CodeSubmission.exercise).where(
        CodeSubmission.status == "queued", CodeSubmission.heartbeat_at.is_(None)).distinct()
    if scope is not None:
        query = query.where(*_group(*scope))
    return {(user_id, exercise) for user_id, exercise in session.execute(query)}


def release_groups(session: Session, groups: Iterable[tuple[int, str]],
                   now: datetime | None = None) -> list[int]:
    """`release_next` for each group; the ids handed over (the caller commits, then dispatches)."""
    released = (release_next(session, user_id, exercise, now) for user_id, exercise in groups)
    return sorted(i for i in released if i is not None)


def scope_of(session: Session, submission_id: int | None) -> tuple[int, str] | None:
    """The (user, exercise) group of a submission, to reap only around it."""
    if submission_id is None:
        return None
    row = session.get(CodeSubmission, submission_id)
    return None if row is None else (row.user_id, row.exercise)


def as_datetime(now: datetime | float | None) -> datetime:
    """`now` as an aware UTC datetime (Unix seconds are accepted too); default: the time now."""
    if now is None:
        return utcnow()
    if isinstance(now, datetime):
        return now
    from datetime import UTC

    return datetime.fromtimestamp(now, UTC)


# --- the in-process pool -----------------------------------------------------------------------

class GradingPool:
    """A small ThreadPoolExecutor grading submissions by id, with a monitor thread that keeps
    its rows' heartbeats fresh and reaps rows other processes left stalled."""

    def __init__(self, sessions: sessionmaker[Session], workers: int = 2,
                 timing: JobTiming = JobTiming()) -> None:
        self._sessions, self.timing = sessions, timing
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="grading")
        self._futures: dict[int, Future] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._monitor: threading.Thread | None = None
        self._monitor_pid = 0

    def submit(self, submission_id: int) -> Future | None:
        """Grade a handed-over submission in a pool thread (None once the pool is shut down)."""
        self.start_monitor()
        try:
            future = self._executor.submit(self._run, submission_id)
        except RuntimeError:  # shutting down: the row's heartbeat goes stale, another reaps it
            log.warning("grading pool is shut down; code submission %s waits", submission_id)
            return None
        with self._lock:
            self._futures[submission_id] = future
        future.add_done_callback(lambda f: self._forget(submission_id, f))
        return future

    def _forget(self, submission_id: int, future: Future) -> None:
        with self._lock:
            if self._futures.get(submission_id) is future:
                del self._futures[submission_id]

    def _run(self, submission_id: int) -> None:
        next_id = grade_submission(self._sessions, submission_id, self.timing)
        if next_id is not None:
            self.submit(next_id)

    def held(self) -> list[int]:
        with self._lock:
            return list(self._futures)

    def reap(self, now: datetime | float | None = None, submission_id: int | None = None) -> int:
        """Requeue or fail stalled rows (all, or around one submission); dispatch what frees."""
        now = as_datetime(now)
        with self._sessions() as session:
            scope = scope_of(session, submission_id)
            changed, groups = reap_stalled(session, self.timing, now, UNFINISHED, scope,
                                           exclude=self.held())
            session.commit()
            released = release_groups(session, groups | waiting_groups(session, scope), now)
            session.commit()
        for next_id in released:
            self.submit(next_id)
        return changed

    def start_monitor(self) -> None:
        """Start (or, in a forked child, restart) the heartbeat-and-reap thread."""
        with self._lock:
            if self._monitor is not None and self._monitor_pid == os.getpid() and \
                    self._monitor.is_alive():
                return
            self._monitor_pid = os.getpid()
            self._monitor = threading.Thread(target=self._watch, name="grading-monitor",
                                             daemon=True)
            self._monitor.start()

    def _watch(self) -> None:
        while not self._stop.wait(self.timing.heartbeat_s):
            try:
                with self._sessions() as session:
                    beat(session, self.held())
                    session.commit()
                self.reap()
            except Exception:  # the database may be briefly away; the next round catches up
                log.exception("grading monitor round failed")

    def wait_all(self, timeout: float | None = None) -> None:
        """Block until every job, including the ones they start, has finished (tests, shutdown)."""
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                pending = [f for f in self._futures.values() if not f.done()]
            left = None if deadline is None else deadline - time.monotonic()
            if not pending or (left is not None and left <= 0):
                return
            wait(pending, timeout=left)

    def shutdown(self) -> None:
        self._stop.set()
        self._executor.shutdown(wait=True, cancel_futures=False)


def recover_stale_jobs(sessions: sessionmaker[Session]) -> int:
    """Mark rows a previous run left queued/grading as failed; returns how many.

    With a Redis queue (REDIS_URL in the app config that built `sessions`, else in the
    environment: the same rule as `init_app`) the jobs live in Redis and survive a web restart:
    nothing is marked here, stalled jobs are reaped instead.
    """
    from web.queries import unfinished_code_submissions

    info = sessions.kw.get("info") or {}
    redis_url = info[_INFO_REDIS_URL] if _INFO_REDIS_URL in info else grading_redis_url()
    if redis_url:
        return 0
    with sessions() as session:
        rows = unfinished_code_submissions(session)
        for row in rows:
            row.status, row.finished_at, row.error = "failed", utcnow(), RESTART_MESSAGE
        session.commit()
        return len(rows)


def init_app(app: Flask) -> None:
    """The Redis queue (`web.queue`) when REDIS_URL is configured, else the in-process pool.

    Grading here, in-process, needs working isolation: `require_isolation()` raises
    `IsolationUnavailable` (so the app refuses to start) unless bubblewrap works or the operator
    opted out. The result is kept in `app.extensions["stride_isolation"]` (None when RQ workers
    elsewhere grade, and check for themselves).
    """
    from web.db import session_factory

    sessions = session_factory(app)
    redis_url = grading_redis_url(app.config)
    sessions.configure(info={**(sessions.kw.get("info") or {}), _INFO_REDIS_URL: redis_url})
    timing = JobTiming.from_config(app.config)
    if redis_url:
        from web.queue import DEFAULT_QUEUE, RedisQueue

        queue_name = app.config.get("GRADING_QUEUE") or os.environ.get(
            "STRIDE_GRADING_QUEUE", DEFAULT_QUEUE)
        app.extensions["stride_isolation"] = None
        app.extensions["stride_pool"] = RedisQueue(sessions, redis_url, queue_name, timing)
        return
    from grader.sandbox import require_isolation

    isolation = require_isolation()
    if isolation.warning():
        log.warning(isolation.warning())
    app.extensions["stride_isolation"] = isolation
    app.extensions["stride_pool"] = GradingPool(
        sessions, workers=int(app.config["GRADING_WORKERS"]), timing=timing)


def get_pool(app: Flask) -> GradingPool:
    """The grading pool or Redis queue; both have submit(id), reap(), wait_all(), shutdown()."""
    return app.extensions["stride_pool"]
