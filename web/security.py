"""Sessions, CSRF, rate limits, sign-in limits, security headers, the secret-key check, request
input checks and `role_required`."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from typing import ClassVar

from flask import Flask, abort, current_app, request, session
from flask_login import LoginManager, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFProtect
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import bindparam, select
from werkzeug.routing import IntegerConverter

from web.db import get_session
from web.models import User

DEFAULT_SECRET_KEYS = {None, "", "dev", "change-me"}

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)

# Failed sign-ins are counted per username (strict) and per client address (generous: a class
# behind one NAT shares it); successful ones are never counted.
SIGN_IN_LIMIT_KEYS = ("LOGIN_FAILURES_PER_USERNAME", "LOGIN_FAILURES_PER_ADDRESS")
RATE_LIMIT_KEYS = ("REGISTER_RATE_LIMIT", "SUBMIT_RATE_LIMIT", "CODE_RATE_LIMIT",
                   *SIGN_IN_LIMIT_KEYS)
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


def user_or_ip() -> str:
    """Rate-limit key: the signed-in user, else the client address."""
    if current_user.is_authenticated:
        return f"user:{current_user.get_id()}"
    return f"ip:{request.remote_addr or '127.0.0.1'}"


def init_app(app: Flask) -> None:
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
    """Sign `user` in on this browser, binding the session to their current session version."""
    login_user(user)
    session[SESSION_VERSION_KEY] = user.session_version


def sign_out() -> None:
    """Sign this browser out (the caller has ended the user's sessions in the database)."""
    logout_user()
    session.pop(SESSION_VERSION_KEY, None)


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


# --- rate limits ------------------------------------------------------------------------------
# The `limits` library counts (in memory, or in Redis with RATELIMIT_STORAGE_URI so that several
# workers and hosts share one count); this glue only picks the key and answers 429. It checks only
# the views that ask, so other requests pay nothing for it.

def init_rate_limits(app: Flask) -> None:
    """Parse every limit now (a typo fails at start-up, not on a student's POST); open storage."""
    parsed: dict[str, RateLimitItem] = {}
    for key in RATE_LIMIT_KEYS:
        text = app.config.get(key)
        try:
            parsed[key] = parse(str(text))
        except ValueError:
            raise ValueError(f"{key} = {text!r} is not a rate limit; write it like "
                             "'30 per minute' or '10/hour'.") from None
    uri = rate_limit_storage_uri(app)
    # A Redis that hangs must not hold a student's POST: give up after a short wait (see below).
    wait = float(app.config.get("RATELIMIT_STORAGE_TIMEOUT", 0.5))
    options = {"socket_timeout": wait, "socket_connect_timeout": wait} if uri.startswith(
        ("redis://", "rediss://")) else {}
    app.extensions["stride_rate_limits"] = (
        FixedWindowRateLimiter(storage_from_string(uri, **options)), parsed)


def rate_limit_storage_uri(app: Flask) -> str:
    """RATELIMIT_STORAGE_URI if set; else the grading queue's Redis (one count for every worker and
    host); else this process's memory (each gunicorn worker then counts on its own)."""
    return (app.config.get("RATELIMIT_STORAGE_URI") or app.config.get("REDIS_URL")
            or os.environ.get("REDIS_URL") or "memory://")


def _limit_call(config_key: str, method: str, *identifiers: str, fallback=True):
    """`limiter.<method>(limit, prefix, *identifiers)`, or `fallback` when its storage fails.

    If the count's storage (Redis) is unreachable, the request goes through and the log says why:
    a limit protects the app, and must not lock a class out of answering while Redis is down.
    """
    limiter, parsed = current_app.extensions["stride_rate_limits"]
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX", "stride")
    try:
        return getattr(limiter, method)(parsed[config_key], prefix, *identifiers)
    except Exception as exc:  # noqa: BLE001 - any storage failure: allow, and say so in the log
        current_app.logger.warning("rate limit %s not checked: its storage failed (%r)",
                                   config_key, exc)
        return fallback


def _within_limit(config_key: str) -> bool:
    """Count this request against its limit (see `_limit_call` for a failing storage)."""
    return _limit_call(config_key, "hit", request.endpoint or "", user_or_ip())


def rate_limit(config_key: str) -> Callable:
    """Limit POSTs of a view by the limit in `app.config[config_key]`, per user (else address).

    Over the limit the request gets 429 and the view does not run, so nothing is recorded.
    """

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if (request.method == "POST" and current_app.config.get("RATELIMIT_ENABLED", True)
                    and not _within_limit(config_key)):
                abort(429)
            return view(*args, **kwargs)

        return wrapped

    return decorator


# --- sign-in limits ---------------------------------------------------------------------------
# Only failures count, so a class signing in at once costs nothing; the per-username count is the
# same for existing and unknown usernames, so a lock says nothing about whether an account exists.

@dataclass(frozen=True)
class SignInLock:
    """Signing in is paused for this username (or address) until `retry_at`."""

    retry_at: datetime
    for_address: bool

    def message(self) -> str:
        minutes = max(1, round((self.retry_at - datetime.now(UTC)).total_seconds() / 60))
        when = (f"after {self.retry_at:%H:%M} UTC (in about {minutes} minute"
                f"{'' if minutes == 1 else 's'})")
        if self.for_address:
            return ("There have been too many failed sign-ins from your network, so signing in "
                    f"from it is paused for a while. Please try again {when}.")
        return ("There have been too many failed sign-ins with this username, so signing in with "
                f"it is paused to keep the account safe. Please try again {when}. If you have "
                "forgotten your password, your instructor can set a new one.")


def _sign_in_counts(username: str) -> tuple[tuple[str, str], ...]:
    """(limit key, identifier) pairs; the username is hashed (bounded key, no text in Redis)."""
    digest = hashlib.sha256(username.strip().encode("utf-8", "replace")).hexdigest()[:32]
    return (("LOGIN_FAILURES_PER_USERNAME", f"user:{digest}"),
            ("LOGIN_FAILURES_PER_ADDRESS", f"ip:{request.remote_addr or '127.0.0.1'}"))


def _limits_enabled() -> bool:
    return bool(current_app.config.get("RATELIMIT_ENABLED", True))


def sign_in_lock(username: str) -> SignInLock | None:
    """The lock in force for this username or this request's address, if any (counts nothing)."""
    if not _limits_enabled():
        return None
    for key, identifier in _sign_in_counts(username):
        if not _limit_call(key, "test", "sign-in", identifier):
            reset, _left = _limit_call(key, "get_window_stats", "sign-in", identifier,
                                       fallback=(datetime.now(UTC).timestamp() + 60, 0))
            retry_at = datetime.fromtimestamp(reset, UTC)
            return SignInLock(retry_at, for_address=key.endswith("ADDRESS"))
    return None


def count_failed_sign_in(username: str) -> None:
    """Count one failed sign-in against the username and against the address."""
    if _limits_enabled():
        for key, identifier in _sign_in_counts(username):
            _limit_call(key, "hit", "sign-in", identifier)
