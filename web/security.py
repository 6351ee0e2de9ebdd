"""Sessions, CSRF, rate limits, security headers, the secret-key check and `role_required`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import ClassVar

from flask import Flask, abort, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect
from sqlalchemy import bindparam, select

from web.db import get_session
from web.models import User

DEFAULT_SECRET_KEYS = {None, "", "dev", "change-me"}

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

csrf = CSRFProtect()
login_manager = LoginManager()
limiter = Limiter(key_func=get_remote_address)


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


def user_or_ip() -> str:
    """Rate-limit key: the signed-in user, else the client address."""
    if current_user.is_authenticated:
        return f"user:{current_user.get_id()}"
    return get_remote_address()


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
    limiter.init_app(app)
    app.after_request(_security_headers)


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
_ACTIVE_USER = select(_USERS.id, _USERS.username, _USERS.display_name, _USERS.role).where(
    _USERS.id == bindparam("user_id"), _USERS.active.is_(True))


@login_manager.user_loader
def _load_user(user_id: str) -> SignedInUser | None:
    if not user_id.isdigit():
        return None
    row = get_session().execute(_ACTIVE_USER, {"user_id": int(user_id)}).first()
    return None if row is None else SignedInUser(*row)


def _security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
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


def rate_limit(config_key: str) -> Callable:
    """Limit POSTs of a view by the limit string in `app.config[config_key]`."""
    return limiter.limit(lambda: current_app.config[config_key], methods=["POST"],
                         key_func=user_or_ip)
