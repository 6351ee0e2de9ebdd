"""Signing in and out, and self-registration with a course join code."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from web.accounts import AccountError, authenticate, course_by_join_code, create_user
from web.db import get_session
from web.security import rate_limit

bp = Blueprint("auth", __name__, url_prefix="/auth")


def _safe_next(target: str | None) -> str:
    """Only same-site relative paths are followed after sign-in (no open redirects)."""
    if target and target.startswith("/") and not target.startswith("//") \
            and not urlsplit(target).netloc and "\\" not in target:
        return target
    return url_for("student.home")


@bp.route("/login", methods=["GET", "POST"])
@rate_limit("LOGIN_RATE_LIMIT")
def login():
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("student.home"))
    if request.method == "POST":
        user = authenticate(get_session(), request.form.get("username", ""),
                            request.form.get("password", ""))
        if user is None:
            flash("That username and password do not match an account. "
                  "Check both and try again.", "error")
            return render_template("auth/login.html"), 401
        login_user(user)
        flash(f"Welcome, {user.name}.", "success")
        return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html")


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/register", methods=["GET", "POST"])
@rate_limit("LOGIN_RATE_LIMIT")
def register():
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
    session.commit()
    login_user(user)
    flash(f"Welcome to {course.name}, {user.name}.", "success")
    return redirect(url_for("student.home"))
