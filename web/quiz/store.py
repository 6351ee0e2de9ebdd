"""A student's variants and attempts: the one home of seeds, frozen variants and the attempt
queries of the answer POST.

A student's seed is an HMAC of (user, set, problem) under a server secret, so nobody can pick or
predict it; the client never sends a seed. The variant is stored the first time it is shown
(`VariantRecord`) and always read back from there, so a YAML edit never changes history silently.
Query functions take a session and never commit; `get_or_create_variant` and
`variant_and_attempts` commit only the new variant they create.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from flask import current_app
from sqlalchemy import bindparam, case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from grader.variants import Variant
from web.bank import find_problem, generate_for
from web.db import write_gate
from web.models import RetiredVariant, Submission, VariantRecord

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
    """The student's stored variant of one problem of one set, if it was ever shown."""
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


@dataclass(frozen=True)
class RetiredAttempt:
    """One attempt on a variant that a re-issue took back: what was typed and how it scored."""

    attempt: int
    raw: str
    read_as: str | None
    correct: bool
    score: float
    created_at: datetime


@dataclass(frozen=True)
class RetiredVersion:
    """An earlier variant of a problem that a correction replaced, with the attempts on it."""

    retired_at: datetime
    prompt: str
    attempts: tuple[RetiredAttempt, ...]


def retired_versions(session: Session, user_id: int, set_id: str, problem_id: str
                     ) -> list[RetiredVersion]:
    """The student's earlier versions of one problem (taken back by a re-issue), oldest first:
    their attempts no longer count, but they are the student's record of what happened."""
    rows = session.scalars(select(RetiredVariant).where(
        RetiredVariant.user_id == user_id, RetiredVariant.set_id == set_id,
        RetiredVariant.problem_id == problem_id).order_by(RetiredVariant.id)).all()
    return [RetiredVersion(row.created_at, Variant.from_json(json.loads(row.variant_json)).prompt,
                           tuple(_retired_attempt(a) for a in json.loads(row.submissions_json)))
            for row in rows]


def _retired_attempt(data: dict) -> RetiredAttempt:
    return RetiredAttempt(int(data["attempt"]), str(data["raw"]), data.get("read_as"),
                          bool(data["correct"]), float(data["score"] or 0.0),
                          datetime.fromisoformat(data["created_at"]))


def attempt_summary(session: Session, user_id: int, set_id: str, problem_id: str
                    ) -> AttemptSummary:
    """`AttemptSummary` of one student's problem in one aggregate query (no rows loaded)."""
    used, solved = session.execute(
        select(func.count(Submission.id), _ANY_CORRECT)
        .where(Submission.user_id == user_id, Submission.set_id == set_id,
               Submission.problem_id == problem_id)).one()
    return AttemptSummary(int(used or 0), bool(solved))


def seed_for(user_id: int, set_id: str, problem_id: str) -> int:
    """A 32-bit seed from HMAC-SHA256 of the user, set and problem under the seed secret."""
    secret = current_app.config.get("SEED_SECRET") or current_app.config["SECRET_KEY"]
    message = f"{user_id}:{set_id}:{problem_id}".encode()
    digest = hmac.new(str(secret).encode(), message, hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "big")


def variant_from_record(record: VariantRecord | StoredVariant):
    """The frozen `Variant` stored in a record (never regenerated from the YAML)."""
    return Variant.from_json(json.loads(record.variant_json))


def get_or_create_variant(session: Session, user_id: int, set_id: str, problem_id: str):
    """(record, variant) for this student's problem, generating and committing it when new."""
    record = variant_record(session, user_id, set_id, problem_id)
    if record is None:
        record = _create_variant(session, user_id, set_id, problem_id)
    return record, variant_from_record(record)


def variant_and_attempts(session: Session, user_id: int, set_id: str, problem_id: str,
                         request_token: str | None = None):
    """(record, variant, AttemptSummary): `get_or_create_variant` plus the attempts used (and
    whether `request_token` is already recorded)."""
    record, summary = variant_with_attempts(session, user_id, set_id, problem_id,
                                                    request_token)
    if record is None:
        record = _create_variant(session, user_id, set_id, problem_id)
        summary = attempt_summary(session, user_id, set_id, problem_id)
    return record, variant_from_record(record), summary


def _create_variant(session: Session, user_id: int, set_id: str, problem_id: str
                    ) -> VariantRecord:
    seed = seed_for(user_id, set_id, problem_id)
    variant = generate_for(find_problem(problem_id), seed, set_id, user_id)
    record = VariantRecord(user_id=user_id, set_id=set_id, problem_id=problem_id, seed=seed,
                           variant_json=json.dumps(variant.to_json()))
    session.add(record)
    try:
        with write_gate():
            session.commit()
    except IntegrityError:  # a concurrent request stored it first: use theirs
        session.rollback()
        record = variant_record(session, user_id, set_id, problem_id)
    return record
