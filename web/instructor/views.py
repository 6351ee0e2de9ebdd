"""The instructor blueprint, the one home of its pages: gradebook, drill-down, statistics, previews, bank reload, regrade, CSV.

Every route of this blueprint is behind the staff check (`_require_staff` runs before each
request to it), so a new route cannot be added unguarded by mistake. Behind it, every page that
shows students' records is kept inside the course walls of `web.scope`: the courses the signed-in
account is staff of (or every course for an admin). Anything outside them is answered 404.
"""

from __future__ import annotations

import os

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user

from grader.errors import FormatError, ProblemSpecError
from grader.grading import describe_answer
from grader.variants import generate
from web import scope
from web.bank import (
    exercise_title,
    exercises,
    find_item,
    find_problem,
    find_set,
    get_bank,
    incidents,
    reload_bank,
    served_digest,
)
from web.db import get_session
from web.instructor import exports, queries, stats
from web.instructor.gradebook import (
    CODE_SORT_PREFIX,
    best_code_scores,
    best_scores,
    gradebook_rows,
    set_points,
    sort_gradebook,
)
from web.instructor.regrade import (
    RegradeRefused,
    regrade_problem,
    reissue_variants,
    undo_run,
)
from web.instructor.regrade import runs as regrade_runs
from web.lti import outcomes
from web.models import Role, User
from web.quiz import forms
from web.quiz.allowances import latest_extensions
from web.quiz.practice import graded_now
from web.quiz.store import seed_for, submissions_for, variant_from_record, variant_record
from web.render import grid_cells, render_prompt

MAX_SHOWN_WARNINGS = 10  # lint warnings flashed after a reload; `grader lint` has them all

bp = Blueprint("instructor", __name__, url_prefix="/instructor")
MAX_SEED = 2**32 - 1
SORT_KEYS = ("name", "total")
# Account roles let in before any course is theirs: an instructor with no course yet sees an
# empty overview that says so; an admin sees every course.
ENTRY_ROLES = (Role.INSTRUCTOR, scope.ADMIN_ROLE)
TRUSTED_ROLES = ENTRY_ROLES  # accounts that never answer graded sets themselves
TA_PREVIEW_REFUSED = ("This problem is in a graded set that is still open, so only instructors can "
                      "preview it: a teaching assistant's account can also answer graded sets. "
                      "Ask an instructor of the course, or preview it once the set is past due.")
NOT_STAFF = ("This page is for instructors only (and the teaching assistants of a course). "
             "If you teach a course here, ask its instructor to add you as staff.")


@bp.before_request
def _require_staff():
    """Anonymous visitors go to sign-in; accounts that are not staff of any course get 403."""
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if current_user.role not in ENTRY_ROLES and not scope.is_staff(get_session(), current_user):
        abort(403, description=NOT_STAFF)
    return None


def _walls() -> scope.Walls:
    """This request's course walls: the user's staff courses, or the one `?course=` picks."""
    if "walls" not in g:
        try:
            g.walls = scope.walls_for(get_session(), current_user,
                                      request.args.get("course", ""))
        except scope.OutsideWalls as exc:
            abort(404, description=str(exc))
    return g.walls


def _sets() -> list:
    return sorted(get_bank().sets.values(), key=lambda s: s.id)


def _my_courses() -> list[dict]:
    """The signed-in member's courses for the overview: course, their role there, students."""
    session, walls = get_session(), _walls()
    roles = scope.staff_roles(session, current_user)
    counts = queries.student_counts(session, [c.id for c in walls.courses])
    return [{"course": c, "role": scope.COURSE_ROLE_NAMES.get(roles.get(c.id, ""), "staff"),
             "students": counts.get(c.id, 0)} for c in walls.courses]


def _dashboard(bank_errors: tuple[str, ...] = (), status: int = 200):
    mine = _my_courses()
    try:
        bank = get_bank()
    except ProblemSpecError as exc:  # no bank has loaded since the server started
        bank_errors = bank_errors or tuple(getattr(exc, "errors", None) or (str(exc),))
        return render_template("instructor/dashboard.html", sets=[], problems=[],
                               n_problems=0, bank_errors=bank_errors, my_courses=mine), 422
    return render_template("instructor/dashboard.html", sets=_sets(), n_problems=len(
        bank.problems), problems=sorted(bank.problems.values(), key=lambda p: (p.topic, p.id)),
        bank_errors=bank_errors, my_courses=mine, version=served_digest(),
        process=os.getpid(), unavailable=bank.unavailable, load_errors=bank.errors,
        incidents=incidents()), status


@bp.get("/")
def dashboard():
    """Course staff: their courses and role in each, the problem sets and the problem bank."""
    return _dashboard()


