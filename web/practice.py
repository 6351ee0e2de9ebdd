"""Practice mode: no account, a fresh variant on every visit, nothing recorded.

The variant's seed travels in a signed token (never a plain form field), so the answer is checked
against the same variant the page showed, and the client cannot choose the seed.
"""

from __future__ import annotations

import secrets

from flask import Blueprint, abort, current_app, render_template, request
from itsdangerous import BadSignature, URLSafeTimedSerializer

from web import answering
from web.bankaccess import find_problem, get_bank
from web.render import grid_cells, render_prompt
from web.security import rate_limit

bp = Blueprint("practice", __name__, url_prefix="/practice")
TOKEN_MAX_AGE = 6 * 3600


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="stride-practice")


def _variant(problem_id: str, seed: int):
    from grader.variants import generate

    return generate(find_problem(problem_id), seed)


@bp.get("/")
def index():
    by_topic: dict[str, list] = {}
    for problem in sorted(get_bank().problems.values(), key=lambda p: (p.topic, p.title)):
        by_topic.setdefault(problem.topic, []).append(problem)
    return render_template("practice/index.html", by_topic=by_topic)


def _render(problem_id: str, seed: int, token: str, status: int = 200, **extra):
    variant = _variant(problem_id, seed)
    context = {
        "variant": variant, "token": token,
        "prompt_html": render_prompt(variant.prompt),
        "figures": [(f.name, grid_cells(f.matrix)) for f in variant.figures],
        "form": answering.answer_form(variant),
    }
    context.update(extra)
    return render_template("practice/problem.html", **context), status


@bp.get("/<problem_id>")
def problem(problem_id: str):
    find_problem(problem_id)
    seed = secrets.randbits(32)
    token = _serializer().dumps({"p": problem_id, "s": seed})
    return _render(problem_id, seed, token)


@bp.post("/<problem_id>")
@rate_limit("SUBMIT_RATE_LIMIT")
def check(problem_id: str):
    from grader.errors import FormatError
    from grader.grading import describe_answer

    token = request.form.get("token", "")
    try:
        data = _serializer().loads(token, max_age=TOKEN_MAX_AGE)
    except BadSignature:
        abort(400, description="This practice page has expired. Open the problem again for a "
                               "fresh variant.")
    if data.get("p") != problem_id:
        abort(400, description="This answer belongs to a different practice problem.")
    variant = _variant(problem_id, int(data["s"]))
    if request.form.get("reveal"):
        return _render(problem_id, data["s"], token, answer_text=describe_answer(variant))
    raw = answering.raw_answer(request.form, variant)
    try:
        _parsed, result = answering.check(variant, raw)
    except FormatError as exc:
        return _render(problem_id, data["s"], token, 422, format_error=str(exc), raw=raw)
    answer_text = describe_answer(variant) if result.correct else None
    return _render(problem_id, data["s"], token, result=result, raw=raw,
                   answer_text=answer_text)
