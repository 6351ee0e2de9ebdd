"""Security of the web app: who may see what, CSRF, rate and size limits, headers, cookies."""

from __future__ import annotations

import re

import pytest
from conftest import answer_post as _form
from flask import Blueprint
from sqlalchemy import select

from web.db import session_factory
from web.models import CodeSubmission, User
from web.security import role_required

WEB_PASSWORD = "correct-horse-1"  # the fixture users' password (tests/conftest.py)
ROLES = ("anonymous", "student", "other student", "instructor")
USERNAMES = {"student": "alice", "other student": "bob", "instructor": "ines"}


def _login_as(auth, role):
    if role != "anonymous":
        response = auth.login(USERNAMES[role])
        assert response.status_code == 302, f"could not sign in as {role}"


def _alices_code_submission(app) -> int:
    with session_factory(app)() as session:
        alice = session.scalar(select(User).where(User.username == "alice"))
        row = CodeSubmission(user_id=alice.id, exercise="conv_step_by_step", source="x = 1",
                             status="done", report_json='{"score": 0, "max_score": 1, '
                             '"functions": [], "warnings": []}', score=0.0, max_score=1.0)
        session.add(row)
        session.commit()
        return row.id



def _first_problem(app) -> str:
    """The first integer problem: answers such as "-987654" are then readable and wrong."""
    problems = app.extensions["stride_bank"].problems
    return min(p for p in problems if problems[p].answer_type == "integer")


# (method, url template, {role: expected status}); {code} is alice's code submission id,
# {pid} a problem of the open set. Anonymous visitors of signed-in pages go to the sign-in page.
MATRIX = [
    ("GET", "/", {"anonymous": 302, "student": 200, "other student": 200, "instructor": 200}),
    ("GET", "/sets/open-set", {"anonymous": 302, "student": 200, "other student": 200,
                               "instructor": 200}),
    ("GET", "/sets/open-set/{pid}", {"anonymous": 302, "student": 200, "other student": 200,
                                     "instructor": 200}),
    ("GET", "/sets/nope", {"anonymous": 302, "student": 404, "other student": 404,
                           "instructor": 404}),
    ("POST", "/sets/open-set/{pid}", {"anonymous": 302, "student": 422, "other student": 422,
                                      "instructor": 422}),
    ("GET", "/code/submissions/{code}", {"anonymous": 302, "student": 200, "other student": 404,
                                         "instructor": 200}),
    ("GET", "/code/submissions/{code}/status", {"anonymous": 302, "student": 200,
                                                "other student": 404, "instructor": 200}),
    ("GET", "/code/submissions/999999", {"anonymous": 302, "student": 404, "other student": 404,
                                         "instructor": 404}),
    ("GET", "/practice/", {"anonymous": 200, "student": 200, "other student": 200,
                           "instructor": 200}),
    # {pid} is in the open graded set, so practice withholds it from everyone
    ("GET", "/practice/{pid}", {"anonymous": 404, "student": 404, "other student": 404,
                                "instructor": 404}),
    ("GET", "/auth/login", {"anonymous": 200, "student": 302, "other student": 302,
                            "instructor": 302}),
    ("GET", "/auth/register", {"anonymous": 200, "student": 200, "other student": 200,
                               "instructor": 200}),
    ("POST", "/auth/logout", {"anonymous": 302, "student": 302, "other student": 302,
                              "instructor": 302}),
    ("GET", "/static/style.css", {"anonymous": 200, "student": 200, "other student": 200,
                                  "instructor": 200}),
]
CODE_MATRIX = [
    ("GET", "/code/", {"anonymous": 302, "student": 200, "other student": 200,
                       "instructor": 200}),
    ("GET", "/code/conv_step_by_step", {"anonymous": 302, "student": 200, "other student": 200,
                                        "instructor": 200}),
    ("GET", "/code/no_such_exercise", {"anonymous": 302, "student": 404, "other student": 404,
                                       "instructor": 404}),
    ("GET", "/code/conv_step_by_step/starter.py", {"anonymous": 302, "student": 200,
                                                   "other student": 200, "instructor": 200}),
    ("POST", "/code/conv_step_by_step", {"anonymous": 302, "student": 302,
                                         "other student": 302, "instructor": 302}),
]


