"""The gradebook: the one home of a gradebook row (points per set, best code scores) and its
sort, built from the course-scoped queries of `web.instructor.queries`. Never commits."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from web.instructor.queries import of_students, students
from web.models import CodeStatus, CodeSubmission, Submission, User
from web.quiz.progress import best_credits

_CORRECT = case((Submission.correct, 1), else_=0)

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
    """One student's line of the gradebook."""

    user: User
    earned: dict[str, float]  # set id -> points earned
    total: float  # the problem sets only
    code: dict[str, CodeBest] = field(default_factory=dict)  # exercise -> best; absent: none


def best_scores(session: Session, course_ids: Sequence[int],
                user_ids: Iterable[int] | None = None) -> BestScores:
    """Each student's (of `course_ids`; of `user_ids` among them) best credit on every problem
    they answered, by set: the best score times what its attempt is worth (the set's policy)."""
    query = (select(Submission.user_id, Submission.set_id, Submission.problem_id,
                    Submission.attempt, func.max(Submission.score), func.max(_CORRECT))
             .where(*of_students(Submission.user_id, course_ids, user_ids))
             .group_by(Submission.user_id, Submission.set_id, Submission.problem_id,
                       Submission.attempt))
    best: BestScores = {}
    for (uid, set_id, pid), (_n, credit, _solved) in best_credits(session.execute(query)).items():
        best.setdefault(uid, {}).setdefault(set_id, {})[pid] = credit
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
             .where(CodeSubmission.status == CodeStatus.DONE.value, CodeSubmission.score.is_not(None),
                    *of_students(CodeSubmission.user_id, course_ids, user_ids))
             .group_by(CodeSubmission.user_id, CodeSubmission.exercise))
    best: dict[int, dict[str, CodeBest]] = {}
    for uid, exercise, score, max_score in session.execute(query):
        best.setdefault(uid, {})[exercise] = CodeBest(float(score), float(max_score or 0.0))
    return best


def gradebook_rows(session: Session, sets: Sequence, course_ids: Sequence[int],
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
