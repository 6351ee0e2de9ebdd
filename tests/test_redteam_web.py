"""The web app as a curious student or a hostile page would try it, beyond the authorization
matrix (tests/test_authz.py): a forged cross-site form on every state-changing route, and
open redirects through `next=` after sign-in."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from tests.conftest import WEB_PASSWORD, WallsWorld, add_walls_world
from tests.test_authz import CASES, _fill
from web.db import session_factory
from web.models import ScoreChange, Submission, User
from web.render import _MATHML_TAGS as MATHML_TAGS

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def csrf_world(make_app):
    app = make_app(WTF_CSRF_ENABLED=True)
    return app, add_walls_world(app)


def _sign_in(client, label: str) -> None:
    token = TOKEN.search(client.get("/auth/login").get_data(as_text=True)).group(1)
    response = client.post("/auth/login", data={"username": WallsWorld.username(label),
                                                "password": WEB_PASSWORD, "csrf_token": token})
    assert response.status_code == 302, f"could not sign in as {label}"


def _counts(app) -> tuple[int, int, int]:
    with session_factory(app)() as session:
        return (session.scalar(select(func.count()).select_from(Submission)),
                session.scalar(select(func.count()).select_from(ScoreChange)),
                session.scalar(select(func.count()).select_from(User)))


POSTS = [case for case in CASES if case.method == "POST"]


def test_the_table_has_state_changing_routes_to_try():
    assert len({case.rule for case in POSTS}) >= 8


# The LTI login and launch come from the platform's own form: their state and the platform's
# signed id_token stand in for the token (tests/test_lti*.py). No other view is exempt.
EXEMPT = {"/lti/login", "/lti/launch"}


def _exempt_rules(app) -> set[str]:
    from web.security import csrf

    names = {f"{view.__module__}.{view.__name__}" for view in app.view_functions.values()}
    exempt = names & set(csrf._exempt_views)
    return {rule.rule for rule in app.url_map.iter_rules()
            if f"{app.view_functions[rule.endpoint].__module__}."
               f"{app.view_functions[rule.endpoint].__name__}" in exempt}


def test_only_the_lti_entry_points_are_exempt_from_csrf(csrf_world):
    app, _world = csrf_world
    assert _exempt_rules(app) == EXEMPT


@pytest.mark.parametrize("principal", ["anonymous", "a1", "inst_a"])
def test_every_post_without_the_forms_token_is_refused_and_changes_nothing(csrf_world,
                                                                           principal):
    app, world = csrf_world
    client = app.test_client()
    if principal != "anonymous":
        _sign_in(client, principal)
    before = _counts(app)
    for case in POSTS:
        if case.rule in EXEMPT:
            continue
        url = _fill(case.url, app, world)
        # A page elsewhere can make the browser post any fields, but cannot read the token.
        for data in (case.data or {}, {**(case.data or {}), "csrf_token": "forged"}):
            response = client.post(url, data=data, headers={"Origin": "https://evil.example"})
            assert response.status_code == 400, f"POST {url} as {principal}"
    assert _counts(app) == before
    if principal != "anonymous":  # still signed in: the refused logout ended nothing
        assert client.get("/").status_code == 200


HOSTILE_NEXT = [
    "//evil.example/", "///evil.example/", "/\\evil.example/", "\\\\evil.example/",
    "https://evil.example/", "http:evil.example", "javascript:alert(1)", "/\t/evil.example/",
    "/\r\nLocation: https://evil.example/", "/%0d%0aSet-Cookie:%20a=b", " //evil.example/",
    "/\x00/evil.example", "evil.example", "/\u2044\u2044evil.example", "/\uff0f/evil.example",
]


@pytest.mark.parametrize("target", HOSTILE_NEXT)
def test_next_after_sign_in_never_leaves_the_site(app, walls_world, target):
    client = app.test_client()
    response = client.post("/auth/login", query_string={"next": target},
                           data={"username": WallsWorld.username("a1"),
                                 "password": WEB_PASSWORD})
    assert response.status_code in (302, 400), response.status_code
    if response.status_code == 400:  # refused outright (a NUL byte) is fine too
        return
    location = response.headers["Location"]
    parts = urlsplit(location)
    assert parts.netloc in ("", "localhost"), location
    assert parts.path.startswith("/") and not parts.path.startswith("//"), location
    assert "\\" not in location and "\r" not in location and "\n" not in location
    assert "evil.example" not in parts.netloc


def test_a_same_site_next_is_still_followed(app, walls_world):
    client = app.test_client()
    response = client.post("/auth/login", query_string={"next": "/sets/open-set?x=1"},
                           data={"username": WallsWorld.username("a1"),
                                 "password": WEB_PASSWORD})
    assert response.headers["Location"].endswith("/sets/open-set?x=1")


@pytest.mark.parametrize("answer", [
    r"$\style{position:fixed;top:0;left:0;width:100%;height:100%;background:white}{x}$",
    r"$\text{<img src=x onerror=alert(1)>}$", r"$\href{javascript:alert(1)}{x}$",
    r"$\color{red"" onmouseover=""alert(1)}{x}$", "<script>alert(1)</script>",
    "[[" + "[" * 5000 + "]" * 5000 + "]]", "$" + r"\frac{" * 2000 + "$",
])
def test_a_students_answer_rendered_as_math_carries_no_markup_of_its_own(answer):
    # Raw answers are shown through the `math` filter (an instructor's statistics, the
    # student's own history): MathML only, no attribute that styles, links or runs anything.
    from web.render import render_text

    html = str(render_text(answer))
    for tag in re.findall(r"<[^>]*>", html):
        name = re.match(r"</?([a-z]+)", tag).group(1)
        assert name == "code" or name in MATHML_TAGS, tag
        names = re.sub(r'"[^"]*"', '""', tag)  # attribute values may say anything, quoted
        assert not re.search(r"\s(style|on\w+|href|src|xlink:href)\s*=", names), tag


def test_ordinary_math_still_renders_as_mathml():
    from web.render import render_text

    html = str(render_text(r"$\displaystyle \frac{a}{b}$ and $\begin{bmatrix}1&2\end{bmatrix}$"))
    assert html.count("<math") == 2 and "displaystyle" in html and "<code>" not in html


def test_an_instructor_cannot_take_over_a_student_who_is_also_in_another_course(app,
                                                                                walls_world):
    from web.models import Enrollment, PasswordReset

    with session_factory(app)() as session:
        session.add(Enrollment(user_id=walls_world.users["a1"],
                               course_id=walls_world.courses["B"], role="student"))
        session.commit()
    client = app.test_client()
    response = client.post("/auth/login", data={"username": WallsWorld.username("inst_a"),
                                                "password": WEB_PASSWORD})
    assert response.status_code == 302
    # A reset link would let instructor A sign in as a1 and see and answer course B's sets.
    response = client.post(f"/instructor/admin/students/{walls_world.users['a1']}/reset",
                           query_string={"course": walls_world.courses["A"]})
    with session_factory(app)() as session:
        issued = session.scalar(select(func.count()).select_from(PasswordReset))
    assert response.status_code == 403 and issued == 0
