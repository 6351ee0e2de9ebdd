"""The instructor's pages: gradebook, drill-down, statistics, previews, bank reload, regrade, CSV.

Every route of this blueprint is behind the instructor role check (`_require_instructor` runs
before each request to it), so a new route cannot be added unguarded by mistake.
"""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from web import answering, exports, stats
from web import instructor_queries as iq
from web.bankaccess import find_item, find_problem, find_set, get_bank, reload_bank, seed_for
from web.bankaccess import variant_from_record as stored_variant
from web.code import exercise_title, exercises
from web.db import get_session
from web.models import Course, User
from web.queries import code_submissions_for, submissions_for, variant_record
from web.render import grid_cells, render_prompt
from web.security import role_required

bp = Blueprint("instructor", __name__, url_prefix="/instructor")
MAX_SEED = 2**32 - 1
SORT_KEYS = ("name", "total")


@bp.before_request
@role_required("instructor")
def _require_instructor():
    return None


def _sets() -> list:
    return sorted(get_bank().sets.values(), key=lambda s: s.id)


def _dashboard(bank_errors: tuple[str, ...] = (), status: int = 200):
    from grader.errors import ProblemSpecError

    try:
        bank = get_bank()
    except ProblemSpecError as exc:  # no bank has loaded since the server started
        bank_errors = bank_errors or tuple(getattr(exc, "errors", None) or (str(exc),))
        return render_template("instructor/dashboard.html", sets=[], problems=[],
                               n_problems=0, bank_errors=bank_errors), 422
    return render_template("instructor/dashboard.html", sets=_sets(), n_problems=len(
        bank.problems), problems=sorted(bank.problems.values(), key=lambda p: (p.topic, p.id)),
        bank_errors=bank_errors), status


@bp.get("/")
def dashboard():
    return _dashboard()


@bp.post("/bank/reload")
def reload():
    from grader.errors import ProblemSpecError

    try:
        bank = reload_bank()
    except ProblemSpecError as exc:
        return _dashboard(tuple(getattr(exc, "errors", None) or (str(exc),)), 422)
    flash(f"The problem bank was reloaded: {len(bank.problems)} problems in "
          f"{len(bank.sets)} sets.", "success")
    return redirect(url_for("instructor.dashboard"))


def _course():
    """The course chosen by the `course` query parameter (None: every student)."""
    text = request.args.get("course", "")
    if not text:
        return None
    course = get_session().get(Course, int(text)) if text.isdigit() else None
    if course is None:
        abort(404, description=f"There is no course with the number {text[:40]!r}.")
    return course


@bp.get("/gradebook")
def gradebook():
    sets, course, names = _sets(), _course(), exercises()
    key = request.args.get("sort", "name")
    code_keys = {iq.CODE_SORT_PREFIX + name for name in names}
    if key not in SORT_KEYS and key not in {s.id for s in sets} and key not in code_keys:
        key = "name"
    descending = request.args.get("dir", "asc") == "desc"
    session = get_session()
    rows = iq.gradebook(session, sets, course.id if course else None, names)
    return render_template("instructor/gradebook.html", sets=sets, sort=key,
                           rows=iq.sort_gradebook(rows, key, descending), descending=descending,
                           course=course, courses=iq.courses(session), exercises=names,
                           code_prefix=iq.CODE_SORT_PREFIX, exercise_title=exercise_title)


def _student(user_id: int) -> User:
    user = get_session().get(User, user_id)
    if user is None:
        abort(404, description="There is no account with that number.")
    return user


@bp.get("/students/<int:user_id>")
def student(user_id: int):
    user = _student(user_id)
    session = get_session()
    submissions = iq.student_submissions(session, user.id)
    by_problem: dict[tuple[str, str], list] = {}
    for sub in submissions:
        by_problem.setdefault((sub.set_id, sub.problem_id), []).append(sub)
    best = iq.best_scores(session, [user.id]).get(user.id, {})
    summaries = [(s, iq.set_points(s, best.get(s.id, {}))) for s in _sets()]
    return render_template("instructor/student.html", user=user, by_problem=by_problem,
                           summaries=summaries, bank=get_bank(),
                           changes=iq.score_changes(session, (s.id for s in submissions)),
                           code=code_submissions_for(session, user.id), exercises=exercises(),
                           exercise_title=exercise_title,
                           code_best_scores=iq.best_code_scores(session, [user.id]).get(user.id, {}))