@bp.post("/bank/reload")
def reload():
    """Course staff: load the YAML problem bank again (nothing changes unless all is valid)."""
    try:
        reloaded = reload_bank(published_by_id=current_user.id)
    except ProblemSpecError as exc:
        return _dashboard(tuple(getattr(exc, "errors", None) or (str(exc),)), 422)
    bank = reloaded.bank
    flash(f"The problem bank was reloaded: {len(bank.problems)} problems in "
          f"{len(bank.sets)} sets.", "success")
    for warning in reloaded.warnings[:MAX_SHOWN_WARNINGS]:
        flash(f"Published, but worth a look: {warning}", "warning")
    if len(reloaded.warnings) > MAX_SHOWN_WARNINGS:
        flash(f"... and {len(reloaded.warnings) - MAX_SHOWN_WARNINGS} more warnings: run "
              "`grader lint` to see them all.", "warning")
    return redirect(url_for("instructor.dashboard"))


def _sort_key(sets, names) -> str:
    key = request.args.get("sort", "name")
    code_keys = {CODE_SORT_PREFIX + name for name in names}
    if key not in SORT_KEYS and key not in {s.id for s in sets} and key not in code_keys:
        return "name"
    return key


@bp.get("/gradebook")
def gradebook():
    """Course staff: the points of every student of their courses (or of `?course=`)."""
    sets, walls, names = _sets(), _walls(), exercises()
    key, descending = _sort_key(sets, names), request.args.get("dir", "asc") == "desc"
    rows = gradebook_rows(get_session(), sets, walls.course_ids, names)
    return render_template("instructor/gradebook.html", sets=sets, sort=key,
                           rows=sort_gradebook(rows, key, descending), descending=descending,
                           course=walls.course, courses=walls.courses, exercises=names,
                           code_prefix=CODE_SORT_PREFIX, exercise_title=exercise_title)


def _student(user_id: int) -> User:
    """The student `user_id` if they are in the request's courses; otherwise 404."""
    user = queries.student(get_session(), _walls().course_ids, user_id)
    if user is None:
        abort(404, description="There is no student with that number in your courses.")
    return user


@bp.get("/students/<int:user_id>")
def student(user_id: int):
    """Course staff: every answer and code submission of one student of their courses."""
    user, ids, session = _student(user_id), _walls().course_ids, get_session()
    submissions = queries.student_submissions(session, ids, user.id)
    by_problem: dict[tuple[str, str], list] = {}
    for sub in submissions:
        by_problem.setdefault((sub.set_id, sub.problem_id), []).append(sub)
    best = best_scores(session, ids, [user.id]).get(user.id, {})
    summaries = [(s, set_points(s, best.get(s.id, {}))) for s in _sets()]
    return render_template("instructor/student.html", user=user, by_problem=by_problem,
                           summaries=summaries, bank=get_bank(),
                           changes=queries.score_changes(session, (s.id for s in submissions)),
                           code=queries.code_submissions(session, ids, user.id),
                           exercises=exercises(), exercise_title=exercise_title,
                           code_best_scores=best_code_scores(session, ids, [user.id])
                           .get(user.id, {}))


@bp.get("/students/<int:user_id>/<set_id>/<problem_id>")
def student_variant(user_id: int, set_id: str, problem_id: str):
    """Course staff: the variant (with its answer) a student of their courses got, if stored."""
    user = _student(user_id)
    problem_set = find_set(set_id)
    item = find_item(problem_set, problem_id)
    session = get_session()
    record = variant_record(session, user.id, set_id, problem_id)
    if record is not None:
        variant, seed = variant_from_record(record), record.seed
    else:  # not opened yet: what they will get
        seed = seed_for(user.id, set_id, problem_id)
        variant = generate(find_problem(problem_id), seed)
    submissions = submissions_for(session, user.id, set_id, problem_id)
    return render_template("instructor/variant.html", **_variant_context(variant),
                           student=user, problem_set=problem_set, item=item, stored=record,
                           submissions=submissions, seed=seed)


def _variant_context(variant) -> dict:
    return {"variant": variant, "prompt_html": render_prompt(variant.prompt),
            "figures": [(f.name, grid_cells(f.matrix)) for f in variant.figures],
            "answer_text": describe_answer(variant), "form": forms.answer_form(variant)}


def _seed_arg() -> int:
    text = request.values.get("seed", "0").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 10 or int(text) > MAX_SEED:
        abort(400, description=f"The seed must be a whole number from 0 to {MAX_SEED}, "
                               f"not {text[:40]!r}.")
    return int(text)


