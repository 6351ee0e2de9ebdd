"""Read queries. Every function takes a session and never commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, case, func, select
from sqlalchemy.orm import Session

from web.models import CodeSubmission, Submission, User, VariantRecord


@dataclass(frozen=True)
class ProblemProgress:
    """One student's standing on one problem of a set."""

    attempts_used: int
    best_score: float  # fraction 0..1
    solved: bool


# 1 when any row is correct (PostgreSQL has no max() over booleans, so count in integers).
_ANY_CORRECT = func.max(case((Submission.correct, 1), else_=0))


@dataclass(frozen=True)
class AttemptSummary:
    """How many answers a student has recorded on one problem, and whether one was correct.

    `already_sent`: an answer with the POST's idempotency token is already recorded (the same
    form posted twice), so this POST must not become another attempt.
    """

    used: int
    solved: bool
    already_sent: bool = False


def variant_record(session: Session, user_id: int, set_id: str, problem_id: str
                   ) -> VariantRecord | None:
    return session.scalar(select(VariantRecord).where(
        VariantRecord.user_id == user_id, VariantRecord.set_id == set_id,
        VariantRecord.problem_id == problem_id))


@dataclass(frozen=True)
class StoredVariant:
    """The columns of a `VariantRecord` that the answer POST needs (read without the ORM)."""

    id: int
    seed: int
    variant_json: str


# The answer POST's read, built once on the tables (not the ORM entities): only the bound values
# change per request, so SQLAlchemy neither rebuilds the statement, recomputes its cache key nor
# runs its ORM result processing on the hot path.
_SUB, _VAR = Submission.__table__.c, VariantRecord.__table__.c
_MINE = (_SUB.user_id == bindparam("user_id"), _SUB.set_id == bindparam("set_id"),
         _SUB.problem_id == bindparam("problem_id"))
_VARIANT_WITH_ATTEMPTS = select(
    _VAR.id, _VAR.seed, _VAR.variant_json,
    select(func.count(_SUB.id)).where(*_MINE).scalar_subquery(),
    select(func.max(case((_SUB.correct, 1), else_=0))).where(*_MINE).scalar_subquery(),
    select(func.count(_SUB.id)).where(
        *_MINE, _SUB.request_token == bindparam("request_token")).scalar_subquery(),
).where(_VAR.user_id == bindparam("user_id"), _VAR.set_id == bindparam("set_id"),
        _VAR.problem_id == bindparam("problem_id"))


def variant_with_attempts(session: Session, user_id: int, set_id: str, problem_id: str,
                          request_token: str | None = None
                          ) -> tuple[StoredVariant | None, AttemptSummary]:
    """The student's stored variant and its `AttemptSummary`, in one Core statement.

    The answer POST needs both; one round trip and no ORM objects keep that hot path short.
    """
    row = session.execute(_VARIANT_WITH_ATTEMPTS, {
        "user_id": user_id, "set_id": set_id, "problem_id": problem_id,
        "request_token": request_token}).first()
    if row is None:
        return None, AttemptSummary(0, False)
    summary = AttemptSummary(int(row[3] or 0), bool(row[4]), already_sent=bool(row[5]))
    return StoredVariant(row[0], row[1], row[2]), summary


def token_recorded(session: Session, user_id: int, request_token: str) -> bool:
    """Whether an answer with this idempotency token is stored for the user."""
    return session.scalar(select(func.count(Submission.id)).where(
        Submission.user_id == user_id, Submission.request_token == request_token)) > 0


def submissions_for(session: Session, user_id: int, set_id: str, problem_id: str
                    ) -> Sequence[Submission]:
    """A student's submissions to one problem, oldest first."""
    return session.scalars(select(Submission).where(
        Submission.user_id == user_id, Submission.set_id == set_id,
        Submission.problem_id == problem_id).order_by(Submission.attempt, Submission.id)).all()


def attempt_summary(session: Session, user_id: int, set_id: str, problem_id: str
                    ) -> AttemptSummary:
    """`AttemptSummary` of one student's problem in one aggregate query (no rows loaded)."""
    used, solved = session.execute(
        select(func.count(Submission.id), _ANY_CORRECT)
        .where(Submission.user_id == user_id, Submission.set_id == set_id,
               Submission.problem_id == problem_id)).one()
    return AttemptSummary(int(used or 0), bool(solved))


def set_progress(session: Session, user_id: int, set_id: str) -> dict[str, ProblemProgress]:
    """Per problem id of the set: attempts used, best score and whether it is solved."""
    rows = session.execute(
        select(Submission.problem_id, func.count(Submission.id), func.max(Submission.score))
        .where(Submission.user_id == user_id, Submission.set_id == set_id)
        .group_by(Submission.problem_id)).all()
    return {pid: ProblemProgress(int(n), float(best or 0.0), (best or 0.0) >= 1.0)
            for pid, n, best in rows}


def all_progress(session: Session, user_id: int) -> dict[str, dict[str, ProblemProgress]]:
    """`set_progress` for every set the student has submitted to, keyed by set id."""
    rows = session.execute(
        select(Submission.set_id, Submission.problem_id, func.count(Submission.id),
               func.max(Submission.score))
        .where(Submission.user_id == user_id)
        .group_by(Submission.set_id, Submission.problem_id)).all()
    progress: dict[str, dict[str, ProblemProgress]] = {}
    for set_id, pid, n, best in rows:
        progress.setdefault(set_id, {})[pid] = ProblemProgress(
            int(n), float(best or 0.0), (best or 0.0) >= 1.0)
    return progress


def code_submissions_for(session: Session, user_id: int, exercise: str | None = None
                         ) -> Sequence[CodeSubmission]:
    """A student's code submissions, newest first."""
    query = select(CodeSubmission).where(CodeSubmission.user_id == user_id)
    if exercise is not None:
        query = query.where(CodeSubmission.exercise == exercise)
    return session.scalars(query.order_by(CodeSubmission.id.desc())).all()


def unfinished_code_submissions(session: Session) -> Sequence[CodeSubmission]:
    return session.scalars(select(CodeSubmission).where(
        CodeSubmission.status.in_(("queued", "grading")))).all()


def users_by_role(session: Session, role: str) -> Sequence[User]:
    return session.scalars(select(User).where(User.role == role).order_by(User.username)).all()
