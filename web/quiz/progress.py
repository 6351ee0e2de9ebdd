"""A student's standing: the one home of progress per problem and per set (attempts used, best
score, solved) and of the set summaries on the home and set pages. Queries take a session and
never commit."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from web.bank import as_utc, is_past_due
from web.models import Submission


@dataclass(frozen=True)
class ProblemProgress:
    """One student's standing on one problem of a set."""

    attempts_used: int
    best_score: float  # fraction 0..1
    solved: bool


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


def set_summary(problem_set, progress: dict[str, ProblemProgress]) -> dict:
    """Points possible and earned, solved and attempted counts, and whether the set is closed."""
    total = sum(item.points for item in problem_set.items)
    earned = sum(item.points * progress[item.problem_id].best_score
                 for item in problem_set.items if item.problem_id in progress)
    return {
        "set": problem_set,
        "past_due": is_past_due(problem_set),
        "total_points": total,
        "earned": earned,
        "solved": sum(1 for p in progress.values() if p.solved),
        "attempted": len(progress),
    }


def due_order(problem_set):
    """Open sets by due date (soonest first), then sets without one, then closed sets."""
    due = as_utc(problem_set.due)
    if due is None:
        return (1, 0.0, problem_set.id)
    if is_past_due(problem_set):
        return (2, -due.timestamp(), problem_set.id)
    return (0, due.timestamp(), problem_set.id)
