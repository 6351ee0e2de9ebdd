"""LTI 1.3: registration, launches, deep linking and scores through AGS, driven end to end
against the fake platform of tests/lti_platform.py (a real HTTP server on 127.0.0.1).

tests/test_lti_e2e.py runs the same flows against an independent platform implementation
(lti1p3platform); what stays here is what that platform cannot produce: tokens for several
audiences, hand-signed tokens, the sub-to-account mapping, cookies, CSRF, backoff timing,
best/latest policies and regrades."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from conftest import answer_post
from jwt.algorithms import RSAAlgorithm
from lti_platform import FakePlatform, new_private_key
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from web.db import session_factory
from web.lti import outcomes
from web.models import (
    Course,
    Enrollment,
    LtiIdentity,
    LtiScoreOutbox,
    User,
    VariantRecord,
    utcnow,
)

PASSWORD = "correct-horse-1"


@pytest.fixture
def lti_app(make_app):
    return make_app(PREFERRED_URL_SCHEME="https")


@pytest.fixture
def platform():
    fake = FakePlatform().start()
    yield fake
    fake.stop()


def _course_id(app) -> int:
    with session_factory(app)() as session:
        return session.scalar(select(Course.id).where(Course.name == "Test course"))


def _sign_in(client, username="ines"):
    response = client.post("/auth/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 302


@pytest.fixture
def registered(lti_app, platform):
    """The platform registered in Stride by the course's instructor, Stride's JWKS in the LMS."""
    staff = lti_app.test_client()
    _sign_in(staff)
    response = staff.post("/lti/registrations", data=platform.registration_form(
        _course_id(lti_app)))
    assert response.status_code == 302, response.get_data(as_text=True)
    platform.tool_jwks = staff.get("/lti/jwks.json").get_json()
    platform.redirect_uris = ("https://localhost/lti/launch",)
    return platform


def _begin(client, platform, hint="u1", claims=None) -> dict:
    """The OIDC login: Stride redirects to the platform; returns that redirect's parameters."""
    claims = claims if claims is not None else platform.launch_claims(hint)
    response = client.get("/lti/login?" + platform.oidc_query(hint, claims))
    assert response.status_code == 302, response.get_data(as_text=True)
    location = response.headers["Location"]
    assert location.startswith(platform.url + "/auth?")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()} | {"url": location}


def _authorize(params: dict) -> dict:
    """The platform's answer to the redirect: the auto-posted form's fields."""
    page = requests.get(params["url"], timeout=10).text
    return {name: unescape(value) for name, value in
            re.findall(r'name="(\w+)" value="([^"]*)"', page)}


def launch(client, platform, sub="u1", role="student", **kwargs):
    claims = platform.launch_claims(sub, role, **kwargs)
    form = _authorize(_begin(client, platform, sub, claims))
    return client.post("/lti/launch", data=form)


def _forged(client, platform, mutate, key=None, kid=None, sub="u1"):
    """A launch whose id_token the test builds (from a real login's state and nonce)."""
    params = _begin(client, platform, sub, {})
    claims = platform.launch_claims(sub, nonce=params["nonce"])
    mutate(claims)
    token = platform.sign(claims, key=key, kid=kid)
    return client.post("/lti/launch", data={"id_token": token, "state": params["state"]})


def _user(app, sub="u1") -> User | None:
    with session_factory(app)() as session:
        identity = session.scalar(select(LtiIdentity).where(LtiIdentity.sub == sub))
        return None if identity is None else session.get(User, identity.user_id)


def _role(app, user_id) -> str:
    with session_factory(app)() as session:
        return session.scalar(select(Enrollment.role).where(
            Enrollment.user_id == user_id, Enrollment.course_id == _course_id(app)))


# --- registration and keys ---------------------------------------------------------------------

