"""The course-scoped read queries of the instructor's pages: the one home of "which students,
answers and code submissions may this page show". Every function takes a session and never
commits: the view or CLI command that calls it owns the transaction.

Every query over students' records takes the course ids it may cover as a required argument
(from `web.scope`), and keeps to the students enrolled there: there is no "every course"
default, so an unscoped call cannot happen by accident.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from web.instructor.stats import Attempt
from web.models import CodeSubmission, Course, Enrollment, ScoreChange, Submission, User
from web.scope import student_ids_in, student_in_courses


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


def of_students(column, course_ids: Sequence[int], user_ids: Iterable[int] | None):
    """WHERE clauses keeping `column` (a user id) to the students of `course_ids`, and to
    `user_ids` among them when given."""
    clauses = [column.in_(student_ids_in(course_ids))]
    if user_ids is not None:
        clauses.append(column.in_(list(user_ids)))
    return clauses


def code_submissions(session: Session, course_ids: Sequence[int], user_id: int
                     ) -> Sequence[CodeSubmission]:
    """One student's code submissions, newest first (none unless they are in `course_ids`)."""
    return session.scalars(select(CodeSubmission).where(
        CodeSubmission.user_id == user_id,
        *of_students(CodeSubmission.user_id, course_ids, None))
        .order_by(CodeSubmission.id.desc())).all()


def student_submissions(session: Session, course_ids: Sequence[int], user_id: int
                        ) -> Sequence[Submission]:
    """Every submission of one student of `course_ids`, by set, problem and attempt."""
    return session.scalars(select(Submission).where(
        Submission.user_id == user_id, *of_students(Submission.user_id, course_ids, None))
        .order_by(Submission.set_id, Submission.problem_id, Submission.attempt,
                  Submission.id)).all()


def all_submissions(session: Session, course_ids: Sequence[int]) -> Sequence[Submission]:
    """Every graded answer of the students of `course_ids`, oldest first."""
    return session.scalars(select(Submission)
                           .where(*of_students(Submission.user_id, course_ids, None))
                           .order_by(Submission.id)).all()


def problem_attempts(session: Session, set_id: str, problem_id: str,
                     course_ids: Sequence[int]) -> list[Attempt]:
    """The submissions to one problem of one set by the students of `course_ids`, as
    `web.instructor.stats.Attempt`s."""
    rows = session.scalars(select(Submission).where(
        Submission.set_id == set_id, Submission.problem_id == problem_id,
        *of_students(Submission.user_id, course_ids, None))
        .order_by(Submission.user_id, Submission.attempt)).all()
    return [Attempt(s.user_id, s.attempt, float(s.score), bool(s.correct),
                    s.read_as or s.raw, s.mistake) for s in rows]


def score_changes(session: Session, submission_ids: Iterable[int]) -> dict[int, list[ScoreChange]]:
    """Submission id -> its score changes, oldest first."""
    ids = list(submission_ids)
    if not ids:
        return {}
    rows = session.scalars(select(ScoreChange).where(ScoreChange.submission_id.in_(ids))
                           .order_by(ScoreChange.id)).all()
    changes: dict[int, list[ScoreChange]] = {}
    for row in rows:
        changes.setdefault(row.submission_id, []).append(row)
    return changes
