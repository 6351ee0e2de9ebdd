"""LTI 1.3 end to end against an independent platform implementation: the LMS of
tests/lti_lms.py is `lti1p3platform` (its registration, OIDC login initiation, signed launches,
deep linking, token endpoint, AGS and NRPS handlers) on 127.0.0.1; Stride is its tool."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape
from urllib.parse import urlsplit

import jwt
import pytest
import requests
from conftest import _answer_text
from lti_lms import TOOL, Lms, new_pem
from sqlalchemy import select
from test_lti import _answer, _course_id, _role, _set_points, _sign_in, _user

from web.db import session_factory
from web.lti import outcomes
from web.models import CodeSubmission, LtiScoreOutbox, utcnow

pytest.importorskip("lti1p3platform")


@pytest.fixture
def lti_app(make_app):
    return make_app(PREFERRED_URL_SCHEME="https")


@pytest.fixture
def lms():
    server = Lms(users={"t1": ("Tess Teacher", "instructor"), "u1": ("Uma One", "student"),
                        "u2": ("Ugo Two", "student"), "u3": ("Una Three", "student")})
    server.add_link("link-1", "set:open-set")
    server.add_link("code-1", "exercise:conv_step_by_step")
    yield server.start()
    server.stop()


@pytest.fixture
def registered(lti_app, lms):
    """The LMS registered in Stride by the course's instructor; Stride's JWKS pasted in the LMS."""
    staff = lti_app.test_client()
    _sign_in(staff)
    response = staff.post("/lti/registrations", data=lms.registration_form(_course_id(lti_app)))
    assert response.status_code == 302, response.get_data(as_text=True)
    lms.tool_jwks = staff.get("/lti/jwks.json").get_json()
    return lms


def _local(url: str) -> str:
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == TOOL, url
    return f"{parts.path}?{parts.query}"


def login_redirect(client, lms, sub, link_id="link-1", deep_link=False) -> str:
    """The LMS starts the launch; Stride's login answers with the LMS's auth URL."""
    started = requests.get(f"{lms.url}/start/{link_id}", params={
        "user": sub, "dl": "1" if deep_link else "0"}, allow_redirects=False, timeout=10)
    assert started.status_code == 302, started.text
    response = client.get(_local(started.headers["Location"]))
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"].startswith(f"{lms.url}/oidc/auth?")
    return response.headers["Location"]


def auth_form(auth_url: str) -> dict:
    """The LMS's auto-posting launch form (its fields), for `auth_url`."""
    page = requests.get(auth_url, timeout=10)
    assert page.status_code == 200, page.text
    assert f'action="{TOOL}/lti/launch"' in page.text
    return {name: unescape(value) for name, value in
            re.findall(r'name="(\w+)" value="([^"]*)"', page.text)}


def launch(client, lms, sub, link_id="link-1", deep_link=False):
    form = auth_form(login_redirect(client, lms, sub, link_id, deep_link))
    return client.post("/lti/launch", data=form)


def _refused(response, status, text):
    body = response.get_data(as_text=True)
    assert response.status_code == status, body
    assert text in body


# --- registration, launches, deep linking ------------------------------------------------------