def test_registration_page_shows_the_urls_to_paste_and_refuses_bad_fields(lti_app, platform):
    staff = lti_app.test_client()
    _sign_in(staff)
    page = staff.get("/lti/registrations").get_data(as_text=True)
    for url in ("https://localhost/lti/login", "https://localhost/lti/launch",
                "https://localhost/lti/jwks.json"):
        assert url in page
    form = platform.registration_form(_course_id(lti_app)) | {
        "key_set_url": "http://lms.example.edu/jwks"}
    response = staff.post("/lti/registrations", data=form)
    assert response.status_code == 422
    assert "must use https://" in response.get_data(as_text=True)
    response = staff.post("/lti/registrations", data=form | {"deployment_ids": " "})
    assert response.status_code == 422
    student = lti_app.test_client()
    _sign_in(student, "alice")
    assert student.get("/lti/registrations").status_code == 403


def test_keys_are_made_once_stored_and_rotation_keeps_the_previous_key_published(lti_app):
    client = lti_app.test_client()
    first = client.get("/lti/jwks.json").get_json()["keys"]
    assert len(first) == 1 and first == client.get("/lti/jwks.json").get_json()["keys"]
    assert "d" not in first[0]  # never the private part
    with session_factory(lti_app)() as session:
        session.add(User(username="root", role="admin", password_hash=generate_password_hash(
            PASSWORD, method="pbkdf2:sha256:1000")))
        session.commit()
    admin = lti_app.test_client()
    _sign_in(admin, "root")
    admin.post("/lti/keys/rotate")
    second = [k["kid"] for k in client.get("/lti/jwks.json").get_json()["keys"]]
    assert len(second) == 2 and second[1] == first[0]["kid"]
    admin.post("/lti/keys/rotate")
    third = [k["kid"] for k in client.get("/lti/jwks.json").get_json()["keys"]]
    assert len(third) == 2 and third[1] == second[0] and first[0]["kid"] not in third
    teacher = lti_app.test_client()
    _sign_in(teacher)
    assert teacher.post("/lti/keys/rotate").status_code == 403


# --- launches ----------------------------------------------------------------------------------

def test_a_student_launch_signs_in_a_new_account_by_issuer_and_sub_and_opens_the_set(
        lti_app, registered):
    browser = lti_app.test_client()
    response = launch(browser, registered, "u1")
    assert response.status_code == 302 and response.headers["Location"] == "/sets/open-set"
    assert browser.get("/sets/open-set").status_code == 200
    user = _user(lti_app, "u1")
    assert user.username.startswith("lti-") and user.display_name == "User u1"
    assert _role(lti_app, user.id) == "student"
    # The same sub again: the same account. Another sub with the same name: another account.
    again = lti_app.test_client()
    assert launch(again, registered, "u1").status_code == 302
    assert _user(lti_app, "u1").id == user.id
    assert launch(lti_app.test_client(), registered, "u2", name="User u1").status_code == 302
    assert _user(lti_app, "u2").id != user.id


def test_launch_roles_become_course_roles_and_staff_land_on_the_sets_gradebook(
        lti_app, registered):
    browser = lti_app.test_client()
    response = launch(browser, registered, "t1", "instructor")
    course = _course_id(lti_app)
    assert response.headers["Location"] == f"/instructor/gradebook?course={course}&sort=open-set"
    assert browser.get(response.headers["Location"]).status_code == 200
    assert _role(lti_app, _user(lti_app, "t1").id) == "instructor"
    launch(lti_app.test_client(), registered, "a1", "ta", target="exercise:conv_step_by_step")
    assert _role(lti_app, _user(lti_app, "a1").id) == "ta"
    student = lti_app.test_client()
    launch(student, registered, "s1", target="exercise:conv_step_by_step")
    assert student.get("/instructor/gradebook").status_code == 403  # no way past the walls


