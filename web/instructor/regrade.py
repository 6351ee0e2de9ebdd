"""Regrading: the one home of re-checking the stored answers to one problem against its current
version, with an audit row (`ScoreChange`) for every score that changes. Never commits."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.errors import FormatError, GraderError
from grader.grading import grade_raw
from grader.variants import generate
from web.instructor.queries import of_students
from web.models import ScoreChange, Submission, VariantRecord

_SAME, _CHANGED, _UNREADABLE = "same", "changed", "unreadable"  # one submission's regrade


@dataclass(frozen=True)
class RegradeSummary:
    """What a regrade of one problem did, for the flash message."""

    problem_id: str
    variants: int
    regraded: int
    changed: int
    unreadable: int  # stored answers the current problem can no longer read (left unchanged)
    failed: int = 0  # stored variants the current problem cannot regenerate (left unchanged)

    def message(self) -> str:
        """One sentence for the instructor."""
        text = (f"{self.regraded} submission{'s' if self.regraded != 1 else ''} of "
                f"{self.problem_id!r} regraded, {self.changed} score"
                f"{'s' if self.changed != 1 else ''} changed")
        if self.unreadable:
            text += (f"; {self.unreadable} stored answer{'s' if self.unreadable != 1 else ''} "
                     "could not be read by the current problem and kept their old score")
        if self.failed:
            text += (f"; {self.failed} stored variant{'s' if self.failed != 1 else ''} could not "
                     "be generated from the current problem, so their answers were not regraded")
        return text + "."


def variant_records(session: Session, problem_id: str, course_ids: Sequence[int]
                    ) -> Sequence[VariantRecord]:
    """The stored variants of `problem_id` shown to the students of `course_ids`."""
    return session.scalars(select(VariantRecord).where(
        VariantRecord.problem_id == problem_id,
        *of_students(VariantRecord.user_id, course_ids, None))
        .order_by(VariantRecord.id)).all()


def regrade_problem(session: Session, problem, course_ids: Sequence[int],
                    changed_by_id: int | None, reason: str = "regrade") -> RegradeSummary:
    """Regenerate the stored variants of `problem` shown to the students of `course_ids` from
    their stored seeds, and regrade their answers (nobody else's variant or score is touched).

    Each variant's stored JSON is replaced by the current one; each submission is graded again
    from its raw text, and a `ScoreChange` row keeps the old score whenever the score or the
    verdict changes. Never commits.
    """
    now = datetime.now(UTC)
    regraded = changed = unreadable = failed = 0
    records = variant_records(session, problem.id, course_ids)
    for record in records:
        try:
            variant = generate(problem, int(record.seed))
        except GraderError:
            failed += 1
            continue
        record.variant_json = json.dumps(variant.to_json())
        for sub in record.submissions:
            outcome = _regrade_submission(session, sub, variant, changed_by_id, reason, now)
            if outcome == _UNREADABLE:
                unreadable += 1
            else:
                regraded += 1
                changed += outcome == _CHANGED
    return RegradeSummary(problem.id, len(records), regraded, changed, unreadable, failed)


def _regrade_submission(session: Session, sub: Submission, variant, changed_by_id: int | None,
                        reason: str, now: datetime) -> str:
    """Grade `sub` again; returns _SAME, _CHANGED (a ScoreChange is added) or _UNREADABLE."""
    try:
        result = grade_raw(variant, sub.raw)
    except FormatError:
        return _UNREADABLE
    old_score, old_correct = float(sub.score), bool(sub.correct)
    _apply(sub, result, now)
    if (sub.score, sub.correct) == (old_score, old_correct):
        return _SAME
    session.add(ScoreChange(submission_id=sub.id, old_score=old_score, new_score=sub.score,
                            old_correct=old_correct, new_correct=sub.correct, reason=reason,
                            changed_by_id=changed_by_id))
    return _CHANGED


def _apply(sub: Submission, result, now: datetime) -> None:
    """Store a new grading result on `sub`."""
    sub.score, sub.correct = float(result.score), bool(result.correct)
    sub.mistake, sub.feedback = result.mistake, result.feedback
    sub.read_as = result.read_as or sub.read_as
    sub.regraded_at = now
