"""A student's standing: the one home of progress per problem and per set (attempts used, best
score, solved) and of the set summaries on the home and set pages. Queries take a session and
never commit."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.attempts import AttemptPolicy
from web.bank import as_utc, get_bank, is_past_due
from web.models import Submission


@dataclass(frozen=True)
class ProblemProgress:
    """One student's standing on one problem of a set."""

    attempts_used: int
    best_score: float  # fraction 0..1 of the points: the best score times its attempt's worth
    solved: bool


def item_policy(set_id: str, problem_id: str) -> AttemptPolicy:
    """The attempt policy of one problem of one set (the default one if the set or problem is
    gone from the bank, so old records still count)."""
    problem_set = get_bank().sets.get(set_id)
    if problem_set is not None:
        for item in problem_set.items:
            if item.problem_id == problem_id:
                return item.policy
    return AttemptPolicy()


def best_credits(rows: Iterable[tuple]) -> dict[tuple, tuple[int, float, bool]]:
    """From (key..., attempt, score, correct) rows: per key, (answers, best credit, solved), the
    credit being the score times what its attempt is worth under the set item's policy. The key's
    last two parts are the set id and problem id."""
    found: dict[tuple, list] = {}
    for *key, attempt, score, correct in rows:
        found.setdefault(tuple(key), []).append((int(attempt), float(score or 0.0), bool(correct)))
    out = {}
    for key, answers in found.items():
        policy = item_policy(key[-2], key[-1])
        out[key] = (len(answers), policy.best((a, s) for a, s, _ in answers),
                    any(c for _, _, c in answers))
    return out


def set_progress(session: Session, user_id: int, set_id: str) -> dict[str, ProblemProgress]:
    """Per problem id of the set: attempts used, best credit and whether it is solved."""
    rows = session.execute(
        select(Submission.set_id, Submission.problem_id, Submission.attempt, Submission.score,
               Submission.correct)
        .where(Submission.user_id == user_id, Submission.set_id == set_id)).all()
    return {pid: ProblemProgress(n, best, solved)
            for (_sid, pid), (n, best, solved) in best_credits(rows).items()}


def all_progress(session: Session, user_id: int) -> dict[str, dict[str, ProblemProgress]]:
    """`set_progress` for every set the student has submitted to, keyed by set id."""
    rows = session.execute(
        select(Submission.set_id, Submission.problem_id, Submission.attempt, Submission.score,
               Submission.correct)
        .where(Submission.user_id == user_id)).all()
    progress: dict[str, dict[str, ProblemProgress]] = {}
    for (set_id, pid), (n, best, solved) in best_credits(rows).items():
        progress.setdefault(set_id, {})[pid] = ProblemProgress(n, best, solved)
    return progress


def set_summary(problem_set, progress: dict[str, ProblemProgress], mine=None) -> dict:
    """Points possible and earned, solved and attempted counts, and whether the set is closed
    (for this student: `mine` is their `allowances.Standing`, with any extension)."""
    total = sum(item.points for item in problem_set.items)
    earned = sum(item.points * progress[item.problem_id].best_score
                 for item in problem_set.items if item.problem_id in progress)
    return {
        "set": problem_set,
        "past_due": mine.past_due() if mine is not None else is_past_due(problem_set),
        "standing": mine,
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
