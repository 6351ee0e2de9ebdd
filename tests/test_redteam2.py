"""A second pass at Stride's trust boundary: attacks the first pass (tests/test_hostile.py,
tests/test_redteam_*.py, tests/test_authz.py and the walls tests) did not try.

Each test names the hole it closes; the sandbox's own hostile files are in tests/hostile/.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import test_lti_e2e
from conftest import WEB_PASSWORD, WallsWorld, add_walls_world
from lti_platform import FakePlatform
from sqlalchemy import select
from test_lti import _course_id as lti_course_id
from test_lti import _sign_in as lti_sign_in
from test_lti import _user as lti_user
from test_lti import launch as lti_launch
from test_lti_e2e import launch

from grader.code import grade_source
from grader.sandbox import SandboxLimits, SandboxPool
from web.db import session_factory
from web.lti.cookies import LTI_SESSION_KEY
from web.lti.views import DEEP_LINK_KEY
from web.models import Allowance, Course, Enrollment, LtiPlatform, User

ROOT = Path(__file__).resolve().parents[1]
lti_app, lms, registered = test_lti_e2e.lti_app, test_lti_e2e.lms, test_lti_e2e.registered


def _session_of(client) -> dict:
    with client.session_transaction() as session:
        return dict(session)


# --- sessions: nothing of one account's session reaches the next account's ---------------------

def test_a_deep_linking_request_does_not_outlive_the_instructors_sign_out(lti_app, registered):
    browser = lti_app.test_client()  # one shared computer in a lab
    assert launch(browser, registered, "t1", "dl", deep_link=True).headers["Location"] == \
        "/lti/deep-link"
    assert browser.post("/auth/logout").status_code == 302
    left = _session_of(browser)
    assert DEEP_LINK_KEY not in left and LTI_SESSION_KEY not in left
    # A student signs in on the same browser: the instructor's request is not theirs to answer
    # (its signed answer would add content to the LMS course).
    assert browser.post("/auth/login", data={"username": "alice",
                                             "password": WEB_PASSWORD}).status_code == 302
    for response in (browser.get("/lti/deep-link"),
                     browser.post("/lti/deep-link", data={"target": "set:open-set"})):
        body = response.get_data(as_text=True)
        assert response.status_code == 400, body
        assert "no deep linking request in this browser session" in body
        assert "deep-link-return" not in body and "JWT" not in body


def test_signing_in_starts_a_fresh_session(lti_app, registered):
    browser = lti_app.test_client()
    launch(browser, registered, "t1", "dl", deep_link=True)
    # Signing in as someone else without signing out first keeps nothing of the LTI session:
    # neither the deep linking request nor the LMS's permission to frame the pages.
    assert browser.post("/auth/login", data={"username": "alice",
                                             "password": WEB_PASSWORD}).status_code == 302
    kept = _session_of(browser)
    assert DEEP_LINK_KEY not in kept and LTI_SESSION_KEY not in kept
    page = browser.get("/")
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert browser.get("/lti/deep-link").status_code == 400


def test_the_deep_linking_request_still_works_for_its_own_instructor(lti_app, registered):
    browser = lti_app.test_client()
    launch(browser, registered, "t1", "dl", deep_link=True)
    page = browser.get("/lti/deep-link").get_data(as_text=True)
    assert 'value="set:open-set"' in page
    answer = browser.post("/lti/deep-link", data={"target": "set:open-set", "score": "best"})
    assert answer.status_code == 200
    assert re.search(r'name="JWT" value="[^"]+"', answer.get_data(as_text=True))


def test_a_deep_linking_request_answers_only_the_account_it_was_launched_for(lti_app,
                                                                             registered):
    browser = lti_app.test_client()
    launch(browser, registered, "t1", "dl", deep_link=True)
    with browser.session_transaction() as session:
        launch_id, user_id = session[DEEP_LINK_KEY]
        session[DEEP_LINK_KEY] = [launch_id, user_id + 1]
    response = browser.get("/lti/deep-link")
    assert response.status_code == 400
    assert "no deep linking request" in response.get_data(as_text=True)


# --- the sandbox: what an honest mistake or a hostile file gets back ---------------------------

LIMITS = SandboxLimits(wall_s=1.0, cpu_s=2.0, memory_mb=256, import_wall_s=1.0, fsize_mb=16,
                       disk_mb=32)


@pytest.fixture(scope="module")
def pool():
    pool = SandboxPool(1)
    yield pool
    pool.shutdown()


@pytest.mark.parametrize(("returned", "what"), [("[z] * 100000", "a list of 100000 items"),
                                                 ("(z, z, z, z, z, z)", "a tuple of 6 items")])
def test_a_long_sequence_is_named_as_one_not_as_a_broken_channel(pool, returned, what):
    source = ("import numpy as np\n\ndef conv_single_step(a_slice_prev, W, b):\n"
              f"    z = float(np.sum(a_slice_prev * W) + b.item())\n    return {returned}\n")
    report = grade_source(source, functions=["conv_single_step"], include_hidden=False,
                          limits=LIMITS, pool=pool)
    messages = {t.message for t in report.functions[0].tests}
    assert messages == {f"conv_single_step returned {what}; expected a number. Wrap it with "
                        "np.array(...)."}


# --- LTI: an LMS user is vouched for only by keys that signed for them before ------------------

class _SameIssuer(FakePlatform):
    """An LMS of another registration: its own keys and client id, claiming someone's issuer
    (any instructor account may register an LMS for a course of its own, keys and all)."""

    def __init__(self, issuer: str, **fields):
        super().__init__(**fields)
        self._claimed = issuer

    @property
    def issuer(self) -> str:
        return self._claimed


@pytest.fixture
def real_lms():
    platform = FakePlatform().start()
    yield platform
    platform.stop()


@pytest.fixture
def rogue_lms(real_lms):
    platform = _SameIssuer(real_lms.issuer, client_id="rogue-client").start()
    yield platform
    platform.stop()


def _register(app, client, platform, course_id: int) -> None:
    response = client.post("/lti/registrations", data=platform.registration_form(course_id))
    assert response.status_code == 302, response.get_data(as_text=True)
    platform.tool_jwks = client.get("/lti/jwks.json").get_json()
    platform.redirect_uris = ("https://localhost/lti/launch",)


def _rogue_course(lti_app, real_lms, rogue_lms):
    """The real LMS registered for the test course, a victim who launched from it, and a rogue
    instructor (of no course so far) with a course and an LMS registration of their own."""
    ines = lti_app.test_client()
    lti_sign_in(ines)
    _register(lti_app, ines, real_lms, lti_course_id(lti_app))
    assert lti_launch(lti_app.test_client(), real_lms, "victim").status_code == 302
    world = add_walls_world(lti_app)
    rogue = lti_app.test_client()
    assert rogue.post("/auth/login", data={"username": WallsWorld.username("lonely"),
                                           "password": WEB_PASSWORD}).status_code == 302
    assert rogue.post("/instructor/admin/courses", data={"name": "Rogue course",
                                                         "join_code": "rogue-code"}
                      ).status_code == 302
    with session_factory(lti_app)() as session:
        course = session.scalar(select(Course.id).where(Course.name == "Rogue course"))
    _register(lti_app, rogue, rogue_lms, course)
    return world, rogue, course


def _enrolled(app, user_id: int) -> set[int]:
    with session_factory(app)() as session:
        return set(session.scalars(select(Enrollment.course_id)
                                   .where(Enrollment.user_id == user_id)))


def test_another_registration_of_the_same_issuer_cannot_sign_in_as_its_users(
        lti_app, real_lms, rogue_lms):
    _, _, rogue_course = _rogue_course(lti_app, real_lms, rogue_lms)
    victim = lti_user(lti_app, "victim")
    # The rogue LMS signs a launch for the victim's sub with its own key, which its own
    # registration vouches for: the launch is valid, but the account is not the rogue's to open.
    browser = lti_app.test_client()
    response = lti_launch(browser, rogue_lms, "victim", "instructor")
    body = response.get_data(as_text=True)
    assert response.status_code == 403, body
    assert "another LMS registration" in body
    assert _session_of(browser).get("_user_id") is None
    assert browser.get("/sets/open-set").status_code == 302  # to sign-in: nobody is signed in
    assert rogue_course not in _enrolled(lti_app, victim.id)
    # The rogue LMS's own users still launch (new subs are new accounts of that registration).
    assert lti_launch(lti_app.test_client(), rogue_lms, "rogue-student").status_code == 302


def test_another_registration_of_the_same_issuer_cannot_roster_its_users_into_its_course(
        lti_app, real_lms, rogue_lms):
    _, rogue, rogue_course = _rogue_course(lti_app, real_lms, rogue_lms)
    victim = lti_user(lti_app, "victim")
    assert lti_launch(rogue, rogue_lms, "rogue-teacher", "instructor").status_code == 302
    rogue_lms.members = [
        {"user_id": "victim", "name": "Victim", "roles": ["Learner"], "status": "Active"},
        {"user_id": "rogue-kid", "name": "Kid", "roles": ["Learner"], "status": "Active"}]
    page = rogue.get("/lti/registrations").get_data(as_text=True)
    link_id = re.search(r"/lti/links/(\d+)/roster", page).group(1)
    response = rogue.post(f"/lti/links/{link_id}/roster", follow_redirects=True)
    assert rogue_course not in _enrolled(lti_app, victim.id)
    assert "another LMS registration" in response.get_data(as_text=True)
    assert rogue.get(f"/instructor/students/{victim.id}?course={rogue_course}").status_code == 404


def test_a_second_registration_with_the_same_keys_keeps_its_users_accounts(lti_app, real_lms):
    """Two Stride courses registering one LMS (its keys) each under a client id of their own:
    the LMS vouches for its users in both, so each keeps one account."""
    ines = lti_app.test_client()
    lti_sign_in(ines)
    _register(lti_app, ines, real_lms, lti_course_id(lti_app))
    assert lti_launch(lti_app.test_client(), real_lms, "u1").status_code == 302
    with session_factory(lti_app)() as session:
        second = Course(name="Second course", join_code="second-code")
        session.add(second)
        session.flush()
        session.add(Enrollment(user_id=session.scalar(select(User.id).where(
            User.username == "ines")), course_id=second.id, role="instructor"))
        session.commit()
        second_id = second.id
    real_lms.client_id = "second-client"
    _register(lti_app, ines, real_lms, second_id)
    assert lti_launch(lti_app.test_client(), real_lms, "u1").status_code == 302
    assert second_id in _enrolled(lti_app, lti_user(lti_app, "u1").id)


def test_the_roster_message_counts_the_members_left_out():
    from web.lti.roster import RosterSync

    assert RosterSync(3, 1, 1).message() == (
        "2 members of the LMS course synced into Stride, 1 of them new. 1 member was left out: "
        "they already have Stride accounts through another LMS registration, signed by other "
        "keys, which this one cannot enroll.")
    assert RosterSync(2, 2).message() == "2 members of the LMS course synced into Stride, 2 of them new."


# --- course walls: staff of one course reach no student of another through the forms ----------

def _staff_client(app, label: str):
    client = app.test_client()
    assert client.post("/auth/login", data={"username": WallsWorld.username(label),
                                            "password": WEB_PASSWORD}).status_code == 302
    return client


def test_a_roster_cannot_enroll_a_student_of_a_course_one_does_not_teach(app, walls_world):
    inst_a = _staff_client(app, "inst_a")
    course_a, b1 = walls_world.courses["A"], walls_world.users["b1"]
    roster = f"username\n{WallsWorld.username('b1')}\nnew-student-a9\n"
    response = inst_a.post(f"/instructor/admin/roster?course={course_a}",
                           data={"roster_text": roster})
    page = response.get_data(as_text=True)
    assert response.status_code == 422, page
    assert "already has a Stride account in a course you do not teach" in page
    assert _enrolled(app, b1) == {walls_world.courses["B"]}
    # Had it worked, b1's whole record (course B's answers and code) would be instructor A's.
    assert inst_a.get(f"/instructor/students/{b1}?course={course_a}").status_code == 404
    with session_factory(app)() as session:  # the good row is imported all the same
        assert session.scalar(select(User.id).where(User.username == "new-student-a9"))


def test_a_rogue_instructor_cannot_take_a_student_into_a_course_of_their_own(app, walls_world):
    lonely = _staff_client(app, "lonely")
    assert lonely.post("/instructor/admin/courses", data={"name": "Mine",
                                                          "join_code": "mine-code"}
                       ).status_code == 302
    with session_factory(app)() as session:
        mine = session.scalar(select(Course.id).where(Course.name == "Mine"))
    response = lonely.post(f"/instructor/admin/roster?course={mine}",
                           data={"roster_text": f"username\n{WallsWorld.username('a1')}\n",
                                 "mode": "all"})
    assert response.status_code == 422
    assert mine not in _enrolled(app, walls_world.users["a1"])


def test_a_roster_still_enrolls_an_existing_student_of_ones_own_courses(app, walls_world):
    inst_a = _staff_client(app, "inst_a")
    with session_factory(app)() as session:  # a student taken out of course A, back again
        session.query(Enrollment).filter_by(user_id=walls_world.users["a2"]).delete()
        session.commit()
    response = inst_a.post(f"/instructor/admin/roster?course={walls_world.courses['A']}",
                           data={"roster_text": f"username\n{WallsWorld.username('a2')}\n"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert _enrolled(app, walls_world.users["a2"]) == {walls_world.courses["A"]}


def test_an_allowance_is_refused_for_a_student_also_in_a_course_one_does_not_teach(
        app, walls_world):
    a1 = walls_world.users["a1"]
    with session_factory(app)() as session:
        session.add(Enrollment(user_id=a1, course_id=walls_world.courses["B"], role="student"))
        session.commit()
    inst_a = _staff_client(app, "inst_a")
    # Answers and allowances belong to the student, not to a course: 50 extra attempts given
    # in course A would be 50 extra attempts in course B's gradebook too.
    response = inst_a.post(f"/instructor/admin/students/{a1}/allowance"
                           f"?course={walls_world.courses['A']}",
                           data={"set_id": "open-set", "extra_attempts": "50"})
    page = response.get_data(as_text=True)
    assert response.status_code == 403, page
    assert "also a student of a course you do not teach" in page
    with session_factory(app)() as session:
        assert session.scalar(select(Allowance).where(Allowance.user_id == a1)) is None


def test_only_an_admin_changes_the_key_set_of_an_lms_whose_users_have_launched(lti_app,
                                                                               real_lms):
    ines = lti_app.test_client()
    lti_sign_in(ines)
    form = real_lms.registration_form(lti_course_id(lti_app))
    _register(lti_app, ines, real_lms, lti_course_id(lti_app))
    # Before any launch the registration may still be corrected.
    assert ines.post("/lti/registrations", data=form | {"name": "Renamed"}).status_code == 302
    assert lti_launch(lti_app.test_client(), real_lms, "u1").status_code == 302
    # Keys of one's own would sign launches for u1, who may be in other courses too.
    rogue = form | {"key_set_url": "http://127.0.0.1:9/my-own-keys"}
    response = ines.post("/lti/registrations", data=rogue)
    assert response.status_code == 422
    assert "only a site administrator can change its key set URL" in \
        response.get_data(as_text=True)
    with session_factory(lti_app)() as session:
        assert session.scalar(select(LtiPlatform.key_set_url)) == form["key_set_url"]
    assert ines.post("/lti/registrations", data=form | {"name": "Again"}).status_code == 302


def test_an_exception_message_that_cheats_the_length_cap_stays_short(pool):
    source = (ROOT / "tests" / "hostile" / "exception_str_misbehaves.py").read_text()
    report = grade_source(source, functions=["conv_single_step"], include_hidden=False,
                          limits=LIMITS, pool=pool)
    tests = report.functions[0].tests
    assert {t.verdict for t in tests} == {"exception"}
    for test in tests:
        assert test.message.startswith("Sneaky in conv_single_step: ")
        assert len(test.message) < 3000


# --- LTI: an LMS user's Stride username cannot be taken before their first launch --------------

def test_the_lti_username_of_a_future_lms_user_cannot_be_registered_first(lti_app, real_lms):
    from web.lti.accounts import lti_username

    ines = lti_app.test_client()
    lti_sign_in(ines)
    _register(lti_app, ines, real_lms, lti_course_id(lti_app))
    # Moodle's subs are small numbers: anyone with a join code can compute the name.
    taken = lti_username(real_lms.issuer, "7")
    squatter = lti_app.test_client()
    response = squatter.post("/auth/register", data={
        "join_code": "join-me", "username": taken, "password": "squatter-pass-1",
        "confirm": "squatter-pass-1"})
    assert response.status_code == 400
    assert "reserved for accounts made by LMS launches" in response.get_data(as_text=True)
    browser = lti_app.test_client()
    assert lti_launch(browser, real_lms, "7").status_code == 302
    assert lti_user(lti_app, "7").username == taken


def test_an_lms_user_whose_name_was_taken_before_the_reservation_still_launches(lti_app,
                                                                                real_lms):
    from werkzeug.security import generate_password_hash

    from web.lti.accounts import lti_username

    ines = lti_app.test_client()
    lti_sign_in(ines)
    _register(lti_app, ines, real_lms, lti_course_id(lti_app))
    taken = lti_username(real_lms.issuer, "8")
    with session_factory(lti_app)() as session:  # made before names were reserved
        session.add(User(username=taken, role="student", password_hash=generate_password_hash(
            "squatter-pass-1", method="pbkdf2:sha256:1000")))
        session.commit()
    browser = lti_app.test_client()
    assert lti_launch(browser, real_lms, "8").status_code == 302
    user = lti_user(lti_app, "8")
    assert user.username != taken and user.username.startswith(taken)