def _check_matrix(app, client, auth, role, method, template, expected):
    _login_as(auth, role)
    url = template.format(pid=_first_problem(app), code=_alices_code_submission(app))
    response = client.open(url, method=method, data=_form("") if method == "POST" else None)
    assert response.status_code == expected[role], f"{method} {url} as {role}"
    if response.status_code == 302 and role == "anonymous" and "/auth/" not in url:
        assert "/auth/login" in response.headers["Location"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "template", "expected"), MATRIX,
                         ids=[f"{m} {t}" for m, t, _ in MATRIX])
def test_route_role_matrix(app, client, auth, role, method, template, expected):
    _check_matrix(app, client, auth, role, method, template, expected)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "template", "expected"), CODE_MATRIX,
                         ids=[f"{m} {t}" for m, t, _ in CODE_MATRIX])
def test_code_route_role_matrix(app, client, auth, role, method, template, expected):
    pytest.importorskip("grader.code", reason="the code grader is not installed")
    _check_matrix(app, client, auth, role, method, template, expected)


def test_a_student_sees_only_their_own_submissions(app, client, auth, web_answer):
    pid = _first_problem(app)
    auth.login("alice")
    client.post(f"/sets/open-set/{pid}", data=_form("alice-typed-this-9"))
    client.post(f"/sets/open-set/{pid}", data=_form("1"))
    auth.logout()
    auth.login("bob")
    page = client.get(f"/sets/open-set/{pid}").get_data(as_text=True)
    assert "Your submissions" not in page and "0 of 3 attempts used" in page


def test_role_required_guards_instructor_routes(make_app):
    bp = Blueprint("instructor_probe", __name__)

    @bp.get("/probe")
    @role_required("instructor")
    def probe():
        return "instructor only"

    app = make_app()
    app.register_blueprint(bp)
    client = app.test_client()
    assert client.get("/probe").status_code == 302
    client.post("/auth/login", data={"username": "alice", "password": WEB_PASSWORD})
    assert client.get("/probe").status_code == 403
    client.post("/auth/logout")
    client.post("/auth/login", data={"username": "ines", "password": WEB_PASSWORD})
    assert client.get("/probe").get_data(as_text=True) == "instructor only"


# --- CSRF -----------------------------------------------------------------------------------

@pytest.fixture
def csrf_app(make_app):
    return make_app(WTF_CSRF_ENABLED=True)