def test_lti_sessions_get_iframe_cookies_and_frame_ancestors_and_others_do_not(
        lti_app, registered):
    browser = lti_app.test_client()
    response = launch(browser, registered, "u1")
    cookie = next(c for c in response.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "SameSite=None" in cookie and "Secure" in cookie
    page = browser.get("/sets/open-set")
    assert f"frame-ancestors 'self' {registered.url}" in page.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in page.headers
    plain = lti_app.test_client()
    signed_in = plain.post("/auth/login", data={"username": "alice", "password": PASSWORD})
    cookie = next(c for c in signed_in.headers.getlist("Set-Cookie") if c.startswith("session="))
    assert "SameSite=None" not in cookie
    page = plain.get("/sets/open-set")
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"


# --- refusals ----------------------------------------------------------------------------------

def _refused(response, status, text):
    body = response.get_data(as_text=True)
    assert response.status_code == status, body
    assert text in body


def test_a_token_signed_with_another_key_is_refused(lti_app, registered):
    response = _forged(lti_app.test_client(), registered, lambda c: None, key=new_private_key())
    _refused(response, 400, "signature or claims do not verify")
    assert _user(lti_app) is None


def test_a_token_for_another_audience_is_refused(lti_app, registered):
    response = _forged(lti_app.test_client(), registered,
                       lambda c: c.update(aud=["stride-client", "other-tool"], azp="other-tool"))
    _refused(response, 400, "another authorized party")
    response = _forged(lti_app.test_client(), registered, lambda c: c.update(aud="other-tool"))
    _refused(response, 400, "No LMS with this issuer and client id")


def test_a_replayed_launch_is_refused_even_in_the_same_browser(lti_app, registered):
    browser = lti_app.test_client()
    claims = registered.launch_claims("u1")
    form = _authorize(_begin(browser, registered, "u1", claims))
    assert browser.post("/lti/launch", data=form).status_code == 302
    _refused(browser.post("/lti/launch", data=form), 400, "already used once")
    _refused(lti_app.test_client().post("/lti/launch", data=form), 400, "did not")


def test_a_link_to_nothing_stride_has_gets_a_clear_page(lti_app, registered):
    response = launch(lti_app.test_client(), registered, "u1", target="set:gone")
    _refused(response, 403, "not a problem set or code exercise in Stride")


# --- deep linking ------------------------------------------------------------------------------

def test_deep_linking_lets_an_instructor_pick_a_set_with_csrf_still_checked(
        make_app, registered):
    # The same database as `registered`'s app (the registration is there), CSRF checked.
    app = make_app(PREFERRED_URL_SCHEME="https", WTF_CSRF_ENABLED=True)
    browser = app.test_client()
    response = launch(browser, registered, "t1", "instructor", deep_link=True)
    assert response.headers["Location"] == "/lti/deep-link"
    page = browser.get("/lti/deep-link").get_data(as_text=True)
    assert 'value="set:open-set"' in page, page[page.find("<main>"):]
    assert 'value="set:open-set"' in page and 'value="exercise:conv_step_by_step"' in page
    assert browser.post("/lti/deep-link", data={"target": "set:open-set"}).status_code == 400
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    answer = browser.post("/lti/deep-link", data={"target": "set:open-set", "csrf_token": token},
                          headers={"Referer": "https://localhost/lti/deep-link"})
    html = answer.get_data(as_text=True)
    assert f'action="{registered.url}/deep-link-return"' in html
    assert f"form-action 'self' {registered.url}" in answer.headers["Content-Security-Policy"]
    signed = re.search(r'name="JWT" value="([^"]+)"', html).group(1)
    kid = jwt.get_unverified_header(signed)["kid"]
    key = next(k for k in registered.tool_jwks["keys"] if k["kid"] == kid)
    claims = jwt.decode(signed, RSAAlgorithm.from_jwk(json.dumps(key)), algorithms=["RS256"],
                        audience=registered.issuer)
    item, = claims["https://purl.imsglobal.org/spec/lti-dl/claim/content_items"]
    assert item["custom"] == {"stride_target": "set:open-set", "stride_score": "best"}
    assert item["url"] == "https://localhost/lti/launch" and item["lineItem"]["scoreMaximum"] > 0
    student = app.test_client()
    _refused(launch(student, registered, "s1", deep_link=True), 400, "teaching assistants can pick")


# --- scores through AGS ------------------------------------------------------------------------

def _answer(app, client, web_answer, set_id="open-set", correct=True):
    """Answer the set's first problem through the page, as a student would."""
    problem_id = app.extensions["stride_bank"].sets[set_id].items[0].problem_id
    from grader.variants import Variant
    client.get(f"/sets/{set_id}/{problem_id}")
    with session_factory(app)() as session:
        record = session.scalars(select(VariantRecord).where(
            VariantRecord.set_id == set_id, VariantRecord.problem_id == problem_id)
            .order_by(VariantRecord.id.desc())).first()
        variant = Variant.from_json(json.loads(record.variant_json))
    response = client.post(f"/sets/{set_id}/{problem_id}",
                           data=answer_post(web_answer(variant, correct)))
    assert response.status_code == 302
    return problem_id


def _set_points(app, set_id="open-set"):
    items = app.extensions["stride_bank"].sets[set_id].items
    return items[0].points, float(sum(i.points for i in items))


def test_a_platform_that_is_down_mid_course_loses_no_score(lti_app, registered, web_answer):
    students = {sub: lti_app.test_client() for sub in ("u1", "u2", "u3")}
    for sub, browser in students.items():
        launch(browser, registered, sub)
    registered.stop()
    for sub, browser in students.items():
        _answer(lti_app, browser, web_answer, correct=sub != "u3")
    now = utcnow()
    down = outcomes.drain(lti_app, now=now)
    assert (down.sent, down.failed) == (0, 3)
    assert outcomes.drain(lti_app, now=now + timedelta(seconds=5)).failed == 0  # backing off
    again = outcomes.drain(lti_app, now=now + timedelta(seconds=31))
    assert again.failed == 3
    with session_factory(lti_app)() as session:
        rows = session.scalars(select(LtiScoreOutbox)).all()
        assert [r.tries for r in rows] == [2, 2, 2] and all(r.last_error for r in rows)
        assert rows[0].next_try_at - (now + timedelta(seconds=31)) == timedelta(seconds=60)
    registered.start()  # back, on the same port
    back = outcomes.drain(lti_app, now=now + timedelta(hours=1))
    assert (back.sent, back.failed, back.next_due) == (3, 0, None)
    earned, total = _set_points(lti_app)
    assert {s["userId"]: s["scoreGiven"] for s in registered.scores} == {
        "u1": earned, "u2": earned, "u3": 0.0}


def _graded_code(app, monkeypatch, points: float) -> None:
    """A code submission of `points` out of 4, graded (the grading job's path, without a sandbox)."""
    from web.code import task
    from web.models import CodeSubmission

    monkeypatch.setattr(task, "_grade", lambda source, exercise, sid, p=points:
                        task._finished("done", report={"score": p, "max_score": 4.0}))
    with session_factory(app)() as session:
        row = CodeSubmission(user_id=_user(app).id, exercise="conv_step_by_step",
                             source="x = 1", status="queued", heartbeat_at=utcnow())
        session.add(row)
        session.commit()
    task.grade_submission(session_factory(app), row.id)


@pytest.mark.parametrize("policy, expected", [("best", 3.0), ("latest", 1.0)])
def test_a_link_sends_the_best_or_the_latest_code_score(lti_app, registered, monkeypatch,
                                                        policy, expected):
    claims = registered.launch_claims("u1", target="exercise:conv_step_by_step")
    claims["https://purl.imsglobal.org/spec/lti/claim/custom"]["stride_score"] = policy
    browser = lti_app.test_client()
    assert browser.post("/lti/launch", data=_authorize(_begin(browser, registered, "u1",
                                                              claims))).status_code == 302
    for points in (3.0, 1.0):
        _graded_code(lti_app, monkeypatch, points)
    assert outcomes.drain(lti_app).sent == 1  # both changes went out as one, the newest
    score, = registered.scores_of("u1")
    assert score["scoreGiven"] == expected


def test_a_score_recorded_while_an_older_one_is_being_sent_is_sent_too(lti_app, registered,
                                                                      monkeypatch):
    claims = registered.launch_claims("u1", target="exercise:conv_step_by_step")
    claims["https://purl.imsglobal.org/spec/lti/claim/custom"]["stride_score"] = "latest"
    browser = lti_app.test_client()
    assert browser.post("/lti/launch", data=_authorize(_begin(browser, registered, "u1",
                                                              claims))).status_code == 302
    _graded_code(lti_app, monkeypatch, 1.0)
    send = outcomes._send
    newer: list[float] = []

    def send_then_grade_again(*args, **kwargs):
        score = send(*args, **kwargs)  # 1.0 is posted ...
        if not newer:  # ... and before the drain marks the row sent, a new result comes in
            newer.append(3.0)
            _graded_code(lti_app, monkeypatch, 3.0)
        return score

    monkeypatch.setattr(outcomes, "_send", send_then_grade_again)
    first = outcomes.drain(lti_app)
    assert first.sent == 1 and first.next_due is not None  # the row stays pending, due now
    assert outcomes.drain(lti_app, now=first.next_due).sent == 1
    assert [s["scoreGiven"] for s in registered.scores_of("u1")] == [1.0, 3.0]
    assert outcomes.drain(lti_app, now=first.next_due + timedelta(hours=1)).sent == 0
    with session_factory(lti_app)() as session:
        rows = session.scalars(select(LtiScoreOutbox)).all()
        assert [(r.score_given, r.sent_at is not None) for r in rows] == [(3.0, True)]


def test_a_regrade_resends_the_affected_scores(lti_app, registered, web_answer):
    browser = lti_app.test_client()
    launch(browser, registered, "u1")
    problem_id = _answer(lti_app, browser, web_answer)
    outcomes.drain(lti_app)
    staff = lti_app.test_client()
    _sign_in(staff)
    assert staff.post(f"/instructor/regrade/{problem_id}", data={"action": "apply"}
                      ).status_code == 302  # a dry run first sends nothing
    assert outcomes.drain(lti_app).sent == 1
    assert len(registered.scores_of("u1")) == 2


# --- names and roles (roster sync) -------------------------------------------------------------

def test_an_instructor_syncs_the_lms_roster_and_students_who_never_launched_appear(
        lti_app, registered):
    teacher = lti_app.test_client()
    launch(teacher, registered, "t1", "instructor")
    registered.members = [
        {"user_id": "t1", "name": "Teacher", "roles": ["Instructor"], "status": "Active"},
        {"user_id": "never", "name": "Nadia Never-Launched", "roles": [
            "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"], "status": "Active"},
        {"user_id": "gone", "name": "Gone", "roles": ["Learner"], "status": "Inactive"}]
    page = teacher.get("/lti/registrations").get_data(as_text=True)
    link_id = re.search(r'/lti/links/(\d+)/roster', page).group(1)
    response = teacher.post(f"/lti/links/{link_id}/roster", follow_redirects=True)
    assert "2 members of the LMS course synced into Stride, 1 of them new." in \
        response.get_data(as_text=True)
    assert _role(lti_app, _user(lti_app, "never").id) == "student"
    assert _user(lti_app, "gone") is None
    gradebook = teacher.get(f"/instructor/gradebook?course={_course_id(lti_app)}")
    assert "Nadia Never-Launched" in gradebook.get_data(as_text=True)
    student = lti_app.test_client()
    launch(student, registered, "s9")
    assert student.post(f"/lti/links/{link_id}/roster").status_code == 404  # outside the walls