@bp.get("/students/<int:user_id>/<set_id>/<problem_id>")
def student_variant(user_id: int, set_id: str, problem_id: str):
    from grader.variants import generate

    user = _student(user_id)
    problem_set = find_set(set_id)
    item = find_item(problem_set, problem_id)
    session = get_session()
    record = variant_record(session, user.id, set_id, problem_id)
    if record is not None:
        variant, seed = stored_variant(record), record.seed
    else:  # not opened yet: what they will get
        seed = seed_for(user.id, set_id, problem_id)
        variant = generate(find_problem(problem_id), seed)
    submissions = submissions_for(session, user.id, set_id, problem_id)
    return render_template("instructor/variant.html", **_variant_context(variant),
                           student=user, problem_set=problem_set, item=item, stored=record,
                           submissions=submissions, seed=seed)


def _variant_context(variant) -> dict:
    from grader.grading import describe_answer

    return {"variant": variant, "prompt_html": render_prompt(variant.prompt),
            "figures": [(f.name, grid_cells(f.matrix)) for f in variant.figures],
            "answer_text": describe_answer(variant), "form": answering.answer_form(variant)}


def _seed_arg() -> int:
    text = request.values.get("seed", "0").strip()
    if not text.isdigit() or int(text) > MAX_SEED:
        abort(400, description=f"The seed must be a whole number from 0 to {MAX_SEED}, "
                               f"not {text[:40]!r}.")
    return int(text)


@bp.route("/preview/<problem_id>", methods=["GET", "POST"])
def preview(problem_id: str):
    from grader.errors import FormatError
    from grader.variants import generate

    seed = _seed_arg()
    variant = generate(find_problem(problem_id), seed)
    context = _variant_context(variant)
    if request.method == "POST":
        raw = answering.raw_answer(request.form, variant)
        try:
            _parsed, context["result"] = answering.check(variant, raw)
        except FormatError as exc:
            context["format_error"] = str(exc)
        context["raw"] = raw
    return render_template("instructor/variant.html", seed=seed, **context)


@bp.get("/sets/<set_id>/stats")
def set_stats(set_id: str):
    problem_set, course = find_set(set_id), _course()
    course_id = course.id if course else None
    session = get_session()
    best = iq.best_scores(session)
    totals = {u.id: iq.set_points(problem_set, best.get(u.id, {}).get(set_id, {}))
              for u in iq.students(session, course_id)}
    problems = get_bank().problems
    cards = []
    for item in problem_set.items:
        attempts = iq.problem_attempts(session, set_id, item.problem_id, course_id)
        result = stats.problem_stats(attempts, totals)
        cards.append({"item": item, "problem": problems.get(item.problem_id), "stats": result,
                      "svg": stats.histogram_svg(result.best_scores)})
    return render_template("instructor/stats.html", problem_set=problem_set, cards=cards,
                           students=len(totals), course=course, courses=iq.courses(session))


@bp.post("/regrade/<problem_id>")
def regrade(problem_id: str):
    problem = find_problem(problem_id)
    session = get_session()
    summary = iq.regrade_problem(session, problem, current_user.id,
                                 reason=f"regrade of {problem_id} by {current_user.username}")
    session.commit()
    flash(summary.message(), "success")
    back = request.form.get("back", "")
    if back.startswith("/instructor/") and "//" not in back:
        return redirect(back)
    return redirect(url_for("instructor.dashboard"))


def _csv(text: str, filename: str) -> Response:
    return Response(text, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get("/export/<kind>.csv")
def export(kind: str):
    if kind not in exports.KINDS:
        abort(404, description=f"There is no export called {kind!r}.")
    course = _course()
    name = f"stride-{kind}-course-{course.id}.csv" if course else f"stride-{kind}.csv"
    return _csv(exports.export(get_session(), _sets(), kind, course), name)