def test_an_instructor_deep_links_a_set_and_then_students_launch_it(lti_app, registered):
    teacher = lti_app.test_client()
    response = launch(teacher, registered, "t1", "dl", deep_link=True)
    assert response.headers["Location"] == "/lti/deep-link"
    page = teacher.get("/lti/deep-link").get_data(as_text=True)
    assert 'value="set:open-set"' in page
    answer = teacher.post("/lti/deep-link", data={"target": "set:open-set", "score": "latest"})
    html = answer.get_data(as_text=True)
    assert f'action="{registered.url}/deep-link-return"' in html
    signed = unescape(re.search(r'name="JWT" value="([^"]+)"', html).group(1))
    # The LMS checks the answer's signature against Stride's JWKS (lti1p3platform's check).
    saved = requests.post(f"{registered.url}/deep-link-return", data={"JWT": signed}, timeout=10)
    assert saved.status_code == 200, saved.text
    item, = registered.deep_linked
    assert item["url"] == f"{TOOL}/lti/launch"
    link = registered.links["dl-3"]  # after link-1 and code-1
    assert link.custom == {"stride_target": "set:open-set", "stride_score": "latest"}
    # The instructor opens the new link: the set's gradebook. A student: the set.
    course = _course_id(lti_app)
    assert launch(lti_app.test_client(), registered, "t1", link.id).headers["Location"] == \
        f"/instructor/gradebook?course={course}&sort=open-set"
    assert _role(lti_app, _user(lti_app, "t1").id) == "instructor"
    student = lti_app.test_client()
    assert launch(student, registered, "u1", link.id).headers["Location"] == "/sets/open-set"
    assert _user(lti_app, "u1").display_name == "Uma One"
    assert _role(lti_app, _user(lti_app, "u1").id) == "student"
    # Its score goes to the line item the deep link made.
    _answer(lti_app, student, _answer_text)
    assert outcomes.drain(lti_app).sent == 1
    score, = registered.scores_of("u1")
    assert score["lineitem"] == link.lineitem and score["scoreGiven"] == _set_points(lti_app)[0]


def test_a_student_launch_and_a_graded_answer_reach_the_lms_through_ags(lti_app, registered):
    student = lti_app.test_client()
    response = launch(student, registered, "u1")
    assert response.status_code == 302 and response.headers["Location"] == "/sets/open-set"
    assert student.get("/sets/open-set").status_code == 200
    _answer(lti_app, student, _answer_text)
    result = outcomes.drain(lti_app)
    assert (result.sent, result.failed) == (1, 0)
    score, = registered.scores_of("u1")
    earned, total = _set_points(lti_app)
    assert (score["scoreGiven"], score["scoreMaximum"]) == (earned, total)
    item, = registered.lineitems.values()  # created by Stride through AGS
    assert item["resourceId"] == "set:open-set" and item["scoreMaximum"] == total
    assert item["resourceLinkId"] == "link-1"


def test_a_graded_code_submission_is_sent(lti_app, registered, monkeypatch):
    from web.code import task

    registered.links["code-1"].lineitem = registered.add_lineitem(
        {"label": "Conv", "scoreMaximum": 4})["id"]
    launch(lti_app.test_client(), registered, "u1", "code-1")
    monkeypatch.setattr(task, "_grade", lambda source, exercise, sid: task._finished(
        "done", report={"score": 3.0, "max_score": 4.0}))
    with session_factory(lti_app)() as session:
        row = CodeSubmission(user_id=_user(lti_app).id, exercise="conv_step_by_step",
                             source="x = 1", status="queued", heartbeat_at=utcnow())
        session.add(row)
        session.commit()
        submission_id = row.id
    task.grade_submission(session_factory(lti_app), submission_id)
    assert outcomes.drain(lti_app).sent == 1
    score, = registered.scores_of("u1")
    assert (score["scoreGiven"], score["scoreMaximum"]) == (3.0, 4.0)
    assert score["lineitem"] == registered.links["code-1"].lineitem


def test_the_lms_down_mid_course_loses_no_score(lti_app, registered):
    students = {sub: lti_app.test_client() for sub in ("u1", "u2", "u3")}
    for sub, browser in students.items():
        launch(browser, registered, sub)
    registered.stop()
    for sub, browser in students.items():
        _answer(lti_app, browser, _answer_text, correct=sub != "u3")
    now = utcnow()
    down = outcomes.drain(lti_app, now=now)
    assert (down.sent, down.failed) == (0, 3)
    with session_factory(lti_app)() as session:
        assert all(r.last_error for r in session.scalars(select(LtiScoreOutbox)))
    registered.start()  # back, on the same port
    back = outcomes.drain(lti_app, now=now + timedelta(hours=1))
    assert (back.sent, back.failed, back.next_due) == (3, 0, None)
    earned, _ = _set_points(lti_app)
    assert {s["userId"]: s["scoreGiven"] for s in registered.scores} == {
        "u1": earned, "u2": earned, "u3": 0.0}


