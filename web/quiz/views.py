"""The graded quiz blueprint ("student"): home, a problem set, a problem with its answer form and
history, and the answer POST. The one home of the graded pages' views."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from grader.attempts import next_attempt_note
from grader.errors import FormatError
from grader.grading import describe_answer
from web.bank import find_item, find_set, get_bank, visible_sets
from web.db import get_session, write_gate
from web.lti import outcomes
from web.models import Submission
from web.quiz import forms
from web.quiz.allowances import Standing, allowances_of, standing, standing_for
from web.quiz.forms import solution_html
from web.quiz.progress import all_progress, due_order, set_progress, set_summary
from web.quiz.store import (
    AttemptSummary,
    get_or_create_variant,
    retired_versions,
    submissions_for,
    token_recorded,
    variant_and_attempts,
)
from web.ratelimit import rate_limit
from web.render import grid_cells, render_prompt

bp = Blueprint("student", __name__)
# A Core INSERT on the table, built once (the ORM's bulk path costs more per answer than the SQL).
_INSERT_SUBMISSION = insert(Submission.__table__)


@bp.get("/")
@login_required
def home():
    """Signed-in users: every problem set, open ones first, with their own progress."""
    session = get_session()
    progress = all_progress(session, current_user.id)
    allowances = allowances_of(session, current_user.id)
    sets = sorted(visible_sets(), key=due_order)
    summaries = [set_summary(s, progress.get(s.id, {}), standing(s, allowances.get(s.id)))
                 for s in sets]
    return render_template("student/home.html", summaries=summaries)


@bp.get("/sets/<set_id>")
@login_required
def problem_set(set_id: str):
    """Signed-in users: one set's problems with their own attempts and best scores."""
    problem_set = find_set(set_id)
    session = get_session()
    progress = set_progress(session, current_user.id, set_id)
    mine = standing_for(session, current_user.id, problem_set)
    problems = get_bank().problems
    rows = [(item, problems.get(item.problem_id), progress.get(item.problem_id),
             mine.policy(item)) for item in problem_set.items]
    return render_template("student/set.html", problem_set=problem_set, rows=rows,
                           summary=set_summary(problem_set, progress, mine), standing=mine)


def _problem_context(problem_set, item, variant, submissions, mine: Standing,
                     retired=()) -> dict:
    policy = mine.policy(item)
    used = len(submissions)
    solved = any(s.correct for s in submissions)
    past_due = mine.past_due()
    reveal = used >= policy.attempts or past_due
    answer_text = describe_answer(variant) if reveal else None
    latest = submissions[-1] if submissions else None
    is_open = not (solved or reveal)
    return {
        "problem_set": problem_set, "item": item, "variant": variant, "policy": policy,
        "standing": mine,
        "prompt_html": render_prompt(variant.prompt),
        "figures": [(f.name, grid_cells(f.matrix)) for f in variant.figures],
        "form": forms.answer_form(variant), "submissions": submissions,
        "retired": [(v, render_prompt(v.prompt)) for v in retired],
        "request_token": forms.new_request_token(),
        "used": used, "solved": solved, "past_due": past_due,
        "open": is_open, "answer_text": answer_text,
        "solution_html": solution_html(variant) if reveal else None,
        "latest": latest,
        "latest_earned": policy.credit(latest.attempt, latest.score) * item.points
        if latest else None,
        "next_note": next_attempt_note(policy, used, item.points) if is_open else "",
        # what was typed or ticked last stays in the form (a 4x4 matrix is not retyped)
        "raw": latest.raw if latest is not None and is_open else "",
    }


@bp.get("/sets/<set_id>/<problem_id>")
@login_required
def problem(set_id: str, problem_id: str):
    """Signed-in users: their own variant of a problem (stored when first shown) and answers."""
    problem_set = find_set(set_id)
    item = find_item(problem_set, problem_id)
    session = get_session()
    _record, variant = get_or_create_variant(session, current_user.id, set_id, problem_id)
    submissions = submissions_for(session, current_user.id, set_id, problem_id)
    mine = standing_for(session, current_user.id, problem_set)
    retired = retired_versions(session, current_user.id, set_id, problem_id)
    return render_template("student/problem.html", **_problem_context(
        problem_set, item, variant, submissions, mine, retired))


def _closed_reason(item, summary: AttemptSummary, mine: Standing) -> str | None:
    if mine.past_due():
        return "The due date has passed, so this problem no longer takes answers."
    if summary.solved:
        return "You have already solved this problem; nothing more to submit."
    if summary.used >= mine.policy(item).attempts:
        attempts = mine.policy(item).attempts
        return f"You have used all {attempts} attempt{'' if attempts == 1 else 's'} on this problem."
    return None


@bp.post("/sets/<set_id>/<problem_id>")
@login_required
@rate_limit("SUBMIT_RATE_LIMIT")
def submit(set_id: str, problem_id: str):
    """Signed-in users: grade and record one answer (a format error is shown, never recorded)."""
    problem_set = find_set(set_id)
    item = find_item(problem_set, problem_id)
    token = forms.request_token(request.form)
    if token is None:
        abort(400, description="This answer form is incomplete or out of date, so nothing was "
                               "recorded. Please reload the page and send your answer again.")
    session = get_session()
    record, variant, summary = variant_and_attempts(session, current_user.id, set_id, problem_id,
                                                    token)
    here = url_for("student.problem", set_id=set_id, problem_id=problem_id)
    if summary.already_sent:  # the same form again: its answer is recorded, show its result
        return redirect(here + "#result")
    mine = standing_for(session, current_user.id, problem_set)
    reason = _closed_reason(item, summary, mine)
    if reason:
        flash(reason, "info")
        return redirect(here)
    raw = forms.raw_answer(request.form, variant)
    try:
        parsed, result = forms.check(variant, raw, item.points)
    except FormatError as exc:
        submissions = submissions_for(session, current_user.id, set_id, problem_id)
        retired = retired_versions(session, current_user.id, set_id, problem_id)
        context = _problem_context(problem_set, item, variant, submissions, mine, retired)
        context["raw"] = raw
        return render_template("student/problem.html", format_error=str(exc), **context), 422
    row = dict(
        user_id=current_user.id, set_id=set_id, problem_id=problem_id, variant_id=record.id,
        seed=record.seed, attempt=summary.used + 1, raw=raw,
        parsed_json=forms.to_json_text(parsed.value), read_as=result.read_as or parsed.read_as,
        correct=bool(result.correct), score=float(result.score), mistake=result.mistake,
        feedback=result.feedback, request_token=token, created_at=datetime.now(UTC))
    return _record(session, row, here)


def _record(session, row: dict, here: str):
    """Store one graded answer (once per form token) and send the student to its result."""
    try:
        with write_gate():
            session.execute(_INSERT_SUBMISSION, row)
            session.commit()
    except IntegrityError:  # a concurrent copy of this form, or another answer, got in first
        session.rollback()
        if token_recorded(session, row["user_id"], row["request_token"]):
            return redirect(here + "#result")  # this very form: its answer is the one recorded
        flash("Another answer to this problem was recorded at the same moment (from another tab?), "
              "so this one was not: your recorded answers are on this page; answer again if you "
              "have attempts left.", "info")
        return redirect(here)
    outcomes.score_changed(session, row["user_id"], set_id=row["set_id"])  # to the LMS, if linked
    # No flash here: the page's result block says "recorded", so a POST leaves the session cookie
    # alone (no rewrite per answer) and the acknowledgement cannot pile up unread in the cookie.
    return redirect(here + "#result")
