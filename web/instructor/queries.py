"""Queries and the regrade for the instructor's pages. Every function takes a session and never
commits: the view or CLI command that calls it owns the transaction.

Every query over students' records takes the course ids it may cover as a required argument
(from `web.scope`), and keeps to the students enrolled there: there is no "every course"
default, so an unscoped call cannot happen by accident.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from web.models import (
    CodeSubmission,
    Course,
    Enrollment,
    ScoreChange,
    Submission,
    User,
    VariantRecord,
)
from web.scope import student_ids_in, student_in_courses
from web.stats import Attempt

_SAME, _CHANGED, _UNREADABLE = "same", "changed", "unreadable"  # one submission's regrade

# best[user_id][set_id][problem_id] = best score (fraction 0..1)
BestScores = dict[int, dict[str, dict[str, float]]]
CODE_SORT_PREFIX = "code:"  # gradebook sort key of a code exercise column: "code:<exercise>"


@dataclass(frozen=True)
class CodeBest:
    """A student's best graded ("done") submission to one code exercise, in points."""

    score: float
    max_score: float

    @property
    def fraction(self) -> float:
        return self.score / self.max_score if self.max_score else 0.0


@dataclass(frozen=True)
class GradebookRow:
    user: User
    earned: dict[str, float]  # set id -> points earned
    total: float  # the problem sets only
    code: dict[str, CodeBest] = field(default_factory=dict)  # exercise -> best; absent: none


@dataclass(frozen=True)
class RegradeSummary:
    problem_id: str
    variants: int
    regraded: int
    changed: int
    unreadable: int  # stored answers the current problem can no longer read (left unchanged)
    failed: int = 0  # stored variants the current problem cannot regenerate (left unchanged)

    def message(self) -> str:
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


def courses(session: Session, course_ids: Sequence[int]) -> Sequence[Course]:
    """The courses among `course_ids`, by name."""
    return session.scalars(select(Course).where(Course.id.in_(list(course_ids)))
                           .order_by(Course.name)).all()


def students(session: Session, course_ids: Sequence[int]) -> Sequence[User]:
    """The students enrolled (as students) in any of `course_ids`, by username."""
    return session.scalars(select(User).where(User.id.in_(student_ids_in(course_ids)))
                           .order_by(User.username)).all()


def student(session: Session, course_ids: Sequence[int], user_id: int) -> User | None:
    """The account `user_id` when it is a student of one of `course_ids`, else None."""
    if not student_in_courses(session, course_ids, user_id):
        return None
    return session.get(User, user_id)


def student_counts(session: Session, course_ids: Sequence[int]) -> dict[int, int]:
    """Course id -> how many students are enrolled there, for each of `course_ids`."""
    query = (select(Enrollment.course_id, func.count(Enrollment.user_id))
             .where(Enrollment.course_id.in_(list(course_ids)), Enrollment.role == "student")
             .group_by(Enrollment.course_id))
    counts = dict.fromkeys(course_ids, 0)
    counts.update({cid: int(n) for cid, n in session.execute(query)})
    return counts


def usernames(session: Session, course_ids: Sequence[int]) -> dict[int, str]:
    """User id -> username of the students of `course_ids`."""
    query = select(User.id, User.username).where(User.id.in_(student_ids_in(course_ids)))
    return {uid: name for uid, name in session.execute(query)}


def _of_students(column, course_ids: Sequence[int], user_ids: Iterable[int] | None):
    """WHERE clauses keeping `column` (a user id) to the students of `course_ids`, and to
    `user_ids` among them when given."""
    clauses = [column.in_(student_ids_in(course_ids))]
    if user_ids is not None:
        clauses.append(column.in_(list(user_ids)))
    return clauses


def best_scores(session: Session, course_ids: Sequence[int],
                user_ids: Iterable[int] | None = None) -> BestScores:
    """Each student's (of `course_ids`; of `user_ids` among them) best score on every problem
    they answered, by set."""
    query = (select(Submission.user_id, Submission.set_id, Submission.problem_id,
                    func.max(Submission.score))
             .where(*_of_students(Submission.user_id, course_ids, user_ids))
             .group_by(Submission.user_id, Submission.set_id, Submission.problem_id))
    best: BestScores = {}
    for uid, set_id, pid, score in session.execute(query):
        best.setdefault(uid, {}).setdefault(set_id, {})[pid] = float(score or 0.0)
    return best


def set_points(problem_set, best_in_set: Mapping[str, float]) -> float:
    """Points a student earned on a set from their best score per item."""
    return sum(item.points * best_in_set.get(item.problem_id, 0.0) for item in problem_set.items)


def best_code_scores(session: Session, course_ids: Sequence[int],
                     user_ids: Iterable[int] | None = None) -> dict[int, dict[str, CodeBest]]:
    """Each student's (of `course_ids`) best score on every code exercise they have a graded
    submission to.

    Only submissions whose grading finished ("done") count; queued, running and failed ones
    are not scores yet.
    """
    query = (select(CodeSubmission.user_id, CodeSubmission.exercise,
                    func.max(CodeSubmission.score), func.max(CodeSubmission.max_score))
             .where(CodeSubmission.status == "done", CodeSubmission.score.is_not(None),
                    *_of_students(CodeSubmission.user_id, course_ids, user_ids))
             .group_by(CodeSubmission.user_id, CodeSubmission.exercise))
    best: dict[int, dict[str, CodeBest]] = {}
    for uid, exercise, score, max_score in session.execute(query):
        best.setdefault(uid, {})[exercise] = CodeBest(float(score), float(max_score or 0.0))
    return best


