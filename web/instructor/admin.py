"""Course administration in the browser, the one home of its pages: create a course and its join
code, import a roster, make a password reset link, give a student an extension or extra
attempts, remove a student from a course, and name the Canvas assignments its CSV fills.

Every route is behind the staff check (as the instructor pages are), and every route about one
course is for that course's instructors (or a site admin) only, through the course walls of
`web.scope`: `?course=` names the course; a course outside the walls, or a student who is not in
it, is answered 404 as if it did not exist. Teaching assistants see the gradebook, not this.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime

from flask import (
    Blueprint,
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
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from web import scope
from web.auth.accounts import (
    AccountError,
    RosterReport,
    import_roster_report,
    validate_display_name,
)
from web.auth.reset import RESET_VALID, make_reset_token
from web.bank import exercise_title, exercises, get_bank
from web.db import get_session, write_gate
from web.instructor.views import ENTRY_ROLES, NOT_STAFF
from web.lti.outcomes import resend_scores
from web.models import Allowance, CanvasAssignment, Course, Enrollment, User
from web.quiz.allowances import MAX_EXTRA_ATTEMPTS, allowance_for

bp = Blueprint("admin", __name__, url_prefix="/instructor/admin")
JOIN_CODE_RE = re.compile(r"[A-Za-z0-9_-]{4,64}")
MAX_ROSTER_BYTES = 2 * 1024 * 1024
# A roster upload's request: the file (or pasted text) plus the form's few other fields. Other
# requests keep the app's MAX_CONTENT_LENGTH (256 KB), which would refuse a big roster first.
ROSTER_REQUEST_BYTES = MAX_ROSTER_BYTES + 64 * 1024
ROSTER_TOO_LARGE = ("This roster is larger than 2 MB, the most Stride reads in one upload. Please "
                    "split it into several files of at most 2 MB each (for example one per "
                    "section, each starting with the same header row) and upload them one after "
                    "the other.")
NOT_INSTRUCTOR = ("Only the instructors of {course} manage its students and roster. Teaching "
                  "assistants see its gradebook; ask an instructor of the course for changes.")


class AdminError(ValueError):
    """A form on these pages cannot be done as sent; the message says what to change."""


@bp.url_value_preprocessor
def _roster_limits(endpoint, values):
    """The roster upload's own size limits. Set here, before the app's before_request hooks,
    because they read the form already (CSRF, the NUL check): a request beyond the limit gets
    the roster's own sentence, not the generic 256 KB page."""
    if endpoint != "admin.roster" or not _is_staff():
        return  # anyone else keeps the app's 256 KB limit (and is refused by _require_staff)
    request.max_content_length = request.max_form_memory_size = ROSTER_REQUEST_BYTES
    if (request.content_length or 0) > ROSTER_REQUEST_BYTES:
        abort(413, description=ROSTER_TOO_LARGE)


def _is_staff() -> bool:
    return current_user.is_authenticated and (
        current_user.role in ENTRY_ROLES or scope.is_staff(get_session(), current_user))


@bp.before_request
def _require_staff():
    if not current_user.is_authenticated:
        return current_app.login_manager.unauthorized()
    if not _is_staff():
        abort(403, description=NOT_STAFF)
    return None


def _course() -> Course:
    """The `?course=` course, if the signed-in account is its instructor (or an admin)."""
    if "admin_course" in g:
        return g.admin_course
    session = get_session()
    text = request.args.get("course", "")
    if not text:
        abort(404, description="Pick a course from the list of your courses first.")
    try:
        walls = scope.walls_for(session, current_user, text)
    except scope.OutsideWalls as exc:
        abort(404, description=str(exc))
    course = walls.course
    if not _instructs(course):
        abort(403, description=NOT_INSTRUCTOR.format(course=course.name))
    g.admin_course = course
    return course


def _instructs(course: Course) -> bool:
    roles = scope.staff_roles(get_session(), current_user)
    return scope.is_admin(current_user) or roles.get(course.id) == "instructor"


def _student(user_id: int) -> User:
    """A student of this request's course (404 for anyone else, as if they did not exist)."""
    course, session = _course(), get_session()
    if not scope.student_in_courses(session, [course.id], user_id):
        abort(404, description=f"There is no student with the number {user_id} in "
                               f"{course.name}, among your courses.")
    return session.get(User, user_id)


def _students(course: Course) -> list[User]:
    return list(get_session().scalars(
        select(User).join(Enrollment, Enrollment.user_id == User.id)
        .where(Enrollment.course_id == course.id, Enrollment.role == "student")
        .order_by(User.username)))


