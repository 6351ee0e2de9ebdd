"""The auth blueprint, the one home of its pages: signing in and out, changing a password,
self-registration with a course join code, and choosing a new password through a reset link."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from web.auth.accounts import (
    AccountError,
    authenticate,
    change_password,
    course_by_join_code,
    create_user,
    end_sessions,
    password_matches,
)
from web.auth.reset import INVALID_LINK, redeem_reset, valid_reset
from web.db import get_session, write_gate
from web.models import User
from web.ratelimit import count_failed_sign_in, rate_limit, sign_in_lock, sign_in_succeeded
from web.security import sign_in, sign_out

bp = Blueprint("auth", __name__, url_prefix="/auth")


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths are followed after sign-in (no open redirects, no header
    injection: a CR or LF in `next` would split the Location header)."""
    if target and target.startswith("/") and not target.startswith("//") \
            and not urlsplit(target).netloc and "\\" not in target \
            and target.isprintable():
        return target
    return url_for("student.home")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Anyone: the sign-in form, and signing in (failures count towards a pause)."""
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("student.home"))
    if request.method == "GET":
        return render_template("auth/login.html")
    username = request.form.get("username", "")
    lock = sign_in_lock(username)
    if lock is not None:  # checked before the password: a locked account cannot be guessed at
        flash(lock.message(), "error")
        return render_template("auth/login.html"), 429
    user = authenticate(get_session(), username, request.form.get("password", ""))
    if user is None:
        count_failed_sign_in(username)
        flash("That username and password do not match an account. "
              "Check both and try again.", "error")
        return render_template("auth/login.html"), 401
    sign_in_succeeded(username)
    sign_in(user)
    flash(f"Welcome, {user.name}.", "success")
    return redirect(_safe_next(request.args.get("next")))


@bp.post("/logout")
@login_required
def logout():
    """Signed-in users: sign out here and everywhere this session's cookie was copied to."""
    db = get_session()
    end_sessions(db, current_user.id)
    with write_gate():
        db.commit()
    sign_out()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password():
    """Signed-in users: change their password, which signs out their other sessions."""
    if request.method == "GET":
        return render_template("auth/password.html")
    db = get_session()
    user = db.get(User, current_user.id)
    form = request.form
    lock = sign_in_lock(user.username)  # the current password is guessed no faster than here
    if lock is not None:
        flash(lock.message(), "error")
        return render_template("auth/password.html"), 429
    if not password_matches(user, form.get("current", "")):
        count_failed_sign_in(user.username)
        flash("Your current password is not right. Please type it again.", "error")
        return render_template("auth/password.html"), 400
    sign_in_succeeded(user.username)
    try:
        change_password(db, user, form.get("current", ""), form.get("new", ""),
                        form.get("confirm", ""))
    except AccountError as exc:
        db.rollback()
        flash(str(exc), "error")
        return render_template("auth/password.html"), 400
    with write_gate():
        db.commit()
    sign_in(user)  # this browser stays signed in; every other session has ended
    flash("Your password is changed. You have been signed out everywhere else.", "success")
    return redirect(url_for("student.home"))


@bp.route("/register", methods=["GET", "POST"])
@rate_limit("REGISTER_RATE_LIMIT")
def register():
    """Anyone with a course join code: create a student account in that course."""
    if request.method == "GET":
        return render_template("auth/register.html")
    form = request.form
    session = get_session()
    course = course_by_join_code(session, form.get("join_code", ""))
    error = None
    if course is None:
        error = "That join code does not match a course. Your instructor can give you the code."
    elif form.get("password", "") != form.get("confirm", ""):
        error = "The two passwords differ. Please type the same password twice."
    else:
        try:
            user = create_user(session, form.get("username", ""), form.get("password", ""),
                               display_name=form.get("display_name", ""), course=course)
        except AccountError as exc:
            error = str(exc)
    if error is not None:
        session.rollback()
        flash(error, "error")
        return render_template("auth/register.html"), 400
    with write_gate():
        session.commit()
    sign_in(user)
    flash(f"Welcome to {course.name}, {user.name}.", "success")
    return redirect(url_for("student.home"))


@bp.route("/reset", methods=["GET", "POST"])
@rate_limit("REGISTER_RATE_LIMIT")
def reset():
    """Anyone with a one-time reset link from their instructor: choose a new password."""
    token = request.values.get("token", "")
    session = get_session()
    if request.method == "GET":
        if valid_reset(session, token) is None:
            flash(INVALID_LINK, "error")
            return render_template("auth/reset.html", token=""), 400
        return render_template("auth/reset.html", token=token)
    try:
        user = redeem_reset(session, token, request.form.get("new", ""),
                            request.form.get("confirm", ""))
    except AccountError as exc:
        session.rollback()
        flash(str(exc), "error")
        usable = valid_reset(session, token) is not None
        return render_template("auth/reset.html", token=token if usable else ""), 400
    with write_gate():
        session.commit()
    sign_out()
    flash(f"Your new password is set, {user.name}. Please sign in with it.", "success")
    return redirect(url_for("auth.login"))
