"""PyLTI1p3's launch data (the nonce saved at login, the launch claims kept for deep linking)
in the database, keyed by a per-browser cookie (so a launch only completes in the browser that
started its login), and the record of used nonces (so a launch token works once)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from pylti1p3.launch_data_storage.base import LaunchDataStorage
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from web.lti.errors import LaunchRefused
from web.models import LtiLaunchValue, LtiNonce, utcnow

DEFAULT_LIFETIME_S = 3600
BROWSER_COOKIE = "browser"  # PyLTI1p3 prefixes it: the cookie is "lti1p3-browser"


class DatabaseLaunchStorage(LaunchDataStorage):
    """Values live in `LtiLaunchValue` until they expire; the caller commits."""

    _session_cookie_name = BROWSER_COOKIE

    def __init__(self, session: Session):
        super().__init__()
        self._db = session

    def can_set_keys_expiration(self) -> bool:
        return True

    def _row(self, key: str) -> LtiLaunchValue | None:
        row = self._db.get(LtiLaunchValue, self._prepare_key(key)[:255])
        if row is None or row.expires_at <= utcnow():
            return None
        return row

    def get_value(self, key: str):
        row = self._row(key)
        return None if row is None else json.loads(row.value_json)

    def set_value(self, key: str, value, exp: int | None = None) -> None:
        expires = utcnow() + timedelta(seconds=exp or DEFAULT_LIFETIME_S)
        self._db.merge(LtiLaunchValue(key=self._prepare_key(key)[:255],
                                      value_json=json.dumps(value), expires_at=expires))
        self._db.flush()

    def check_value(self, key: str) -> bool:
        return self._row(key) is not None


def consume_nonce(session: Session, nonce: str, expires_at: datetime) -> None:
    """Record `nonce` as used; raises LaunchRefused if it was already (a replayed launch)."""
    session.execute(delete(LtiNonce).where(LtiNonce.expires_at < utcnow()))
    try:
        with session.begin_nested():
            session.add(LtiNonce(nonce=nonce[:255], expires_at=expires_at))
    except IntegrityError:
        raise LaunchRefused(
            "This launch was already used once (its nonce has been seen before), so Stride "
            "refuses it: a launch cannot be replayed. Open the link from your LMS again.") from None


def purge_expired(session: Session) -> None:
    session.execute(delete(LtiLaunchValue).where(LtiLaunchValue.expires_at < utcnow()))