def _allowances(users: list[User]) -> dict[int, list[Allowance]]:
    if not users:
        return {}
    rows = get_session().scalars(select(Allowance).where(
        Allowance.user_id.in_([u.id for u in users])).order_by(Allowance.set_id))
    found: dict[int, list[Allowance]] = {}
    for row in rows:
        found.setdefault(row.user_id, []).append(row)
    return found


def _course_page(status: int = 200, **extra):
    course = _course()
    students = _students(course)
    sets = sorted(get_bank().sets.values(), key=lambda s: s.id)
    canvas_ids = dict(get_session().execute(
        select(CanvasAssignment.item, CanvasAssignment.assignment_id)
        .where(CanvasAssignment.course_id == course.id)).all())
    return render_template(
        "instructor/admin/course.html", course=course, students=students, sets=sets,
        canvas_items=_canvas_items(), canvas_ids=canvas_ids,
        allowances=_allowances(students), reset_hours=int(RESET_VALID.total_seconds() // 3600),
        max_extra=MAX_EXTRA_ATTEMPTS, **extra), status


def _back():
    return redirect(url_for("admin.course", course=_course().id))


def _commit() -> None:
    with write_gate():
        get_session().commit()


# --- courses ----------------------------------------------------------------------------------

@bp.get("/")
def index():
    """Course staff: the courses they instruct, and (instructor accounts) a new course form."""
    session = get_session()
    mine = [c for c in scope.staff_courses(session, current_user) if _instructs(c)]
    return render_template("instructor/admin/index.html", courses=mine,
                           can_create=current_user.role in ENTRY_ROLES)


@bp.post("/courses")
def create_course():
    """Instructor accounts: a new course (its join code given or made up), with them its
    instructor."""
    if current_user.role not in ENTRY_ROLES:
        abort(403, description="Only instructor accounts create courses. Ask an administrator.")
    session = get_session()
    try:
        name, code = _course_fields(request.form)
        course = Course(name=name, join_code=code)
        session.add(course)
        session.add(Enrollment(user_id=current_user.id, course=course, role="instructor"))
        session.flush()
    except AdminError as exc:
        session.rollback()
        flash(str(exc), "error")
        return render_template("instructor/admin/index.html", can_create=True, form=request.form,
                               courses=[c for c in scope.staff_courses(session, current_user)
                                        if _instructs(c)]), 400
    except IntegrityError:
        session.rollback()
        flash("A course with that name or join code exists already; please choose another.",
              "error")
        return redirect(url_for("admin.index"))
    _commit()
    flash(f"The course {name!r} is created; students join it with the code {code}.", "success")
    return redirect(url_for("admin.course", course=course.id))


def _course_fields(form) -> tuple[str, str]:
    try:
        name = validate_display_name(form.get("name", ""))
    except AccountError as exc:
        raise AdminError(str(exc).replace("Your name", "The course name")) from exc
    if not name:
        raise AdminError("Please give the course a name.")
    session = get_session()
    if session.scalar(select(Course.id).where(Course.name == name)) is not None:
        raise AdminError(f"A course named {name!r} exists already; please choose another name.")
    return name, _join_code_field(form)


def _join_code_field(form, current: str | None = None) -> str:
    """The join code the form asks for (one made up when empty), checked and not in use."""
    code = form.get("join_code", "").strip() or secrets.token_urlsafe(6)
    if code == current:
        raise AdminError("That is the course's join code already; choose another, or leave it "
                         "empty for one made up for you.")
    if not JOIN_CODE_RE.fullmatch(code):
        raise AdminError("A join code is 4 to 64 letters, digits, '-' or '_'; leave it empty "
                         "for one made up for you.")
    if get_session().scalar(select(Course.id).where(Course.join_code == code)) is not None:
        raise AdminError("That join code is used by another course; please choose another.")
    return code


@bp.post("/join-code")
def join_code():
    """The course's instructors: a new join code (given, or made up when empty). The old code
    stops working at once; students already enrolled stay enrolled."""
    course = _course()
    try:
        code = _join_code_field(request.form, course.join_code)
    except AdminError as exc:
        flash(str(exc), "error")
        return _course_page(400)
    course.join_code = code
    try:
        _commit()
    except IntegrityError:
        get_session().rollback()
        flash("That join code is used by another course; please choose another.", "error")
        return _course_page(400)
    flash(f"Students now join {course.name} with the code {code}; the old code no longer "
          "works.", "success")
    return _back()


@bp.get("/course")
def course():
    """The course's instructors: its join code, students, their allowances and the forms."""
    return _course_page()


# --- the roster -------------------------------------------------------------------------------

@bp.post("/roster")
def roster():
    """The course's instructors: enroll a roster (Stride's CSV or Canvas's export)."""
    course = _course()
    upload = request.files.get("roster")
    text = request.form.get("roster_text", "")
    if upload is not None and upload.filename:
        data = upload.read(MAX_ROSTER_BYTES + 1)
        if len(data) > MAX_ROSTER_BYTES:
            return _roster_refused(ROSTER_TOO_LARGE)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return _roster_refused("The roster file is not UTF-8 text. Save it from your "
                                   "spreadsheet as 'CSV UTF-8' and upload it again.")
    if len(text.encode()) > MAX_ROSTER_BYTES:
        return _roster_refused(ROSTER_TOO_LARGE)
    if not text.strip():
        return _roster_refused("Please choose a roster file (CSV) or paste its text.")
    all_or_nothing = request.form.get("mode") == "all"
    session = get_session()
    try:
        report = import_roster_report(session, text, course, all_or_nothing=all_or_nothing,
                                      existing_refused=_taught_elsewhere)
    except AccountError as exc:
        session.rollback()
        return _roster_refused(str(exc))
    _commit()
    g.pop("admin_course", None)
    return _course_page(200 if not report.errors else 422, report=report,
                        summary=_roster_summary(report))


def _taught_elsewhere(student: User) -> str | None:
    """Why a roster may not add this existing account: it is in a course the signed-in account
    does not instruct, and enrolling it would open its answers and code there to them."""
    if not _courses_not_instructed(get_session(), student):
        return None
    return (f"{student.username!r} already has a Stride account in a course you do not teach, "
            "and a roster adds the whole account (with its answers and code there): only a site "
            "administrator can add it to this course.")


def _roster_refused(message: str):
    flash(message, "error")
    return _course_page(400)


def _roster_summary(report: RosterReport) -> str:
    created = sum(1 for e in report.entries if e.created)
    enrolled = len(report.entries) - created
    refused = len(report.errors)
    if report.all_or_nothing and refused:
        return (f"Nothing was imported: {refused} row{'' if refused == 1 else 's'} could not be "
                "(all or nothing was chosen). Fix them and upload the file again.")
    text = (f"Read as a {report.layout} roster: {created} account{'' if created == 1 else 's'} "
            f"created, {enrolled} existing account{'' if enrolled == 1 else 's'} enrolled")
    if refused:
        text += (f"; {refused} row{'' if refused == 1 else 's'} not imported (below). The other "
                 "rows are imported")
    return text + "."


# --- Canvas assignments -----------------------------------------------------------------------

CANVAS_ID_RE = re.compile(r"[0-9]{1,20}")


def _canvas_items() -> list[tuple[str, str]]:
    """(item, title) of everything the Canvas CSV has a column for."""
    sets = sorted(get_bank().sets.values(), key=lambda s: s.id)
    return ([(f"set:{s.id}", s.title) for s in sets]
            + [(f"code:{e}", exercise_title(e)) for e in exercises()])


@bp.post("/canvas")
def canvas():
    """The course's instructors: the Canvas assignment id of each set and code exercise, so its
    Canvas CSV fills those assignments (empty: a new assignment)."""
    course, session = _course(), get_session()
    wanted: dict[str, str] = {}
    for item, title in _canvas_items():
        text = request.form.get(item, "").strip()
        if text and not CANVAS_ID_RE.fullmatch(text):
            flash(f"The Canvas assignment id of {title!r} must be digits only (the number at the "
                  "end of the assignment's address in Canvas), not "
                  f"{text[:30]!r}.", "error")
            return _course_page(400)
        if text:
            wanted[item] = text
    session.execute(delete(CanvasAssignment).where(CanvasAssignment.course_id == course.id))
    session.add_all(CanvasAssignment(course_id=course.id, item=item, assignment_id=ident)
                    for item, ident in wanted.items())
    _commit()
    flash(f"Saved: the Canvas CSV of {course.name} fills {len(wanted)} existing Canvas "
          f"assignment{'' if len(wanted) == 1 else 's'}.", "success")
    return _back()


# --- one student ------------------------------------------------------------------------------

@bp.post("/students/<int:user_id>/reset")
def reset_link(user_id: int):
    """The course's instructors: a one-time password reset link for a student, shown once."""
    student, session = _student(user_id), get_session()
    if student.role != "student" or scope.staff_course_ids(session, student):
        flash(f"{student.username} is also course staff, so their password can only be reset "
              "by a site administrator.", "error")
        return _course_page(403)
    elsewhere = _courses_not_instructed(session, student)
    if elsewhere:
        flash(f"{student.username} is also a student of a course you do not teach, and a reset "
              "link opens the whole account: only a site administrator can reset their "
              "password.", "error")
        return _course_page(403)
    token = make_reset_token(session, student, session.get(User, current_user.id))
    _commit()
    link = url_for("auth.reset", token=token, _external=True)
    return _course_page(reset_for=student, reset_link=link)


def _courses_not_instructed(session, student: User) -> list[int]:
    """Ids of the student's courses the signed-in account does not instruct (none for an admin):
    a reset link there would hand over the student's work in those courses too."""
    if scope.is_admin(current_user):
        return []
    mine = {cid for cid, role in scope.staff_roles(session, current_user).items()
            if role == "instructor"}
    theirs = session.scalars(select(Enrollment.course_id)
                             .where(Enrollment.user_id == student.id)).all()
    return [cid for cid in theirs if cid not in mine]


@bp.post("/students/<int:user_id>/allowance")
def allowance(user_id: int):
    """The course's instructors: a student's later due date and extra attempts on one set.

    An allowance is the student's on that set, in every course of theirs: for a student also in
    a course the signed-in account does not instruct, only a site administrator gives one."""
    student, session = _student(user_id), get_session()
    if _courses_not_instructed(session, student):
        flash(f"{student.username} is also a student of a course you do not teach, and an "
              "allowance holds in all their courses: only a site administrator can change "
              "theirs.", "error")
        return _course_page(403)
    try:
        problem_set, due, extra = _allowance_fields(request.form)
    except AdminError as exc:
        flash(str(exc), "error")
        return _course_page(400)
    row = allowance_for(session, student.id, problem_set.id)
    if due is None and extra == 0:
        if row is not None:
            session.delete(row)
        _commit()
        resend_scores(session, student.id, set_id=problem_set.id)
        flash(f"{student.name} has no extension or extra attempts on {problem_set.title} now.",
              "success")
        return _back()
    if row is None:
        row = Allowance(user_id=student.id, set_id=problem_set.id)
        session.add(row)
    row.due, row.extra_attempts = due, extra
    row.granted_by_id, row.updated_at = current_user.id, datetime.now(UTC)
    try:
        _commit()
    except IntegrityError:  # granted at the same moment from another tab: theirs stands
        session.rollback()
        flash("Someone changed this student's allowance at the same moment; please check it "
              "below and save again if needed.", "info")
        return _back()
    resend_scores(session, student.id, set_id=problem_set.id)
    flash(f"{student.name}: {_allowance_text(due, extra)} on {problem_set.title}.", "success")
    return _back()


def _allowance_fields(form):
    problem_set = get_bank().sets.get(form.get("set_id", ""))
    if problem_set is None:
        raise AdminError("Please pick one of the problem sets.")
    due = None
    text = form.get("due", "").strip()
    if text:
        try:
            due = datetime.fromisoformat(text)
        except ValueError:
            raise AdminError("Please give the new due date as date and time, such as "
                             "2026-12-20T23:59 (UTC).") from None
        due = due.replace(tzinfo=UTC) if due.tzinfo is None else due.astimezone(UTC)
        if not 2000 <= due.year <= 2999:
            raise AdminError("Please give a due date between the years 2000 and 2999.")
        if problem_set.due is None:
            raise AdminError(f"{problem_set.title} has no due date, so there is nothing to "
                             "extend; give extra attempts instead.")
    extra_text = form.get("extra_attempts", "0").strip() or "0"
    if not (extra_text.isascii() and extra_text.isdigit()) or int(extra_text) > MAX_EXTRA_ATTEMPTS:
        raise AdminError(f"Extra attempts are a whole number from 0 to {MAX_EXTRA_ATTEMPTS}.")
    return problem_set, due, int(extra_text)


def _allowance_text(due, extra: int) -> str:
    parts = []
    if due is not None:
        parts.append(f"due {due:%Y-%m-%d %H:%M} UTC")
    if extra:
        parts.append(f"{extra} extra attempt{'' if extra == 1 else 's'} per problem")
    return " and ".join(parts)


@bp.post("/students/<int:user_id>/remove")
def remove(user_id: int):
    """The course's instructors: take a student out of the course (their records are kept)."""
    course, student, session = _course(), _student(user_id), get_session()
    session.execute(delete(Enrollment).where(Enrollment.user_id == student.id,
                                             Enrollment.course_id == course.id,
                                             Enrollment.role == "student"))
    _commit()
    flash(f"{student.name} is no longer in {course.name}. Their account and answers are kept; "
          "they show again if the student rejoins.", "success")
    return _back()
