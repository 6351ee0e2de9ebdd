"""Rate limits and sign-in limits: the one home of counting requests per user or address.

The `limits` library counts (in memory, or in Redis with RATELIMIT_STORAGE_URI so that several
workers and hosts share one count); this glue only picks the key and answers 429. It checks only
the views that ask, so other requests pay nothing for it. Where the count lives comes from the
app's typed settings (`web.settings.Settings.ratelimit_storage_uri`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps

from flask import Flask, abort, current_app, request
from flask_login import current_user
from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter

from web.settings import Settings

# Failed sign-ins are counted per username (strict) and per client address (generous: a class
# behind one NAT shares it); successful ones are never counted.
SIGN_IN_LIMIT_KEYS = ("LOGIN_FAILURES_PER_USERNAME", "LOGIN_FAILURES_PER_ADDRESS")
RATE_LIMIT_KEYS = ("REGISTER_RATE_LIMIT", "SUBMIT_RATE_LIMIT", "CODE_RATE_LIMIT",
                   "LTI_LOGIN_RATE_LIMIT", *SIGN_IN_LIMIT_KEYS)
# Settings that were replaced: an old config that sets one is refused, never silently ignored.
RENAMED_LIMITS = {"LOGIN_RATE_LIMIT": "LOGIN_FAILURES_PER_USERNAME, LOGIN_FAILURES_PER_ADDRESS "
                                      "(failed sign-ins only) and REGISTER_RATE_LIMIT"}


def user_or_ip() -> str:
    """Rate-limit key: the signed-in user, else the client address."""
    if current_user.is_authenticated:
        return f"user:{current_user.get_id()}"
    return f"ip:{request.remote_addr or '127.0.0.1'}"


def init_rate_limits(app: Flask) -> None:
    """Parse every limit now (a typo fails at start-up, not on a student's POST); open storage."""
    for old, new in RENAMED_LIMITS.items():
        if old in app.config:
            raise ValueError(f"{old} is no longer a setting: it was replaced by {new}. Remove it "
                             "from the configuration (see docs/deploy.md).")
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
    settings = app.extensions.get("stride_settings") or Settings.from_config(app.config)
    return settings.ratelimit_storage_uri


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


def rate_limit(config_key: str, methods: tuple[str, ...] = ("POST",)) -> Callable:
    """Limit requests of a view (POSTs unless `methods` says otherwise) by the limit in
    `app.config[config_key]`, per user (else address).

    Over the limit the request gets 429 and the view does not run, so nothing is recorded.
    """

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            if (request.method in methods and current_app.config.get("RATELIMIT_ENABLED", True)
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


def _lock(key: str, identifier: str) -> SignInLock:
    reset, _left = _limit_call(key, "get_window_stats", "sign-in", identifier,
                               fallback=(datetime.now(UTC).timestamp() + 60, 0))
    return SignInLock(datetime.fromtimestamp(reset, UTC), for_address=key.endswith("ADDRESS"))


def sign_in_lock(username: str) -> SignInLock | None:
    """Reserve one sign-in attempt for this username, or the lock in force (username or address).

    The username's attempt is counted *before* the password is checked, in one atomic step, so
    requests sent all at once cannot all slip past the limit; `sign_in_succeeded` then gives the
    count back (successful sign-ins never count). The address is only tested here and counted on
    failure (`count_failed_sign_in`): it is the generous limit.
    """
    if not _limits_enabled():
        return None
    (user_key, user_id), (address_key, address_id) = _sign_in_counts(username)
    if not _limit_call(address_key, "test", "sign-in", address_id):
        return _lock(address_key, address_id)
    if not _limit_call(user_key, "hit", "sign-in", user_id):
        return _lock(user_key, user_id)
    return None


def sign_in_succeeded(username: str) -> None:
    """A successful sign-in: forget this username's counted attempts."""
    if _limits_enabled():
        (user_key, user_id), _address = _sign_in_counts(username)
        _limit_call(user_key, "clear", "sign-in", user_id, fallback=None)


def count_failed_sign_in(username: str) -> None:
    """Count one failed sign-in against the address (the username's was counted on reserving)."""
    if _limits_enabled():
        _address_key, address_id = _sign_in_counts(username)[1]
        _limit_call(_address_key, "hit", "sign-in", address_id)