def test_the_instructor_syncs_the_roster_through_nrps(lti_app, registered):
    teacher = lti_app.test_client()
    launch(teacher, registered, "t1")
    registered.users["never"] = ("Nadia Never-Launched", "student")
    page = teacher.get("/lti/registrations").get_data(as_text=True)
    link_id = re.search(r"/lti/links/(\d+)/roster", page).group(1)
    response = teacher.post(f"/lti/links/{link_id}/roster", follow_redirects=True)
    assert "5 members of the LMS course synced into Stride, 4 of them new." in \
        response.get_data(as_text=True)
    assert _role(lti_app, _user(lti_app, "never").id) == "student"
    gradebook = teacher.get(f"/instructor/gradebook?course={_course_id(lti_app)}")
    assert "Nadia Never-Launched" in gradebook.get_data(as_text=True)


# --- refusals ----------------------------------------------------------------------------------

def test_a_replayed_launch_is_refused(lti_app, registered):
    browser = lti_app.test_client()
    form = auth_form(login_redirect(browser, registered, "u1"))
    assert browser.post("/lti/launch", data=form).status_code == 302
    _refused(browser.post("/lti/launch", data=form), 400, "already used once")


def test_a_token_for_another_tool_is_refused(lti_app, registered):
    browser = lti_app.test_client()
    auth = login_redirect(browser, registered, "u1")
    other = auth.replace("client_id=stride-client", "client_id=other-tool")
    assert other != auth
    form = auth_form(other)
    assert jwt.decode(form["id_token"], options={"verify_signature": False})["aud"] == "other-tool"
    _refused(browser.post("/lti/launch", data=form), 400, "No LMS with this issuer and client id")
    assert _user(lti_app) is None


def test_a_token_signed_with_a_key_the_lms_does_not_publish_is_refused(lti_app, registered):
    registered.signing_pem = new_pem()
    _refused(launch(lti_app.test_client(), registered, "u1"), 400, "unknown kid")
    assert _user(lti_app) is None


def test_an_expired_token_is_refused(lti_app, registered):
    registered.id_token_expiration = -600
    _refused(launch(lti_app.test_client(), registered, "u1"), 400, "has expired")


def test_a_launch_for_an_unregistered_deployment_is_refused(lti_app, registered):
    registered.deployment_id = "deployment-9"
    _refused(launch(lti_app.test_client(), registered, "u1"), 400,
             "deployment is not registered")
    assert _user(lti_app) is None


def test_a_forged_role_is_refused(lti_app, registered):
    browser = lti_app.test_client()
    form = auth_form(login_redirect(browser, registered, "u1"))
    header, body, signature = form["id_token"].split(".")
    claims = json.loads(jwt.utils.base64url_decode(body))
    claims["https://purl.imsglobal.org/spec/lti/claim/roles"] = [
        "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"]
    forged = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    _refused(browser.post("/lti/launch", data=form | {"id_token": f"{header}.{forged}.{signature}"}),
             400, "signature or claims do not verify")
    assert _user(lti_app) is None


def test_an_extension_resends_the_affected_scores_only(lti_app, registered):
    student, other = lti_app.test_client(), lti_app.test_client()
    launch(student, registered, "u1")
    launch(other, registered, "u2")
    launch(lti_app.test_client(), registered, "u1", "code-1")
    _answer(lti_app, student, _answer_text)
    assert outcomes.drain(lti_app).sent == 1
    user = _user(lti_app, "u1").id
    with session_factory(lti_app)() as session:
        assert outcomes.resend_scores(session, user, set_id="open-set") == 1
        assert outcomes.resend_scores(session, user, set_id="open-set") == 0  # already pending
        assert outcomes.resend_scores(session, user, set_id="closed-set") == 0  # not linked
        with pytest.raises(ValueError):
            outcomes.resend_scores(session, user)
    assert outcomes.drain(lti_app).sent == 1
    earned, _ = _set_points(lti_app)
    assert [s["scoreGiven"] for s in registered.scores_of("u1")] == [earned, earned]
    assert registered.scores_of("u2") == []  # nobody else's score moved
