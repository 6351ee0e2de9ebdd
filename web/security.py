"""The one home of request security: sessions and sign-in/out, CSRF, security headers, the
secret-key check, request input checks and `role_required`. Rate limits live in
`web.ratelimit`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import ClassVar

from flask import Flask, abort, current_app, request, session
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import bindparam, select
from werkzeug.routing import IntegerConverter

from web.db import get_session
from web.models import User
from web.ratelimit import init_rate_limits

DEFAULT_SECRET_KEYS = {None, "", "dev", "change-me"}

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

# The session's copy of `User.session_version`; a session with another (or none) is signed out.
SESSION_VERSION_KEY = "_sv"
LARGEST_ID = 2**63 - 1  # the largest BIGINT: larger ids cannot name a row

csrf = CSRFProtect()
login_manager = LoginManager()


class InsecureConfiguration(RuntimeError):
    """The app would run in production with a guessable secret."""


def check_secret_key(app: Flask) -> None:
    """Refuse to start outside debug/testing with the default (or no) secret key."""
    if app.debug or app.testing:
        return
    if app.config.get("SECRET_KEY") in DEFAULT_SECRET_KEYS:
        raise InsecureConfiguration(
            "Refusing to start: SECRET_KEY is unset or the development default. Set the "
            "STRIDE_SECRET_KEY environment variable, or write a random key to "
            f"{app.instance_path}/secret_key (`python server.py --setup-demo` does this)."
        )


def init_app(app: Flask) -> None:
    """CSRF, the login manager, the rate limits and the per-request checks and headers."""
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
    init_rate_limits(app)
    app.before_request(_refuse_nul_characters)
    app.after_request(_security_headers)


class DatabaseId(IntegerConverter):
    """The `int` URL converter, bounded: ASCII digits only and at most `LARGEST_ID`.

    Werkzeug's own matches any Unicode digit and any length, and a 20-digit id overflows the
    database's integer (PostgreSQL raises); such URLs are 404s like any other unknown id.
    """

    regex = r"[0-9]{1,19}"

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None,  # noqa: A002
                 max: int | None = LARGEST_ID, signed: bool = False) -> None:  # noqa: A002
        super().__init__(map, fixed_digits, min, max, signed)


def init_converters(app: Flask) -> None:
    """Register `DatabaseId` as `int` (before any blueprint adds its rules)."""
    app.url_map.converters["int"] = DatabaseId


def _refuse_nul_characters():
    """No text Stride stores or looks up may hold NUL (PostgreSQL refuses it in text columns)."""
    fields = (*request.args.values(), request.path)
    if request.method == "POST":
        fields += tuple(request.form.values())
    if any("\x00" in value for value in fields):
        abort(400, description="The request contains a NUL character (\\0), which Stride cannot "
                               "store or look up. Please remove it and try again.")


@dataclass(frozen=True)
class SignedInUser:
    """The signed-in account as a request sees it (`current_user`).

    Every request loads it, so it is four columns read by one prebuilt Core statement rather than
    an ORM `User`; views that change an account load the `User` row themselves.
    """

    id: int
    username: str
    display_name: str
    role: str

    is_authenticated: ClassVar[bool] = True
    is_active: ClassVar[bool] = True  # inactive accounts are never loaded
    is_anonymous: ClassVar[bool] = False

    def get_id(self) -> str:
        return str(self.id)

    @property
    def is_instructor(self) -> bool:
        return self.role == "instructor"

    @property
    def name(self) -> str:
        return self.display_name or self.username


_USERS = User.__table__.c
_ACTIVE_USER = select(_USERS.id, _USERS.username, _USERS.display_name, _USERS.role,
                      _USERS.session_version).where(
    _USERS.id == bindparam("user_id"), _USERS.active.is_(True))


@login_manager.user_loader
def _load_user(user_id: str) -> SignedInUser | None:
    """The signed-in user, unless the session's version is stale (signed out, password changed).

    Flask-Login's remember-me cookie reaches here too, in a session without a version: refused,
    so a copied remember cookie is no way around a sign-out either.
    """
    if not (user_id.isascii() and user_id.isdecimal()) or int(user_id) > LARGEST_ID:
        return None
    row = get_session().execute(_ACTIVE_USER, {"user_id": int(user_id)}).first()
    if row is None or row[4] != session.get(SESSION_VERSION_KEY):
        return None
    return SignedInUser(*row[:4])


def sign_in(user: User) -> None:
    """Sign `user` in on this browser, in a fresh session bound to their session version.

    Nothing of the session before is kept: not a deep linking request an instructor's LTI
    launch left in it, nor the LMS's permission to frame the pages (`web.lti.cookies`).
    """
    session.clear()
    login_user(user)
    session[SESSION_VERSION_KEY] = user.session_version


def sign_out() -> None:
    """Sign this browser out and empty its session (the caller has ended the user's sessions in
    the database): the next account to sign in here finds nothing of this one's."""
    logout_user()
    session.clear()


def _security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    if "frame-ancestors 'none'" in headers["Content-Security-Policy"]:  # else LTI's iframe
        headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if current_app.config.get("SESSION_COOKIE_SECURE"):
        headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if response.mimetype == "text/html":
        headers.setdefault("Cache-Control", "no-store")
    return response


def role_required(*roles: str) -> Callable:
    """Allow only signed-in users with one of `roles` (anonymous: to sign-in; others: 403)."""

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return current_app.login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403, description="This page is for " + " or ".join(roles) + "s only.")
            return view(*args, **kwargs)

        return wrapped

    return decorator
