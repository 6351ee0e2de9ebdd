"""One-time password reset links: the one home of making, checking and redeeming them.

Course staff make a link for a student who forgot their password (`web.instructor.admin`); the
student opens it and chooses a new password. Only the SHA-256 of the link's token is stored, so
the table cannot be used to reset anyone's password. A link works once, for `RESET_VALID`, and
making a new one for the same account voids the older ones. Redeeming it ends every session of
the account. Functions add to the session but never commit.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from web.auth.accounts import AccountError, end_sessions, validate_password
from web.bank import as_utc
from web.models import PasswordReset, User

RESET_VALID = timedelta(hours=72)
TOKEN_BYTES = 32
INVALID_LINK = ("This password reset link does not work: it was already used, a newer one was "
                "made, it has expired, or it was copied incompletely. Please ask your instructor "
                "for a new link.")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def make_reset_token(session: Session, user: User, created_by: User | None,
                     now: datetime | None = None) -> str:
    """A new reset token for `user` (voiding their older unused ones); only its hash is kept."""
    now = now or datetime.now(UTC)
    session.execute(update(PasswordReset)
                    .where(PasswordReset.user_id == user.id, PasswordReset.used_at.is_(None))
                    .values(used_at=now))
    token = secrets.token_urlsafe(TOKEN_BYTES)
    session.add(PasswordReset(user_id=user.id, token_hash=_digest(token),
                              created_by_id=created_by.id if created_by else None,
                              created_at=now, expires_at=now + RESET_VALID))
    session.flush()
    return token


def valid_reset(session: Session, token: str, now: datetime | None = None
                ) -> PasswordReset | None:
    """The unused, unexpired reset of `token`, else None (whatever the reason: one answer)."""
    if not token or len(token) > 200 or not token.isascii():
        return None
    reset = session.scalar(select(PasswordReset).where(PasswordReset.token_hash == _digest(token)))
    if reset is None or reset.used_at is not None:
        return None
    if (now or datetime.now(UTC)) > as_utc(reset.expires_at):
        return None
    return reset


def redeem_reset(session: Session, token: str, new: str, confirm: str,
                 now: datetime | None = None) -> User:
    """Set the account's new password through `token` and void the link and every session.

    Raises AccountError with what to fix (an unusable link, passwords that differ or are short).
    """
    reset = valid_reset(session, token, now)
    if reset is None:
        raise AccountError(INVALID_LINK)
    if new != confirm:
        raise AccountError("The two passwords differ. Please type the same password twice.")
    user = session.get(User, reset.user_id)
    if user is None or not user.active:
        raise AccountError(INVALID_LINK)
    user.password_hash = generate_password_hash(validate_password(new))
    reset.used_at = now or datetime.now(UTC)
    session.flush()
    user.session_version = end_sessions(session, user.id)
    return user
