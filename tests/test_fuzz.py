"""No input makes a 500: every route of `app.url_map`, its path and query parameters and the form
fields of its POSTs, with hostile values, as a visitor, a student and an instructor, on SQLite and
(where reachable) PostgreSQL. Then the named cases each give their 4xx and a clear sentence."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select

from web.db import session_factory
from web.models import User

WEB_PASSWORD = "correct-horse-1"
# Hostile path segments: ids past any integer column, negative, Unicode digits, NUL, CR/LF,
# over-long text, traversal.
INT_VALUES = ("99999999999999999999", "9223372036854775808", "-1", "%D9%A3", "%C2%B2", "0")
TEXT_VALUES = ("x" * 300, "%C2%B2", "%00", "a%0D%0Ab", "..", "%2e%2e%2f%2e%2e%2fetc")
QUERIES = ("course=%C2%B2", "course=99999999999999999999", "course=-1", "course=%00",
           "seed=%D9%A3", "seed=99999999999999999999", "seed=-5", "sort=" + "s" * 300,
           "dir=%0D%0A", "next=%0D%0ASet-Cookie:%20x=1", "next=/%0D%0AX:y", "kind=%FF%FE")
FORM_VALUES = ("a\x00b", "x" * 300, "\u00b2\u0663", "\r\nX: y", "99999999999999999999", "")
FORM_FIELDS = ("username", "password", "display_name", "join_code", "confirm", "answer", "token",
               "request_token", "source", "current", "new", "reveal", "back", "csrf_token")
ROLES = (None, "alice", "ines")


# --- backends ---------------------------------------------------------------------------------

@pytest.fixture(params=["sqlite", "postgresql"])
def fuzz_app(request, make_app, web_bank):
    """The test app on SQLite, or on a fresh migrated PostgreSQL database of its own."""
    if request.param == "sqlite":
        yield make_app()
        return
    from tests.conftest import _add_web_users
    from tests.test_postgres import _create_or_skip, _drop
    from web.db import upgrade_database

    name = f"stride_fuzz_{secrets.token_hex(6)}"
    url = _create_or_skip(name)
    try:
        upgrade_database(url)
        _add_web_users(url)
        app = make_app(DATABASE_URL=url)
        yield app
        app.extensions["stride_engine"].dispose()
    finally:
        _drop(name)


# --- the requests -----------------------------------------------------------------------------

def _valid_args(app) -> dict[str, str]:
    bank = app.extensions["stride_bank"]
    with session_factory(app)() as session:
        alice = session.scalar(select(User.id).where(User.username == "alice"))
    return {"set_id": "open-set", "problem_id": sorted(bank.problems)[0],
            "exercise": "conv_step_by_step", "kind": "scores", "submission_id": "1",
            "user_id": str(alice), "filename": "style.css", "link_id": "1"}


def _url(rule, args: dict[str, str]) -> str:
    url = rule.rule
    for name, converter in rule._converters.items():
        kind = type(converter).__name__
        placeholder = (f"<{'int:' if kind == 'DatabaseId' else 'path:' if kind == 'PathConverter' else ''}"
                       f"{name}>")
        url = url.replace(placeholder, args[name])
    return url


def _requests(app):
    """(method, url, form or None) for every rule: each argument fuzzed, then each query."""
    valid = _valid_args(app)
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        methods = sorted(rule.methods & {"GET", "POST"})
        for name, converter in rule._converters.items():
            values = INT_VALUES if type(converter).__name__ == "DatabaseId" else TEXT_VALUES
            for value in values:
                for method in methods:
                    yield method, _url(rule, {**valid, name: value}), None
        url = _url(rule, valid)
        for query in QUERIES:
            yield methods[0], f"{url}?{query}", None
        if "POST" in methods and rule.rule != "/auth/logout":
            for value in FORM_VALUES:
                yield "POST", url, {field: value for field in FORM_FIELDS}


def _sign_in(app, username):
    client = app.test_client()
    if username:
        response = client.post("/auth/login", data={"username": username,
                                                    "password": WEB_PASSWORD})
        assert response.status_code == 302, username
    return client


def test_no_route_answers_500_to_hostile_input(fuzz_app):
    failures, sent = [], 0
    for username in ROLES:
        client = _sign_in(fuzz_app, username)
        for method, url, form in _requests(fuzz_app):
            response = client.open(url, method=method, data=form)
            sent += 1
            if response.status_code >= 500:
                failures.append(f"{username or 'visitor'}: {method} {url[:120]} "
                                f"{sorted(form) if form else ''} -> {response.status_code}")
        client.post("/auth/logout")
    fuzz_app.extensions["stride_pool"].wait_all()
    assert sent > 1000
    assert not failures, "\n".join(failures)


# --- the named cases: each a 4xx with a clear sentence ----------------------------------------

def _text(response) -> str:
    return response.get_data(as_text=True)


NUL = "The request contains a NUL character"


@pytest.mark.parametrize(("who", "url", "status", "message"), [
    ("alice", "/code/submissions/99999999999999999999", 404, "Not found"),
    ("alice", "/code/submissions/%D9%A3", 404, "Not found"),
    ("alice", "/code/submissions/9223372036854775808/status", 404, "Not found"),
    ("ines", "/instructor/students/99999999999999999999", 404, "Not found"),
    ("alice", "/sets/open-set?course=%00", 400, NUL),
    ("alice", "/sets/%00", 400, NUL),
    (None, "/practice/%00", 400, NUL),
])
def test_hostile_urls_get_a_4xx_that_says_why(fuzz_app, who, url, status, message):
    response = _sign_in(fuzz_app, who).get(url)
    assert response.status_code == status and message in _text(response)


def test_unicode_digits_in_the_query_are_ignored_where_no_number_is_read(fuzz_app):
    pid = _valid_args(fuzz_app)["problem_id"]
    client = _sign_in(fuzz_app, "alice")
    assert client.get(f"/sets/open-set/{pid}?seed=%D9%A3&course=%C2%B2").status_code == 200


@pytest.mark.parametrize("target", ["%0D%0ASet-Cookie:%20x=1", "/%0D%0AX:y", "/sets%00"])
def test_a_next_with_control_characters_goes_home(fuzz_app, target):
    response = fuzz_app.test_client().post(f"/auth/login?next={target}", data={
        "username": "alice", "password": WEB_PASSWORD})
    if "%00" in target:
        assert response.status_code == 400 and NUL in _text(response)
    else:
        assert response.status_code == 302 and response.headers["Location"] == "/"


def _register(app, **fields):
    form = {"join_code": "join-me", "username": "newcomer", "display_name": "New Comer",
            "password": "long-enough-1", "confirm": "long-enough-1", **fields}
    return app.test_client().post("/auth/register", data=form)


@pytest.mark.parametrize(("fields", "message"), [
    ({"username": "u" * 81}, "is not allowed: use 2 to 80 letters"),
    ({"username": "new\x00comer"}, NUL),
    ({"display_name": "D" * 201}, "Your name is 201 characters long; please shorten it to at "
                                  "most 200."),
    ({"display_name": "New\x00Comer"}, NUL),
    ({"display_name": "New\nComer"}, "control characters"),
    ({"password": "p" * 2000, "confirm": "p" * 2000}, "at most 1024 characters"),
])
def test_registration_refuses_hostile_names_with_a_sentence(fuzz_app, fields, message):
    response = _register(fuzz_app, **fields)
    assert response.status_code == 400 and message in _text(response)
    with session_factory(fuzz_app)() as session:
        assert session.scalar(select(User).where(User.username.startswith("new"))) is None


def test_a_long_username_echo_is_shortened(fuzz_app):
    import re

    page = _text(_register(fuzz_app, username="u" * 5000))
    message = re.search(r'<p class="flash flash-error"[^>]*>(.*?)</p>', page, re.S).group(1)
    assert "u" * 41 not in message and "uuu...&#39; is not allowed" in message


@pytest.mark.parametrize("form", [
    {"username": "ali\x00ce", "password": WEB_PASSWORD},
    {"username": "alice", "password": "pass\x00word"},
])
def test_sign_in_with_a_nul_is_a_400(fuzz_app, form):
    response = fuzz_app.test_client().post("/auth/login", data=form)
    assert response.status_code == 400 and NUL in _text(response)


def test_an_answer_with_a_nul_is_a_400_and_records_nothing(fuzz_app):
    from sqlalchemy import func

    from web.models import Submission

    pid = _valid_args(fuzz_app)["problem_id"]
    client = _sign_in(fuzz_app, "alice")
    client.get(f"/sets/open-set/{pid}")
    response = client.post(f"/sets/open-set/{pid}", data={
        "answer": "2\x009", "request_token": secrets.token_urlsafe(24)})
    assert response.status_code == 400 and NUL in _text(response)
    with session_factory(fuzz_app)() as session:
        assert session.scalar(select(func.count(Submission.id))) == 0
