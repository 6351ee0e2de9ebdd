"""Per-student allowances: the one home of what an extension or extra attempts change for a
student (their due date, their attempt policy) and of the queries that read them.

Staff grant them on the course administration pages (`web.instructor.admin`); the quiz pages
read them here. Practice mode withholds a set's problems until every student's extension of it
has passed too, so an extended student's graded variant is never revealed by practice.
Queries take a session and never commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from grader.attempts import AttemptPolicy
from web.bank import as_utc
from web.models import Allowance

MAX_EXTRA_ATTEMPTS = 50


@dataclass(frozen=True)
class Standing:
    """What one student has on one set after any allowance: due date and extra attempts."""

    due: datetime | None
    extra_attempts: int = 0
    extended: bool = False  # the due date is later than the set's own

    def past_due(self, now: datetime | None = None) -> bool:
        return self.due is not None and (now or datetime.now(UTC)) > self.due

    def policy(self, item) -> AttemptPolicy:
        """The set item's attempt policy with this student's extra attempts."""
        return item.policy.with_extra(self.extra_attempts)


def standing(problem_set, allowance: Allowance | None) -> Standing:
    """The student's standing on `problem_set` given their allowance there (or none)."""
    due = as_utc(problem_set.due)
    if allowance is None:
        return Standing(due)
    later = as_utc(allowance.due)
    extended = later is not None and due is not None and later > due
    return Standing(later if extended else due, max(0, allowance.extra_attempts or 0), extended)


def allowance_for(session: Session, user_id: int, set_id: str) -> Allowance | None:
    return session.scalar(select(Allowance).where(Allowance.user_id == user_id,
                                                  Allowance.set_id == set_id))


def allowances_of(session: Session, user_id: int) -> dict[str, Allowance]:
    """A student's allowances by set id."""
    rows = session.scalars(select(Allowance).where(Allowance.user_id == user_id))
    return {a.set_id: a for a in rows}


def standing_for(session: Session, user_id: int, problem_set) -> Standing:
    return standing(problem_set, allowance_for(session, user_id, problem_set.id))


def latest_extensions(session: Session) -> Mapping[str, datetime]:
    """Set id -> the latest extended due date any student has on it."""
    rows = session.execute(select(Allowance.set_id, func.max(Allowance.due))
                           .where(Allowance.due.is_not(None)).group_by(Allowance.set_id))
    return {set_id: as_utc(due) for set_id, due in rows if due is not None}
