"""The code-exercise blueprint: the one home of its pages: upload or paste an implementation,
have it graded in the background, follow its status, read its report and history."""

from __future__ import annotations

import json
import re
import secrets

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from grader.code import student_view
from grader.code.source import decode_submission, read_submission
from grader.errors import NotText, StudentCodeError
from web.bank import exercise_title, exercises
from web.code.backend import get_pool, queue_place
from web.code.task import (
    UNFINISHED,
    WAITING_MESSAGE,
    code_submissions_for,
    release_next,
    waits_behind,
)
from web.db import get_session
from web.models import CodeStatus, CodeSubmission, Role
from web.ratelimit import rate_limit
from web.scope import can_see_student

bp = Blueprint("code", __name__, url_prefix="/code")

# The form's idempotency token: `secrets.token_urlsafe(32)` gives 43 such characters.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{22,64}")
TOKEN_MESSAGE = ("This form is missing its submission token (or it was changed), so we cannot tell "
                 "whether it was already sent. Reload the exercise page and submit your code again.")
NOT_FOUND = "There is no code submission with that number among the ones you can see."


def _require_exercise(name: str) -> None:
    if name not in exercises():
        abort(404, description=f"There is no code exercise called {name!r}.")


def _own_submission(submission_id: int) -> CodeSubmission:
    """The submission if it is the current user's, or of a student in a course they are staff
    of (the course walls, `web.scope`); otherwise 404, not 403, as if it did not exist."""
    session = get_session()
    row = session.get(CodeSubmission, submission_id)
    if row is None or (row.user_id != current_user.id
                       and not can_see_student(session, current_user, row.user_id)):
        abort(404, description=NOT_FOUND)
    return row


@bp.get("/")
@login_required
def index():
    """Signed-in users: the exercises and their own code submissions."""
    history = code_submissions_for(get_session(), current_user.id)
    return render_template("code/index.html", exercises=exercises(), history=history,
                           title_of=exercise_title)


@bp.get("/<exercise>/starter.py")
@login_required
def starter(exercise: str):
    """Signed-in users: the exercise file to fill in, as a download."""
    _require_exercise(exercise)
    return send_from_directory(current_app.config["EXERCISES_DIR"], f"{exercise}.py",
                               as_attachment=True, mimetype="text/x-python")


@bp.get("/<exercise>")
@login_required
def exercise(exercise: str):
    """Signed-in users: one exercise's submission form and their own submissions to it."""
    _require_exercise(exercise)
    history = code_submissions_for(get_session(), current_user.id, exercise)
    return render_template("code/exercise.html", exercise=exercise,
                           title=exercise_title(exercise), history=history,
                           request_token=secrets.token_urlsafe(32))


def _read_source() -> tuple[str | None, str | None, str | None]:
    """(source, filename, error) from an uploaded file or the paste box."""
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        data = upload.read()
        try:
            # UTF-16 (PowerShell) and cp1252 (Windows editors) are read too; a notebook is
            # stored as its code cells, so a regrade reads the same program.
            decoded = decode_submission(data)
            source = read_submission(decoded.text, upload.filename)
        except NotText:
            return None, None, ("That file is not UTF-8 text. Please upload the .py file or the "
                                ".ipynb notebook itself (not an archive).")
        except StudentCodeError as err:
            return None, None, f"{upload.filename[:80]}: {err}"
        except Exception:  # a backstop: a file this reader fails on is refused, never a 500
            current_app.logger.exception("an upload for %s could not be read", request.path)
            return None, None, ("We could not read that file, and nothing was recorded; this has "
                                "been logged for the course staff. Please upload your .py file "
                                "(or paste your code) instead.")
        if decoded.note:
            flash(decoded.note, "warning")
        # Only shown, never a path: control characters (a terminal's escapes) are dropped; a NUL
        # is kept so that the check below refuses the file.
        name = "".join(c for c in upload.filename if c.isprintable() or c == "\x00")
        return source, name[:255], None
    source = request.form.get("source", "")
    if not source.strip():
        return None, None, "Please choose a .py or .ipynb file or paste your code before submitting."
    return source, None, None


