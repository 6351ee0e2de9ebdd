"""Code exercises: upload or paste an implementation, graded in the background, with history."""

from __future__ import annotations

import json

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

from web import queries
from web.db import get_session
from web.jobs import get_pool
from web.models import CodeSubmission
from web.security import rate_limit

bp = Blueprint("code", __name__, url_prefix="/code")


def exercises() -> tuple[str, ...]:
    from grader.codegrade import EXERCISES

    return tuple(EXERCISES)


def exercise_title(name: str) -> str:
    return name.replace("_", " ").capitalize()


def _require_exercise(name: str) -> None:
    if name not in exercises():
        abort(404, description=f"There is no code exercise called {name!r}.")


def _own_submission(submission_id: int) -> CodeSubmission:
    """The submission if it is the current user's (or they teach); otherwise 404, not 403."""
    row = get_session().get(CodeSubmission, submission_id)
    if row is None or (row.user_id != current_user.id and not current_user.is_instructor):
        abort(404, description="There is no code submission with that number among yours.")
    return row


@bp.get("/")
@login_required
def index():
    history = queries.code_submissions_for(get_session(), current_user.id)
    return render_template("code/index.html", exercises=exercises(), history=history,
                           title_of=exercise_title)


@bp.get("/<exercise>/starter.py")
@login_required
def starter(exercise: str):
    """The exercise file to fill in, as a download."""
    _require_exercise(exercise)
    return send_from_directory(current_app.config["EXERCISES_DIR"], f"{exercise}.py",
                               as_attachment=True, mimetype="text/x-python")


@bp.get("/<exercise>")
@login_required
def exercise(exercise: str):
    _require_exercise(exercise)
    history = queries.code_submissions_for(get_session(), current_user.id, exercise)
    return render_template("code/exercise.html", exercise=exercise,
                           title=exercise_title(exercise), history=history)


def _read_source() -> tuple[str | None, str | None, str | None]:
    """(source, filename, error) from an uploaded file or the paste box."""
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        data = upload.read()
        try:
            return data.decode("utf-8"), upload.filename[:255], None
        except UnicodeDecodeError:
            return None, None, ("That file is not UTF-8 text. Please upload the .py file itself "
                                "(not a notebook export or an archive).")
    source = request.form.get("source", "")
    if not source.strip():
        return None, None, "Please choose a .py file or paste your code before submitting."
    return source, None, None


@bp.post("/<exercise>")
@login_required
@rate_limit("CODE_RATE_LIMIT")
def submit(exercise: str):
    _require_exercise(exercise)
    source, filename, error = _read_source()
    if error:
        flash(error, "error")
        return redirect(url_for("code.exercise", exercise=exercise))
    session = get_session()
    row = CodeSubmission(user_id=current_user.id, exercise=exercise, filename=filename,
                         source=source, status="queued")
    session.add(row)
    session.commit()
    get_pool(current_app).submit(row.id)
    flash("Your code was received and is being graded.", "success")
    return redirect(url_for("code.submission", submission_id=row.id))


@bp.get("/submissions/<int:submission_id>")
@login_required
def submission(submission_id: int):
    row = _own_submission(submission_id)
    report = json.loads(row.report_json) if row.report_json else None
    place = _queue_place(row)
    return render_template("code/submission.html", row=row, report=report, place=place,
                           title=exercise_title(row.exercise))


def _queue_place(row: CodeSubmission):
    """Queue depth and this row's place in line while it waits (None once finished)."""
    if row.status not in ("queued", "grading"):
        return None
    from web.queue import queue_place

    session = get_session()
    place = queue_place(get_pool(current_app), session, row.id)
    session.rollback()  # end this read snapshot: a lost job may just have been marked failed
    session.refresh(row)
    return place if row.status in ("queued", "grading") else None


@bp.get("/submissions/<int:submission_id>/status")
@login_required
def status(submission_id: int):
    row = _own_submission(submission_id)
    place = _queue_place(row)
    return jsonify(id=row.id, status=row.status, score=row.score, max_score=row.max_score,
                   done=row.status in ("done", "failed"),
                   queue_depth=place.depth if place else 0,
                   queue_position=place.position if place else None)
