"""Signing in: failure limits per username and per address, revocable sessions, password change."""

from __future__ import annotations

import re
import secrets

import pytest
from sqlalchemy import func, select
from werkzeug.security import generate_password_hash

from web.db import session_factory
from web.models import Submission, User

WEB_PASSWORD = "correct-horse-1"  # the fixture users' password (tests/conftest.py)
LOCKED = "too many failed sign-ins with this username"


def _sign_in(client, username="alice", password=WEB_PASSWORD, address="127.0.0.1"):
    return client.post("/auth/login", data={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def _text(response) -> str:
    return response.get_data(as_text=True)


@pytest.fixture
def limited_app(make_app):
    return make_app(RATELIMIT_ENABLED=True, LOGIN_FAILURES_PER_USERNAME="3 per 15 minutes",
                    LOGIN_FAILURES_PER_ADDRESS="300 per 15 minutes")


# --- failure limits ---------------------------------------------------------------------------

def test_failed_sign_ins_lock_the_username_with_when_to_retry(limited_app):
    client = limited_app.test_client()
    codes = [_sign_in(client, password="wrong-pass").status_code for _ in range(3)]
    assert codes == [401, 401, 401]
    locked = _sign_in(client)  # even the right password waits: nothing can be guessed meanwhile
    assert locked.status_code == 429
    assert LOCKED in _text(locked)
    assert re.search(r"try again after \d\d:\d\d UTC \(in about 1[45] minutes\)", _text(locked))
    assert _sign_in(limited_app.test_client(), "bob").status_code == 302  # others are unaffected


def test_an_unknown_username_locks_with_the_same_message(limited_app):
    """No account-existence oracle: 'nobody' and 'alice' answer alike, failure by failure."""
    client = limited_app.test_client()
    answers = {}
    for name in ("alice", "nobody-here"):
        answers[name] = [(r.status_code, LOCKED in _text(r), "do not match" in _text(r))
                         for r in (_sign_in(client, name, "wrong-pass") for _ in range(4))]
    assert answers["alice"] == answers["nobody-here"]
    assert answers["alice"][-1] == (429, True, False)


def test_successful_sign_ins_never_count(limited_app):
    client = limited_app.test_client()
    for _ in range(10):
        assert _sign_in(client).status_code == 302
        client.post("/auth/logout")
    assert _sign_in(client, password="wrong-pass").status_code == 401


def test_failures_are_also_limited_per_address_and_only_there(make_app):
    app = make_app(RATELIMIT_ENABLED=True, LOGIN_FAILURES_PER_ADDRESS="4 per 15 minutes")
    client = app.test_client()
    for n in range(4):
        assert _sign_in(client, f"guess{n}", "wrong-pass", "198.51.100.7").status_code == 401
    refused = _sign_in(client, "alice", address="198.51.100.7")
    assert refused.status_code == 429 and "failed sign-ins from your network" in _text(refused)
    assert _sign_in(client, "alice", address="198.51.100.8").status_code == 302


def test_sixty_students_behind_one_address_all_sign_in(make_app):
    """A class behind one NAT, each mistyping once, with the default limits."""
    app = make_app(RATELIMIT_ENABLED=True)
    cheap = generate_password_hash(WEB_PASSWORD, method="pbkdf2:sha256:1000")
    with session_factory(app)() as session:
        session.add_all([User(username=f"class{n:02d}", password_hash=cheap) for n in range(60)])
        session.commit()
    codes = []
    for n in range(60):
        client = app.test_client()
        codes.append(_sign_in(client, f"class{n:02d}", "typo-typo", "203.0.113.50").status_code)
        codes.append(_sign_in(client, f"class{n:02d}", address="203.0.113.50").status_code)
    assert codes == [401, 302] * 60


@pytest.mark.services
def test_sign_in_failures_are_counted_in_redis_for_every_worker(make_app):
    """Two app instances (two gunicorn workers) share one failure count through Redis."""
    from tests.test_queue import REDIS_URL, redis_or_skip

    redis = redis_or_skip()
    prefix = f"stride-test-{secrets.token_hex(4)}"
    settings = dict(RATELIMIT_ENABLED=True, LOGIN_FAILURES_PER_USERNAME="2 per 15 minutes",
                    REDIS_URL=REDIS_URL, RATELIMIT_KEY_PREFIX=prefix)
    first, second = make_app(**settings), make_app(**settings)
    try:
        codes = [_sign_in(app.test_client(), password="wrong-pass").status_code
                 for app in (first, second, first, second)]
        assert codes == [401, 401, 429, 429]
        assert any(True for _ in redis.scan_iter(f"*{prefix}*"))
    finally:
        for key in redis.scan_iter(f"*{prefix}*"):
            redis.delete(key)


# --- revocable sessions -------------------------------------------------------------------------

def _session_cookie(client) -> str:
    return client.get_cookie("session").value


def _submissions(app) -> int:
    with session_factory(app)() as session:
        return session.scalar(select(func.count(Submission.id)))


def test_a_copied_cookie_stops_working_after_sign_out(app, client):
    pid = sorted(app.extensions["stride_bank"].problems)[0]
    assert _sign_in(client).status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", _session_cookie(client))
    assert thief.get("/").status_code == 200  # the copy works while the session lives
    client.post("/auth/logout")
    assert thief.get("/").status_code == 302
    refused = thief.post(f"/sets/open-set/{pid}",
                         data={"answer": "1", "request_token": secrets.token_urlsafe(24)})
    assert refused.status_code == 302 and "/auth/login" in refused.headers["Location"]
    assert _submissions(app) == 0


def test_a_remember_cookie_alone_does_not_sign_in(app):
    from flask_login.utils import encode_cookie

    with session_factory(app)() as session:
        alice_id = session.scalar(select(User.id).where(User.username == "alice"))
    with app.test_request_context():
        token = encode_cookie(str(alice_id))
    client = app.test_client()
    client.set_cookie(app.config.get("REMEMBER_COOKIE_NAME", "remember_token"), token)
    assert client.get("/").status_code == 302


def test_a_password_change_ends_other_sessions_and_keeps_this_one(app):
    here, elsewhere = app.test_client(), app.test_client()
    _sign_in(here), _sign_in(elsewhere)
    assert "Current password" in _text(here.get("/auth/password"))
    changed = here.post("/auth/password", data={"current": WEB_PASSWORD, "new": "new-horse-42",
                                                "confirm": "new-horse-42"},
                        follow_redirects=True)
    assert "Your password is changed" in _text(changed)
    assert here.get("/").status_code == 200
    assert elsewhere.get("/").status_code == 302
    assert _sign_in(app.test_client()).status_code == 401
    assert _sign_in(app.test_client(), password="new-horse-42").status_code == 302


@pytest.mark.parametrize(("fields", "message"), [
    ({"current": "wrong-horse-0", "new": "new-horse-42", "confirm": "new-horse-42"},
     "Your current password is not right"),
    ({"current": WEB_PASSWORD, "new": "new-horse-42", "confirm": "new-horse-43"},
     "The two new passwords differ"),
    ({"current": WEB_PASSWORD, "new": "short", "confirm": "short"},
     "at least 8 characters"),
])
def test_a_refused_password_change_says_why_and_changes_nothing(app, client, fields, message):
    _sign_in(client)
    response = client.post("/auth/password", data=fields)
    assert response.status_code == 400 and message in _text(response)
    assert client.get("/").status_code == 200
    assert _sign_in(app.test_client()).status_code == 302


def test_the_password_page_needs_a_signed_in_user(client):
    assert "/auth/login" in client.get("/auth/password").headers["Location"]


def test_simultaneous_wrong_passwords_cannot_slip_past_the_limit(limited_app):
    """Each attempt is counted before its password is checked, in one atomic step."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    start = threading.Barrier(12)

    def attempt(_n):
        client = limited_app.test_client()
        start.wait(timeout=30)
        return _sign_in(client, password="wrong-pass").status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        codes = sorted(pool.map(attempt, range(12)))
    assert codes.count(401) == 3 and codes.count(429) == 9


def test_the_current_password_is_guessed_no_faster_than_a_sign_in(limited_app):
    client = limited_app.test_client()
    assert _sign_in(client).status_code == 302
    form = {"current": "wrong-pass", "new": "a-new-password-1", "confirm": "a-new-password-1"}
    codes = [client.post("/auth/password", data=form).status_code for _ in range(4)]
    assert codes == [400, 400, 400, 429]
    assert LOCKED in _text(client.post("/auth/password", data=form))