def _csrf_token(page: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_sign_in_works_with_the_forms_csrf_token(csrf_app):
    client = csrf_app.test_client()
    token = _csrf_token(client.get("/auth/login").get_data(as_text=True))
    response = client.post("/auth/login", data={"username": "alice", "password": WEB_PASSWORD,
                                                "csrf_token": token})
    assert response.status_code == 302


@pytest.mark.parametrize("url", ["/auth/login", "/auth/register", "/auth/logout",
                                 "/sets/open-set/{pid}", "/practice/{pid}",
                                 "/code/conv_step_by_step"])
def test_every_form_rejects_a_post_without_csrf_token(csrf_app, url):
    client = csrf_app.test_client()
    token = _csrf_token(client.get("/auth/login").get_data(as_text=True))
    client.post("/auth/login", data={"username": "alice", "password": WEB_PASSWORD,
                                     "csrf_token": token})
    url = url.format(pid=_first_problem(csrf_app))
    response = client.post(url, data=_form("1", username="alice", source="x = 1"))
    assert response.status_code == 400
    assert "This form has expired" in response.get_data(as_text=True)
    forged = client.post(url, data=_form("1", csrf_token="forged"))
    assert forged.status_code == 400


# --- limits, headers, cookies, redirects -----------------------------------------------------

def test_registration_is_rate_limited(make_app):
    app = make_app(RATELIMIT_ENABLED=True, REGISTER_RATE_LIMIT="3/minute")
    client = app.test_client()
    codes = [client.post("/auth/register", data={"join_code": "nope"}).status_code
             for _ in range(4)]
    assert codes == [400, 400, 400, 429]
    assert "Too many requests" in client.post("/auth/register").get_data(as_text=True)


def test_submissions_are_rate_limited_per_user(make_app):
    app = make_app(RATELIMIT_ENABLED=True, SUBMIT_RATE_LIMIT="2/minute")
    client = app.test_client()
    client.post("/auth/login", data={"username": "alice", "password": WEB_PASSWORD})
    pid = _first_problem(app)
    codes = [client.post(f"/sets/open-set/{pid}", data=_form("?")).status_code
             for _ in range(3)]
    assert codes == [422, 422, 429]


def test_oversized_requests_are_refused(app, client, auth):
    auth.login()
    response = client.post(f"/sets/open-set/{_first_problem(app)}",
                           data=_form("x" * (300 * 1024)))
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "too large" in page and "Clear All Outputs" in page  # a notebook's plots count too


def test_security_headers_on_every_response(client):
    response = client.get("/auth/login")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_session_cookie_is_httponly_lax_and_secure_in_production(make_app):
    app = make_app(TESTING=False, SECRET_KEY="a-real-secret-key")
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["REMEMBER_COOKIE_SECURE"]
    assert app.config["SESSION_COOKIE_HTTPONLY"]
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil"])
def test_sign_in_never_redirects_off_site(client, target):
    response = client.post("/auth/login", query_string={"next": target},
                           data={"username": "alice", "password": "correct-horse-1"})
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_sign_in_follows_a_local_next(client):
    response = client.post("/auth/login", query_string={"next": "/sets/open-set"},
                           data={"username": "alice", "password": "correct-horse-1"})
    assert response.headers["Location"] == "/sets/open-set"


def test_wrong_password_and_unknown_user_get_the_same_answer(client):
    wrong = client.post("/auth/login", data={"username": "alice", "password": "nope-nope"})
    unknown = client.post("/auth/login", data={"username": "zed", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert "do not match an account" in wrong.get_data(as_text=True)
    assert "do not match an account" in unknown.get_data(as_text=True)


def test_passwords_are_stored_hashed(app):
    from web.auth.accounts import authenticate, create_user

    with session_factory(app)() as session:
        user = create_user(session, "carol", "correct-horse-2")
        assert user.password_hash.startswith("scrypt:")
        assert "correct-horse-2" not in user.password_hash
        assert authenticate(session, "carol", "correct-horse-2") is user
        assert authenticate(session, "carol", "correct-horse-3") is None


def test_a_limited_answer_is_refused_for_that_student_only_and_records_nothing(make_app):
    from sqlalchemy import func

    from web.models import Submission

    app = make_app(RATELIMIT_ENABLED=True, SUBMIT_RATE_LIMIT="1/minute")
    pid = _first_problem(app)
    alice, bob = app.test_client(), app.test_client()
    alice.post("/auth/login", data={"username": "alice", "password": WEB_PASSWORD})
    bob.post("/auth/login", data={"username": "bob", "password": WEB_PASSWORD})
    assert alice.post(f"/sets/open-set/{pid}", data=_form("-987654")).status_code == 302
    refused = alice.post(f"/sets/open-set/{pid}", data=_form("-987653"))
    assert refused.status_code == 429
    assert "please wait a minute" in refused.get_data(as_text=True)
    assert alice.get(f"/sets/open-set/{pid}").status_code == 200  # pages are not limited
    assert bob.post(f"/sets/open-set/{pid}", data=_form("-987654")).status_code == 302
    with session_factory(app)() as session:
        stored = session.scalar(select(func.count(Submission.id)).where(Submission.set_id == "open-set"))
    assert stored == 2  # alice's first and bob's; the refused one was never graded or stored


def test_a_malformed_rate_limit_stops_the_app_at_start(make_app):
    with pytest.raises(ValueError, match=r"SUBMIT_RATE_LIMIT = 'thirty a minute' is not a rate limit"):
        make_app(SUBMIT_RATE_LIMIT="thirty a minute")


@pytest.mark.services
def test_rate_limits_are_counted_in_redis_when_redis_is_configured(make_app, monkeypatch):
    """Two app instances (as two gunicorn workers) share one count through REDIS_URL."""
    import secrets

    from tests.test_queue import REDIS_URL, redis_or_skip
    from web.ratelimit import rate_limit_storage_uri

    redis = redis_or_skip()
    prefix = f"stride-test-{secrets.token_hex(4)}"
    settings = dict(RATELIMIT_ENABLED=True, REGISTER_RATE_LIMIT="2/minute", REDIS_URL=REDIS_URL,
                    RATELIMIT_KEY_PREFIX=prefix)
    first, second = make_app(**settings), make_app(**settings)
    try:
        assert rate_limit_storage_uri(first) == REDIS_URL
        codes = [app.test_client().post("/auth/register", data={"join_code": "no"}).status_code
                 for app in (first, second, first, second)]
        assert codes == [400, 400, 429, 429]
    finally:
        for key in redis.scan_iter(f"*{prefix}*"):
            redis.delete(key)
    monkeypatch.delenv("REDIS_URL", raising=False)
    assert rate_limit_storage_uri(make_app()) == "memory://"


def test_an_unreachable_rate_limit_store_lets_answers_through_and_logs_it(make_app, caplog):
    """Redis down must not lock a class out of answering: the limit is skipped, and logged."""
    app = make_app(RATELIMIT_ENABLED=True, SUBMIT_RATE_LIMIT="1/minute",
                   RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0")
    client = app.test_client()
    client.post("/auth/login", data={"username": "alice", "password": WEB_PASSWORD})
    pid = _first_problem(app)
    codes = [client.post(f"/sets/open-set/{pid}", data=_form(str(-5 - n))).status_code
             for n in range(2)]
    assert codes == [302, 302]
    assert "SUBMIT_RATE_LIMIT not checked: its storage failed" in caplog.text


def test_a_hanging_rate_limit_store_is_given_up_on(make_app, caplog):
    """A Redis that accepts but never answers costs a POST the storage timeout, not forever."""
    import socket
    import threading

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)  # connections are queued by the kernel and never answered
    try:
        port = silent.getsockname()[1]
        app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI=f"redis://127.0.0.1:{port}/0",
                       RATELIMIT_STORAGE_TIMEOUT=0.2)
        client, codes = app.test_client(), []
        worker = threading.Thread(target=lambda: codes.append(client.post(
            "/auth/login", data={"username": "alice", "password": WEB_PASSWORD}).status_code),
            daemon=True)
        worker.start()
        worker.join(timeout=30)  # generous: the storage timeout is 0.2 s; without it, forever
        assert not worker.is_alive(), "the sign-in hung on the silent rate-limit store"
        assert codes == [302]
        assert "LOGIN_FAILURES_PER_USERNAME not checked: its storage failed" in caplog.text
    finally:
        silent.close()


def test_lti_login_starts_are_rate_limited_per_address_for_get_and_post(make_app):
    """Anyone may start an LTI login (each start stores a state row), so it has a limit."""
    app = make_app(RATELIMIT_ENABLED=True, LTI_LOGIN_RATE_LIMIT="2/minute")
    client = app.test_client()
    codes = [client.get("/lti/login").status_code, client.post("/lti/login").status_code,
             client.get("/lti/login").status_code, client.post("/lti/login").status_code]
    assert codes == [400, 400, 429, 429]  # 400: no platform named; then the limit
