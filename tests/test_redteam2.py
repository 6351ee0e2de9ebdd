"""A second pass at Stride's trust boundary: attacks the first pass (tests/test_hostile.py,
tests/test_redteam_*.py, tests/test_authz.py and the walls tests) did not try.

Each test names the hole it closes; the sandbox's own hostile files are in tests/hostile/.
"""

from __future__ import annotations

import re

import pytest
import test_lti_e2e
from conftest import WEB_PASSWORD
from test_lti_e2e import launch

from grader.code import grade_source
from grader.sandbox import SandboxLimits, SandboxPool
from web.lti.cookies import LTI_SESSION_KEY
from web.lti.views import DEEP_LINK_KEY

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
