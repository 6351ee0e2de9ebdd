"""The practice blueprint: no account, a fresh variant on every visit, nothing recorded. The one
home of practice mode and of which problems it withholds.

The variant's seed travels in a signed token (never a plain form field), so the answer is checked
against the same variant the page showed, and the client cannot choose the seed.

Practice never shows a variant of graded work: a problem that is in an open or upcoming graded
set (due in the future, or with no due date) is not offered, to anyone, until every set holding
it is past due. Many templates have only a few distinct variants, so fresh practice variants
with "Show the answer" would otherwise reveal a classmate's (or one's own) graded answer within a
few dozen loads. Instructors can also switch practice off for a problem or a whole set
(`practice: false` in the YAML).
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import UTC, datetime

from flask import Blueprint, abort, current_app, render_template, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from grader.errors import FormatError
from grader.grading import describe_answer
from web.bank import as_utc, find_problem, generate_for, get_bank, is_past_due
from web.db import get_session
from web.quiz import forms
from web.quiz.allowances import latest_extensions
from web.ratelimit import rate_limit
from web.render import format_due, grid_cells, render_prompt

bp = Blueprint("practice", __name__, url_prefix="/practice")
TOKEN_MAX_AGE = 6 * 3600


def graded_now(bank, problem, now: datetime | None = None,
               extended: Mapping[str, datetime] | None = None) -> bool:
    """True while `problem` is in a graded set that is open or upcoming (not yet past due, for
    the set or for any student's extension of it: `extended`, set id -> latest due)."""
    return any(any(i.problem_id == problem.id for i in s.items)
               and not _past_due_for_all(s, now, extended) for s in bank.sets.values())


def _past_due_for_all(problem_set, now: datetime | None, extended) -> bool:
    if not is_past_due(problem_set, now):
        return False
    later = (extended or {}).get(problem_set.id)
    return later is None or (now or datetime.now(UTC)) > later


def withheld_reason(bank, problem, now: datetime | None = None,
                    extended: Mapping[str, datetime] | None = None) -> str | None:
    """Why `problem` is not offered in practice at `now` (a sentence), or None when it is;
    `extended` (set id -> latest extended due date) keeps it withheld while an extension runs."""
    if not problem.practice:
        return "Your instructor has chosen not to offer this problem for practice."
    holding = [s for s in bank.sets.values() if any(i.problem_id == problem.id for i in s.items)]
    if any(not s.practice for s in holding):
        return "Your instructor has chosen not to offer the problems of its set for practice."
    still_open = [s for s in holding if not _past_due_for_all(s, now, extended)]
    if not still_open:
        return None
    running = [s for s in still_open if is_past_due(s, now)]
    if running:
        return (f"Its graded set ({running[0].title}) is past due, but a classmate's extension of "
                "it is still running; it returns to practice once that has passed.")
    undated = [s for s in still_open if s.due is None]
    if undated:
        return (f"It is in a graded set ({undated[0].title}) without a due date, so it is not "
                "offered for practice: practice variants could match graded ones.")
    until = max(as_utc(s.due) for s in still_open)
    return (f"It is in a graded set until {format_due(until)}; it returns to practice once that "
            "set is past due.")


def _offered_problem(problem_id: str):
    """The problem if it is offered in practice now; else a 404 that says why."""
    problem = find_problem(problem_id)
    reason = withheld_reason(get_bank(), problem, datetime.now(UTC),
                             latest_extensions(get_session()))
    if reason is not None:
        abort(404, description=f"{problem.title!r} is not offered for practice right now. "
                               f"{reason}")
    return problem


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="stride-practice")


def _variant(problem, seed: int):
    return generate_for(problem, seed, "practice")


@bp.get("/")
def index():
    """Anyone: the bank's problems by topic, each offered for practice or saying why not."""
    bank, now = get_bank(), datetime.now(UTC)
    extended = latest_extensions(get_session())
    by_topic: dict[str, list] = {}
    for problem in sorted(bank.problems.values(), key=lambda p: (p.topic, p.title)):
        if problem.draft:
            continue  # drafts are for instructors only
        by_topic.setdefault(problem.topic, []).append(
            (problem, withheld_reason(bank, problem, now, extended)))
    return render_template("practice/index.html", by_topic=by_topic)


def _render(problem, seed: int, token: str, status: int = 200, **extra):
    variant = _variant(problem, seed)
    context = {
        "variant": variant, "token": token,
        "prompt_html": render_prompt(variant.prompt),
        "figures": [(f.name, grid_cells(f.matrix)) for f in variant.figures],
        "form": forms.answer_form(variant),
    }
    context.update(extra)
    return render_template("practice/problem.html", **context), status


@bp.get("/<problem_id>")
def problem(problem_id: str):
    """Anyone: a fresh variant of an offered problem, its seed in a signed token."""
    problem = _offered_problem(problem_id)
    seed = secrets.randbits(32)
    token = _serializer().dumps({"p": problem_id, "s": seed})
    return _render(problem, seed, token)


def _token_seed(problem_id: str, token: str) -> int:
    """The seed in a practice page's signed token (400 when forged, expired or foreign)."""
    try:
        data = _serializer().loads(token, max_age=TOKEN_MAX_AGE)
    except BadSignature:
        abort(400, description="This practice page has expired. Open the problem again for a "
                               "fresh variant.")
    if not isinstance(data, dict) or data.get("p") != problem_id \
            or not isinstance(data.get("s"), int):
        abort(400, description="This answer belongs to a different practice problem.")
    return data["s"]


@bp.post("/<problem_id>")
@rate_limit("SUBMIT_RATE_LIMIT")
def check(problem_id: str):
    """Anyone: check (or reveal) the answer to the token's variant; nothing is recorded."""
    problem = _offered_problem(problem_id)  # first: a withheld problem shows nothing at all
    token = request.form.get("token", "")
    seed = _token_seed(problem_id, token)
    variant = _variant(problem, seed)
    if request.form.get("reveal"):
        return _render(problem, seed, token, answer_text=describe_answer(variant),
                       solution_html=forms.solution_html(variant))
    raw = forms.raw_answer(request.form, variant)
    try:
        _parsed, result = forms.check(variant, raw)
    except FormatError as exc:
        return _render(problem, seed, token, 422, format_error=str(exc), raw=raw)
    answer_text = describe_answer(variant) if result.correct else None
    solution = forms.solution_html(variant) if result.correct else None
    return _render(problem, seed, token, result=result, raw=raw, answer_text=answer_text,
                   solution_html=solution)
