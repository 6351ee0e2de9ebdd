"""A code submission's life as a grading task: the one home of its states and of the protocol
that both grading backends (`web.code.pool`, in-process; `web.code.rq`, Redis) implement.

Each task calls `grader.code.grade_source` (which runs the student's code in a sandboxed
child process, never in this process) and writes the report in its own database session.

A submission's life, the same in the in-process pool and in RQ workers:

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
startup (`web.code.backend.recover_stale_jobs`).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from grader.code import grade_source
from grader.errors import StudentCodeError
from web.lti.outcomes import score_changed
from web.models import CodeStatus, CodeSubmission, utcnow
from web.settings import DEFAULT_TIMING, JobTiming

log = logging.getLogger(__name__)

UNFINISHED = (CodeStatus.QUEUED.value, CodeStatus.GRADING.value)
RESTART_MESSAGE = ("The server restarted before this submission was graded. "
                   "Nothing is wrong with your code: please submit it again.")
CRASH_MESSAGE = ("The grader could not finish because of a problem on our side, not in your code. "
                 "Please submit again; if it keeps happening, tell your instructor.")
STALLED_MESSAGE = ("Grading this submission was interrupted twice by a problem on our side (the "
                   "grading process stopped), so we stopped trying. Nothing points to your code: "
                   "please submit it again; if it keeps happening, tell your instructor.")
WAITING_MESSAGE = ("Your earlier submission to this exercise is still being graded; "
                   "this one will start after it.")


@dataclass(frozen=True)
class QueuePlace:
    """How many submissions wait to be graded, and where this one stands (1 = next)."""

    depth: int
    position: int | None


class GradingBackend(Protocol):
    """What the web app asks of a grading backend (`GradingPool` or `RedisQueue`)."""

    timing: JobTiming

    def submit(self, submission_id: int): ...

    def reap(self, now: datetime | float | None = None,
             submission_id: int | None = None) -> int: ...

    def place(self, session: Session, submission_id: int) -> QueuePlace: ...

    def wait_all(self, timeout: float | None = None) -> None: ...

    def shutdown(self) -> None: ...


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
    if first is None or first.status != CodeStatus.QUEUED or first.heartbeat_at is not None:
        return None
    handed = session.execute(
        update(CodeSubmission)
        .where(CodeSubmission.id == first.id, CodeSubmission.status == CodeStatus.QUEUED.value,
               CodeSubmission.heartbeat_at.is_(None))
        .values(heartbeat_at=now or utcnow()).execution_options(synchronize_session=False))
    return first.id if handed.rowcount else None


def _claim(session: Session, submission_id: int) -> int | None:
    """Start grading a handed-over row; its new `tries`, or None if someone else has it."""
    now = utcnow()
    claimed = session.execute(
        update(CodeSubmission)
        .where(CodeSubmission.id == submission_id,
               CodeSubmission.status == CodeStatus.QUEUED.value,
               CodeSubmission.heartbeat_at.is_not(None))
        .values(status=CodeStatus.GRADING.value, started_at=now, heartbeat_at=now,
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
                     timing: JobTiming = DEFAULT_TIMING) -> int | None:
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
            user_id, exercise, source = row.user_id, row.exercise, row.source
            session.rollback()  # hold no transaction (nor pooled connection) while grading
            with Heartbeat(sessions, submission_id, timing.heartbeat_s):
                values = _grade(source, exercise, submission_id)
            stored = session.execute(
                update(CodeSubmission)
                .where(CodeSubmission.id == submission_id,
                       CodeSubmission.status == CodeStatus.GRADING.value,
                       CodeSubmission.tries == tries)
                .values(**values).execution_options(synchronize_session=False))
            session.commit()
            if not stored.rowcount:  # a reaper took it back meanwhile; its new run owns it
                return None
            score_changed(session, user_id, exercise=exercise)  # to the LMS, if linked
            next_id = release_next(session, user_id, exercise)
            session.commit()
            return next_id
    except Exception:  # the database went away: the row's heartbeat goes stale and is reaped
        log.exception("storing the grade of code submission %s failed", submission_id)
        return None


def _grade(source: str, exercise: str, submission_id: int) -> dict:
    """The column values of a finished row: a report, or a message saying why there is none."""
    try:
        try:
            # The staff form: students are shown `student_view` of it (web.code.views).
            report = grade_source(source, exercise=exercise).to_json(audience="staff")
        except StudentCodeError as exc:
            return _finished(CodeStatus.FAILED.value, error=str(exc))
        return _finished(CodeStatus.DONE.value, report=report)
    except Exception:
        log.exception("grading code submission %s failed", submission_id)
        return _finished(CodeStatus.FAILED.value, error=CRASH_MESSAGE)


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
        values = (_finished(CodeStatus.FAILED.value, error=STALLED_MESSAGE) if give_up
                  else {"status": CodeStatus.QUEUED.value, "heartbeat_at": None})
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
        CodeSubmission.status == CodeStatus.QUEUED.value,
        CodeSubmission.heartbeat_at.is_(None)).distinct()
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
    return datetime.fromtimestamp(now, UTC)


def database_place(session: Session, submission_id: int) -> QueuePlace:
    """Depth and place from the database (the in-process pool grades in id order)."""
    depth = session.scalar(select(func.count(CodeSubmission.id)).where(
        CodeSubmission.status.in_(UNFINISHED))) or 0
    row = session.get(CodeSubmission, submission_id)
    if row is None or row.status != CodeStatus.QUEUED:
        return QueuePlace(depth, None)
    ahead = session.scalar(select(func.count(CodeSubmission.id)).where(
        CodeSubmission.status == CodeStatus.QUEUED.value, CodeSubmission.id < submission_id)) or 0
    return QueuePlace(depth, ahead + 1)


def code_submissions_for(session: Session, user_id: int, exercise: str | None = None
                         ) -> Sequence[CodeSubmission]:
    """A student's code submissions, newest first."""
    query = select(CodeSubmission).where(CodeSubmission.user_id == user_id)
    if exercise is not None:
        query = query.where(CodeSubmission.exercise == exercise)
    return session.scalars(query.order_by(CodeSubmission.id.desc())).all()


def unfinished_code_submissions(session: Session) -> Sequence[CodeSubmission]:
    """Every code submission still queued or grading."""
    return session.scalars(select(CodeSubmission).where(
        CodeSubmission.status.in_(UNFINISHED))).all()


def wait_until(condition, timeout: float, interval: float = 0.05) -> bool:
    """Poll `condition()` until true or `timeout` seconds pass (for scripts and tests)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())
