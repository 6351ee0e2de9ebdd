"""LTI security beyond the launch checks: an LMS user is walled into the linked course, and
Stride's keys and the LMS's secrets never reach a log line or a page."""

from __future__ import annotations

import logging
import re

import test_lti_e2e
from conftest import _answer_text, add_walls_world
from sqlalchemy import select
from test_lti import _answer, _sign_in
from test_lti_e2e import launch

from web.db import session_factory
from web.lti import outcomes
from web.models import LtiKey

lti_app, lms, registered = test_lti_e2e.lti_app, test_lti_e2e.lms, test_lti_e2e.registered


def test_lti_users_cannot_reach_other_courses(lti_app, registered):
    world = add_walls_world(lti_app)
    teacher = lti_app.test_client()
    assert launch(teacher, registered, "t1").status_code == 302  # instructor of Test course
    student = lti_app.test_client()
    assert launch(student, registered, "u1").status_code == 302
    a1, b1 = world.users["a1"], world.users["b1"]
    for course in world.courses.values():
        assert teacher.get(f"/instructor/gradebook?course={course}").status_code == 404
        assert teacher.get(f"/instructor/sets/open-set/stats?course={course}").status_code == 404
    for uid in (a1, b1):
        assert teacher.get(f"/instructor/students/{uid}").status_code == 404
    for name in ("a1", "b1"):
        assert teacher.get(f"/code/submissions/{world.code[name]}").status_code == 404
        assert student.get(f"/code/submissions/{world.code[name]}").status_code == 404
    export = teacher.get("/instructor/export/scores.csv").get_data(as_text=True)
    assert "student-a1" not in export and "student-b1" not in export
    assert student.get("/instructor/gradebook").status_code == 403
    assert student.get(f"/instructor/students/{a1}").status_code == 403


def test_keys_and_platform_secrets_are_never_logged_or_shown(lti_app, registered, caplog):
    caplog.set_level(logging.DEBUG)  # every logger, at its most talkative
    staff = lti_app.test_client()
    _sign_in(staff)
    pages = [staff.get("/lti/registrations").get_data(as_text=True),
             staff.get("/lti/jwks.json").get_data(as_text=True)]
    browser = lti_app.test_client()
    pages.append(launch(browser, registered, "u1").get_data(as_text=True))
    other = lti_app.test_client()
    launch(other, registered, "u2")
    _answer(lti_app, browser, _answer_text)
    assert outcomes.drain(lti_app).sent == 1  # a token was issued and used
    registered.stop()
    _answer(lti_app, other, _answer_text)
    assert outcomes.drain(lti_app).failed == 1  # a failure is logged
    registered.start()
    teacher = lti_app.test_client()
    launch(teacher, registered, "t1")
    link_id = re.search(r"/lti/links/(\d+)/roster",
                        teacher.get("/lti/registrations").get_data(as_text=True)).group(1)
    pages.append(teacher.post(f"/lti/links/{link_id}/roster", follow_redirects=True)
                 .get_data(as_text=True))
    pages.append(teacher.get("/lti/registrations").get_data(as_text=True))
    replay = lti_app.test_client().post("/lti/launch", data={"id_token": "x.y.z", "state": "s"})
    pages.append(replay.get_data(as_text=True))
    with session_factory(lti_app)() as session:
        private = [k.private_pem for k in session.scalars(select(LtiKey))]
    secrets = [line for pem in private for line in pem.splitlines()
               if line and not line.startswith("-----")]
    secrets += registered.issued + [registered.key_pem.splitlines()[1]]
    assert registered.issued and len(secrets) > 20
    logged = "\n".join(r.getMessage() + str(r.args or "") + (r.exc_text or "")
                       for r in caplog.records)
    assert "sending an LMS score" in logged  # the capture works
    for secret in secrets:
        assert secret not in logged
        assert all(secret not in page for page in pages)