def code_submissions(session: Session, course_ids: Sequence[int], user_id: int
                     ) -> Sequence[CodeSubmission]:
    """One student's code submissions, newest first (none unless they are in `course_ids`)."""
    return session.scalars(select(CodeSubmission).where(
        CodeSubmission.user_id == user_id,
        *_of_students(CodeSubmission.user_id, course_ids, None))
        .order_by(CodeSubmission.id.desc())).all()


def gradebook(session: Session, sets: Sequence, course_ids: Sequence[int],
              exercises: Sequence[str] = ()) -> list[GradebookRow]:
    """One row per student of `course_ids` with the points earned on each set.

    With `exercises`, each row also holds the student's best graded score on those code
    exercises (not counted in the total).
    """
    best = best_scores(session, course_ids)
    code = best_code_scores(session, course_ids) if exercises else {}
    rows = []
    for user in students(session, course_ids):
        earned = {s.id: set_points(s, best.get(user.id, {}).get(s.id, {})) for s in sets}
        mine = code.get(user.id, {})
        rows.append(GradebookRow(user, earned, sum(earned.values()),
                                 {e: mine[e] for e in exercises if e in mine}))
    return rows


def sort_gradebook(rows: Sequence[GradebookRow], key: str, descending: bool
                   ) -> list[GradebookRow]:
    """Sort by "name", "total", a set id or "code:<exercise>" (unknown keys sort by name).

    On a code exercise, students who have no graded submission come below a score of 0.
    """
    def value(row: GradebookRow):
        if key == "total":
            return (row.total, row.user.username)
        if key in row.earned:
            return (row.earned[key], row.user.username)
        if key.startswith(CODE_SORT_PREFIX):
            best = row.code.get(key.removeprefix(CODE_SORT_PREFIX))
            return (best.fraction if best else -1.0, row.user.username)
        return (row.user.name.lower(), row.user.username)

    return sorted(rows, key=value, reverse=descending)


def student_submissions(session: Session, course_ids: Sequence[int], user_id: int
                        ) -> Sequence[Submission]:
    """Every submission of one student of `course_ids`, by set, problem and attempt."""
    return session.scalars(select(Submission).where(
        Submission.user_id == user_id, *_of_students(Submission.user_id, course_ids, None))
        .order_by(Submission.set_id, Submission.problem_id, Submission.attempt,
                  Submission.id)).all()


def all_submissions(session: Session, course_ids: Sequence[int]) -> Sequence[Submission]:
    """Every graded answer of the students of `course_ids`, oldest first."""
    return session.scalars(select(Submission)
                           .where(*_of_students(Submission.user_id, course_ids, None))
                           .order_by(Submission.id)).all()


def problem_attempts(session: Session, set_id: str, problem_id: str,
                     course_ids: Sequence[int]) -> list[Attempt]:
    """The submissions to one problem of one set by the students of `course_ids`, as
    `web.stats.Attempt`s."""
    rows = session.scalars(select(Submission).where(
        Submission.set_id == set_id, Submission.problem_id == problem_id,
        *_of_students(Submission.user_id, course_ids, None))
        .order_by(Submission.user_id, Submission.attempt)).all()
    return [Attempt(s.user_id, s.attempt, float(s.score), bool(s.correct),
                    s.read_as or s.raw, s.mistake) for s in rows]


def score_changes(session: Session, submission_ids: Iterable[int]) -> dict[int, list[ScoreChange]]:
    ids = list(submission_ids)
    if not ids:
        return {}
    rows = session.scalars(select(ScoreChange).where(ScoreChange.submission_id.in_(ids))
                           .order_by(ScoreChange.id)).all()
    changes: dict[int, list[ScoreChange]] = {}
    for row in rows:
        changes.setdefault(row.submission_id, []).append(row)
    return changes


def variant_records(session: Session, problem_id: str, course_ids: Sequence[int]
                    ) -> Sequence[VariantRecord]:
    """The stored variants of `problem_id` shown to the students of `course_ids`."""
    return session.scalars(select(VariantRecord).where(
        VariantRecord.problem_id == problem_id,
        *_of_students(VariantRecord.user_id, course_ids, None))
        .order_by(VariantRecord.id)).all()


def regrade_problem(session: Session, problem, course_ids: Sequence[int],
                    changed_by_id: int | None, reason: str = "regrade") -> RegradeSummary:
    """Regenerate the stored variants of `problem` shown to the students of `course_ids` from
    their stored seeds, and regrade their answers (nobody else's variant or score is touched).

    Each variant's stored JSON is replaced by the current one; each submission is graded again
    from its raw text, and a `ScoreChange` row keeps the old score whenever the score or the
    verdict changes. Never commits.
    """
    from grader.errors import GraderError
    from grader.variants import generate

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
    from grader.errors import FormatError
    from grader.grading import grade_raw

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
