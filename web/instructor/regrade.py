"""Regrading: the one home of re-checking the stored answers to one problem under its current
grading rules, of re-issuing variants the current problem can no longer grade, and of undoing
either. Never commits.

A regrade never regenerates a stored variant: each answer is checked against the variant the
student saw (its stored parameters, prompt and options), with the expected answer, mistakes and
grading rules of the current problem evaluated on those parameters
(`grader.variants.regraded_variant`). Every regrade is first a plan (`regrade_problem` with
`apply=False`, a dry run: nothing is written); applying it writes a `RegradeRun` with what each
touched row was before, a `ScoreChange` per changed score, and can be undone (`undo_run`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.errors import FormatError
from grader.grading import grade_raw
from grader.variants import IncompatibleVariant, Variant, regraded_variant
from web.instructor.queries import of_students
from web.models import RegradeRun, RetiredVariant, ScoreChange, Submission, VariantRecord

SAMPLES = 5  # submissions shown per kind of change in a dry run


class RegradeRefused(Exception):
    """A run that cannot be undone (or was already); the message says why, for the page."""


@dataclass(frozen=True)
class Rescore:
    """What a regrade does (or would do) to one submission."""

    submission_id: int
    user_id: int
    attempt: int
    raw: str
    old_score: float
    new_score: float
    old_correct: bool
    new_correct: bool
    mistake: str | None = None
    feedback: str = ""
    read_as: str = ""

    @property
    def direction(self) -> str:
        """ "up", "down" or "same" (a verdict change at the same score counts as a change)."""
        if self.new_score > self.old_score:
            return "up"
        if self.new_score < self.old_score:
            return "down"
        return "same" if self.new_correct == self.old_correct else (
            "up" if self.new_correct else "down")


@dataclass(frozen=True)
class Incompatible:
    """A stored variant the current problem cannot grade, left alone unless re-issued."""

    record_id: int
    user_id: int
    set_id: str
    submissions: int
    reason: str


@dataclass(frozen=True)
class RegradePlan:
    """The outcome of a regrade of one problem: a dry run until `applied`."""

    problem_id: str
    variants: int
    rescores: tuple[Rescore, ...]
    unreadable: int  # stored answers the current problem can no longer read (left unchanged)
    incompatible: tuple[Incompatible, ...] = ()
    run_id: int | None = None  # the RegradeRun written when applied

    @property
    def applied(self) -> bool:
        return self.run_id is not None

    def of(self, direction: str) -> tuple[Rescore, ...]:
        return tuple(r for r in self.rescores if r.direction == direction)

    @property
    def changed(self) -> int:
        return sum(r.direction != "same" for r in self.rescores)

    def samples(self, direction: str) -> tuple[Rescore, ...]:
        return self.of(direction)[:SAMPLES]

    def message(self) -> str:
        """One sentence for the instructor (what was done, or what would be)."""
        n = len(self.rescores)
        up, down, same = (len(self.of(d)) for d in ("up", "down", "same"))
        verb = "regraded" if self.applied else "would be regraded"
        text = (f"{n} submission{'s' if n != 1 else ''} of {self.problem_id!r} {verb}: "
                f"{up} score{'s' if up != 1 else ''} up, {down} down, {same} the same")
        if self.unreadable:
            text += (f"; {self.unreadable} stored answer{'s' if self.unreadable != 1 else ''} "
                     "could not be read by the current problem and keep their old score")
        if self.incompatible:
            k = len(self.incompatible)
            text += (f"; {k} stored variant{'s' if k != 1 else ''} can no longer be graded by the "
                     "current problem and {} left alone".format("are" if k != 1 else "is"))
        return text + "."


def variant_records(session: Session, problem_id: str, course_ids: Sequence[int]
                    ) -> Sequence[VariantRecord]:
    """The stored variants of `problem_id` shown to the students of `course_ids`."""
    return session.scalars(select(VariantRecord).where(
        VariantRecord.problem_id == problem_id,
        *of_students(VariantRecord.user_id, course_ids, None))
        .order_by(VariantRecord.id)).all()


def regrade_problem(session: Session, problem, course_ids: Sequence[int],
                    changed_by_id: int | None, reason: str = "regrade", apply: bool = False
                    ) -> RegradePlan:
    """Re-check the stored answers to `problem` of the students of `course_ids` (nobody else's
    variant or score is touched) under the current problem's rules.

    With `apply=False` (the default) nothing is written: the plan says how many scores would go
    up, down or stay. With `apply=True` each changed submission gets its new result and a
    `ScoreChange`, each stored variant its corrected answer, and one `RegradeRun` records it all
    with what it replaced. Incompatible stored variants are listed and never touched.
    """
    rescores: list[Rescore] = []
    incompatible: list[Incompatible] = []
    regraded: list[tuple[VariantRecord, Variant]] = []
    unreadable = 0
    records = variant_records(session, problem.id, course_ids)
    for record in records:
        stored = Variant.from_json(json.loads(record.variant_json))
        try:
            variant = regraded_variant(problem, stored)
        except IncompatibleVariant as exc:
            incompatible.append(Incompatible(record.id, record.user_id, record.set_id,
                                             len(record.submissions), str(exc)))
            continue
        regraded.append((record, variant))
        for sub in sorted(record.submissions, key=lambda s: s.attempt):
            rescore = _rescore(sub, variant)
            if rescore is None:
                unreadable += 1
            else:
                rescores.append(rescore)
    plan = RegradePlan(problem.id, len(records), tuple(rescores), unreadable, tuple(incompatible))
    if not apply:
        return plan
    run = _apply_plan(session, plan, regraded, json.dumps(sorted(course_ids)), changed_by_id,
                      reason)
    return RegradePlan(plan.problem_id, plan.variants, plan.rescores, plan.unreadable,
                       plan.incompatible, run.id)


def _rescore(sub: Submission, variant: Variant) -> Rescore | None:
    """What grading `sub` again against `variant` gives (None: the answer cannot be read)."""
    try:
        result = grade_raw(variant, sub.raw)
    except FormatError:
        return None
    return Rescore(sub.id, sub.user_id, sub.attempt, sub.raw, float(sub.score),
                   float(result.score), bool(sub.correct), bool(result.correct),
                   result.mistake, result.feedback, result.read_as or sub.read_as)


def _snapshot(sub: Submission) -> dict:
    return {"id": sub.id, "score": sub.score, "correct": sub.correct, "mistake": sub.mistake,
            "feedback": sub.feedback, "read_as": sub.read_as,
            "regraded_at": sub.regraded_at.isoformat() if sub.regraded_at else None}


def _apply_plan(session: Session, plan: RegradePlan, regraded, scope_json: str,
                changed_by_id: int | None, reason: str) -> RegradeRun:
    now = datetime.now(UTC)
    by_id = {r.submission_id: r for r in plan.rescores}
    undo = {"submissions": [], "variants": []}
    run = RegradeRun(problem_id=plan.problem_id, kind="regrade", summary="",
                     course_ids_json=scope_json, changed_by_id=changed_by_id)
    session.add(run)
    session.flush()
    for record, variant in regraded:
        new_json = json.dumps(variant.to_json())
        if new_json != record.variant_json:
            undo["variants"].append({"id": record.id, "variant_json": record.variant_json})
            record.variant_json = new_json
        for sub in record.submissions:
            rescore = by_id.get(sub.id)
            if rescore is None:
                continue
            undo["submissions"].append(_snapshot(sub))
            _store(session, sub, rescore, now, changed_by_id, f"{reason} (run {run.id})")
    run.summary = RegradePlan(plan.problem_id, plan.variants, plan.rescores, plan.unreadable,
                              plan.incompatible, run.id).message()
    run.undo_json = json.dumps(undo)
    return run


def _store(session: Session, sub: Submission, rescore: Rescore, now: datetime,
           changed_by_id: int | None, reason: str) -> None:
    """Store a new grading result on `sub`, with a ScoreChange when its score or verdict moved."""
    sub.score, sub.correct = rescore.new_score, rescore.new_correct
    sub.mistake, sub.feedback, sub.read_as = rescore.mistake, rescore.feedback, rescore.read_as
    sub.regraded_at = now
    if rescore.direction != "same":
        session.add(ScoreChange(submission_id=sub.id, old_score=rescore.old_score,
                                new_score=rescore.new_score, old_correct=rescore.old_correct,
                                new_correct=rescore.new_correct, reason=reason,
                                changed_by_id=changed_by_id))


def runs(session: Session, problem_id: str, course_ids: Sequence[int]) -> Sequence[RegradeRun]:
    """The recorded regrades and re-issues of `problem_id` within `course_ids`, newest first
    (a run over courses outside them is not listed)."""
    rows = session.scalars(select(RegradeRun).where(RegradeRun.problem_id == problem_id)
                           .order_by(RegradeRun.id.desc())).all()
    allowed = set(course_ids)
    return [r for r in rows if set(json.loads(r.course_ids_json)) <= allowed]


def undo_run(session: Session, run_id: int, course_ids: Sequence[int],
             changed_by_id: int | None) -> RegradeRun:
    """Put back what a regrade run replaced (scores, verdicts, feedback, stored variants), with a
    `ScoreChange` for each score that moves back. Only the newest standing run of a problem can be
    undone, so no later change is overwritten. Raises RegradeRefused with the reason."""
    run = session.get(RegradeRun, run_id)
    if run is None or not set(json.loads(run.course_ids_json)) <= set(course_ids):
        raise RegradeRefused("There is no such regrade in your courses.")
    if run.undone_at is not None:
        raise RegradeRefused(f"Regrade {run.id} of {run.problem_id!r} was already undone.")
    later = session.scalar(select(RegradeRun.id).where(
        RegradeRun.problem_id == run.problem_id, RegradeRun.id > run.id,
        RegradeRun.undone_at.is_(None)))
    if later is not None:
        raise RegradeRefused(f"Regrade {run.id} of {run.problem_id!r} cannot be undone while the "
                             f"later run {later} stands: undo that one first.")
    undo = json.loads(run.undo_json)
    if run.kind == "reissue":
        _undo_reissue(session, run)
    for data in undo.get("variants", ()):
        record = session.get(VariantRecord, data["id"])
        if record is not None:
            record.variant_json = data["variant_json"]
    for data in undo.get("submissions", ()):
        sub = session.get(Submission, data["id"])
        if sub is not None:
            _restore(session, sub, data, run, changed_by_id)
    run.undone_at, run.undone_by_id = datetime.now(UTC), changed_by_id
    return run


def _restore(session: Session, sub: Submission, data: dict, run: RegradeRun,
             changed_by_id: int | None) -> None:
    old_score, old_correct = float(sub.score), bool(sub.correct)
    sub.score, sub.correct = float(data["score"]), bool(data["correct"])
    sub.mistake, sub.feedback, sub.read_as = data["mistake"], data["feedback"], data["read_as"]
    sub.regraded_at = datetime.fromisoformat(data["regraded_at"]) if data["regraded_at"] else None
    if (old_score, old_correct) != (sub.score, sub.correct):
        session.add(ScoreChange(submission_id=sub.id, old_score=old_score, new_score=sub.score,
                                old_correct=old_correct, new_correct=sub.correct,
                                reason=f"undo of regrade run {run.id}",
                                changed_by_id=changed_by_id))


def reissue_variants(session: Session, problem, course_ids: Sequence[int],
                     changed_by_id: int | None) -> RegradeRun | None:
    """Take back the stored variants of `problem` (students of `course_ids`) that the current
    problem cannot grade: each with its attempts moves to `RetiredVariant` (kept as history), so
    the student's next visit gets a new variant of the current problem, with fresh attempts.
    Returns the recorded run (None when there was nothing to re-issue)."""
    plan = regrade_problem(session, problem, course_ids, changed_by_id)
    if not plan.incompatible:
        return None
    run = RegradeRun(problem_id=problem.id, kind="reissue", undo_json="{}",
                     course_ids_json=json.dumps(sorted(course_ids)), changed_by_id=changed_by_id,
                     summary=f"{len(plan.incompatible)} stored variant"
                             f"{'s' if len(plan.incompatible) != 1 else ''} of {problem.id!r} "
                             "re-issued (the old attempts are kept in the history).")
    session.add(run)
    session.flush()
    for item in plan.incompatible:
        record = session.get(VariantRecord, item.record_id)
        subs = sorted(record.submissions, key=lambda s: s.attempt)
        session.add(RetiredVariant(run_id=run.id, user_id=record.user_id, set_id=record.set_id,
                                   problem_id=record.problem_id, seed=record.seed,
                                   variant_json=record.variant_json,
                                   submissions_json=json.dumps([_retired(s) for s in subs])))
        for sub in subs:
            session.delete(sub)
        session.delete(record)
    return run


_SUBMISSION_COLUMNS = ("set_id", "problem_id", "seed", "attempt", "raw", "parsed_json", "read_as",
                       "correct", "score", "mistake", "feedback", "request_token")


def _retired(sub: Submission) -> dict:
    data = {name: getattr(sub, name) for name in _SUBMISSION_COLUMNS}
    data["user_id"], data["created_at"] = sub.user_id, sub.created_at.isoformat()
    return data


def _undo_reissue(session: Session, run: RegradeRun) -> None:
    """Put re-issued variants back, unless a student has already opened the new one."""
    retired = session.scalars(select(RetiredVariant).where(RetiredVariant.run_id == run.id)).all()
    for old in retired:
        taken = session.scalar(select(VariantRecord.id).where(
            VariantRecord.user_id == old.user_id, VariantRecord.set_id == old.set_id,
            VariantRecord.problem_id == old.problem_id))
        if taken is not None:
            raise RegradeRefused(f"The re-issue {run.id} cannot be undone: a student has already "
                                 "opened the new variant.")
    for old in retired:
        record = VariantRecord(user_id=old.user_id, set_id=old.set_id, problem_id=old.problem_id,
                               seed=old.seed, variant_json=old.variant_json)
        session.add(record)
        session.flush()
        for data in json.loads(old.submissions_json):
            data = dict(data, created_at=datetime.fromisoformat(data["created_at"]))
            session.add(Submission(variant_id=record.id, **data))
        session.delete(old)