@bp.post("/<exercise>")
@login_required
@rate_limit("CODE_RATE_LIMIT")
def submit(exercise: str):
    """Signed-in users: store an uploaded or pasted implementation once and queue its grading."""
    _require_exercise(exercise)
    source, filename, error = _read_source()
    if not error and ("\x00" in source or "\x00" in (filename or "")):
        error = ("That file contains a NUL character (\\0), so it is not a Python source file. "
                 "Please upload the .py or .ipynb file itself.")
    if error:
        flash(error, "error")
        return redirect(url_for("code.exercise", exercise=exercise))
    token = request.form.get("request_token", "")
    if not TOKEN_PATTERN.fullmatch(token):
        abort(400, description=TOKEN_MESSAGE)
    session = get_session()
    row, created = _store_once(session, CodeSubmission(
        user_id=current_user.id, exercise=exercise, filename=filename, source=source,
        status=CodeStatus.QUEUED.value, request_token=token))
    if not created:
        flash("This form was already sent: here is that submission. To submit new code, "
              "reload the exercise page first.", "success")
        return redirect(url_for("code.submission", submission_id=row.id))
    _dispatch(session, row)
    flash("Your code was received and is being graded." if row.heartbeat_at else
          "Your code was received.", "success")
    return redirect(url_for("code.submission", submission_id=row.id))


def _by_token(session, token: str) -> CodeSubmission | None:
    return session.scalar(select(CodeSubmission).where(
        CodeSubmission.user_id == current_user.id, CodeSubmission.request_token == token))


def _store_once(session, row: CodeSubmission) -> tuple[CodeSubmission, bool]:
    """(row, True) once stored, or (the row stored earlier with the same token, False)."""
    earlier = _by_token(session, row.request_token)
    if earlier is not None:
        return earlier, False
    session.add(row)
    try:
        session.commit()
    except IntegrityError:  # the same form, posted twice at once: the other request stored it
        session.rollback()
        earlier = _by_token(session, row.request_token)
        if earlier is None:
            raise
        return earlier, False
    return row, True


def _dispatch(session, row: CodeSubmission) -> None:
    """Hand the student's next submission to this exercise to the graders, unless an earlier
    one is still in flight (its finish then starts the next)."""
    released = release_next(session, row.user_id, row.exercise)
    session.commit()
    if released is not None:
        get_pool(current_app).submit(released)
    session.refresh(row)


@bp.get("/submissions/<int:submission_id>")
@login_required
def submission(submission_id: int):
    """Its author or their course's staff: one code submission's report (or place in line)."""
    row = _own_submission(submission_id)
    # The full report (hidden tests' cases and messages) is for instructor and admin accounts
    # only: a TA's account may also be a student's, and exercises are shared by every course.
    staff_view = current_user.role in (Role.INSTRUCTOR, Role.ADMIN)
    report = _report_for(row, staff_view)
    place = _queue_place(row)
    waiting = _waits_behind(row)
    return render_template("code/submission.html", row=row, report=report,
                           place=None if waiting else place, waiting=waiting, staff_view=staff_view,
                           waiting_message=WAITING_MESSAGE, title=exercise_title(row.exercise))


def _report_for(row: CodeSubmission, staff_view: bool) -> dict | None:
    """The stored report (staff form) as this viewer may see it: students never see what a
    hidden test passed in, expected or raised (`grader.code.student_view`)."""
    if not row.report_json:
        return None
    stored = json.loads(row.report_json)
    return stored if staff_view else student_view(stored)


def _waits_behind(row: CodeSubmission) -> bool:
    """True while this submission waits for an earlier one to the same exercise to finish."""
    return row.status == CodeStatus.QUEUED and waits_behind(get_session(), row)


def _queue_place(row: CodeSubmission):
    """Queue depth and this row's place in line while it waits (None once finished)."""
    if row.status not in UNFINISHED:
        return None
    session = get_session()
    place = queue_place(get_pool(current_app), session, row.id)
    session.rollback()  # end this read snapshot: a lost job may just have been marked failed
    session.refresh(row)
    return place if row.status in UNFINISHED else None


@bp.get("/submissions/<int:submission_id>/status")
@login_required
def status(submission_id: int):
    """Its author or their course's staff: the submission's status as JSON, for polling."""
    row = _own_submission(submission_id)
    place = _queue_place(row)
    waiting = _waits_behind(row)
    return jsonify(id=row.id, status=row.status, score=row.score, max_score=row.max_score,
                   done=row.status in (CodeStatus.DONE, CodeStatus.FAILED),
                   queue_depth=place.depth if place else 0,
                   queue_position=place.position if place and not waiting else None,
                   waiting_for_earlier=waiting, message=WAITING_MESSAGE if waiting else None)