@bp.route("/preview/<problem_id>", methods=["GET", "POST"])
def preview(problem_id: str):
    """Course staff: any bank problem's variant for a chosen seed, to try (nothing recorded).

    A TA's account may also be a student's elsewhere, and sets are shared by every course: a
    problem of an open graded set is previewed by instructor and admin accounts only, or a TA
    could look through the seeds for their own graded variant's answer."""
    seed = _seed_arg()
    problem = find_problem(problem_id)
    if current_user.role not in TRUSTED_ROLES and graded_now(
            get_bank(), problem, extended=latest_extensions(get_session())):
        abort(403, description=TA_PREVIEW_REFUSED)
    variant = generate(problem, seed)
    context = _variant_context(variant)
    if request.method == "POST":
        raw = forms.raw_answer(request.form, variant)
        try:
            _parsed, context["result"] = forms.check(variant, raw)
        except FormatError as exc:
            context["format_error"] = str(exc)
        context["raw"] = raw
    return render_template("instructor/variant.html", seed=seed, **context)


def _problem_card(session, set_id: str, item, course_ids, totals, problems) -> dict:
    attempts = queries.problem_attempts(session, set_id, item.problem_id, course_ids)
    result = stats.problem_stats(attempts, totals)
    return {"item": item, "problem": problems.get(item.problem_id), "stats": result,
            "svg": stats.histogram_svg(result.best_scores)}


@bp.get("/sets/<set_id>/stats")
def set_stats(set_id: str):
    """Course staff: per-problem statistics of one set over the students of their courses."""
    problem_set, walls, session = find_set(set_id), _walls(), get_session()
    ids = walls.course_ids
    best = best_scores(session, ids)
    totals = {u.id: set_points(problem_set, best.get(u.id, {}).get(set_id, {}))
              for u in queries.students(session, ids)}
    problems = get_bank().problems
    cards = [_problem_card(session, set_id, item, ids, totals, problems)
             for item in problem_set.items]
    return render_template("instructor/stats.html", problem_set=problem_set, cards=cards,
                           students=len(totals), course=walls.course, courses=walls.courses,
                           topics=stats.topic_mistakes(cards))


@bp.post("/regrade/<problem_id>")
def regrade(problem_id: str):
    """Course staff: regrade the stored answers to one problem of the students of their courses.

    Without `action` this is a dry run (a page with the scores that would go up, down or stay,
    samples of each, the stored variants the current problem cannot grade and the recorded runs);
    `action=apply` applies it, `action=reissue` re-issues the incompatible variants and
    `action=undo` (with `run`) undoes a recorded run. Every change is recorded (who, when, what)."""
    problem, walls, session = find_problem(problem_id), _walls(), get_session()
    action = request.form.get("action", "")
    if action not in ("", "apply", "reissue", "undo"):
        abort(400, description=f"There is no regrade action {action[:40]!r}: use apply, reissue "
                               "or undo.")
    reason = f"regrade of {problem_id} by {current_user.username}"
    if action == "":
        plan = regrade_problem(session, problem, walls.course_ids, current_user.id, reason)
        return render_template("instructor/regrade.html", plan=plan, problem=problem,
                               names=queries.usernames(session, walls.course_ids),
                               runs=regrade_runs(session, problem_id, walls.course_ids),
                               back=_back_link() or "", course=walls.course)
    if action == "apply":
        plan = regrade_problem(session, problem, walls.course_ids, current_user.id, reason,
                               apply=True)
        text = plan.message() + " Only the answers of students in your courses were regraded."
    elif action == "reissue":
        run = reissue_variants(session, problem, walls.course_ids, current_user.id)
        text = run.summary if run else "There were no stored variants to re-issue."
    else:
        try:
            run = undo_run(session, _run_arg(), walls.course_ids, current_user.id)
        except RegradeRefused as exc:
            abort(409, description=str(exc))
        text = f"Regrade run {run.id} of {problem_id!r} was undone."
    session.commit()
    outcomes.problem_regraded(session, [s.id for s in _sets()
                                        if any(i.problem_id == problem_id for i in s.items)])
    flash(text, "success")
    return redirect(_back_link() or url_for("instructor.dashboard"))


def _run_arg() -> int:
    text = request.form.get("run", "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        abort(400, description=f"The run to undo must be its number, not {text[:40]!r}.")
    return int(text)


def _back_link() -> str | None:
    back = request.form.get("back", "")
    if (back.startswith("/instructor/") and "//" not in back and "\\" not in back
            and back.isprintable()):
        return back
    return None


def _csv(text: str, filename: str) -> Response:
    return Response(text, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@bp.get("/export/<kind>.csv")
def export(kind: str):
    """Course staff: scores, Canvas gradebook or every answer of their courses' students, as CSV."""
    if kind not in exports.KINDS:
        abort(404, description=f"There is no export called {kind!r}.")
    walls = _walls()
    course = walls.course
    name = f"stride-{kind}-course-{course.id}.csv" if course else f"stride-{kind}.csv"
    text = exports.export(get_session(), _sets(), kind, walls.course_ids,
                          section=course.name if course else "")
    return _csv(text, name)
