"""An LTI launch in a real browser: an LMS page (lti1p3platform, tests/lti_lms.py) frames
Stride (another origin: another port), the launch runs inside the iframe, a student answers there
(a CSRF-checked form), and the score reaches the LMS.

HTTPS is not available here, so the test stands in for the TLS proxy of a real deployment:
Stride runs behind ProxyFix (TRUSTED_PROXIES=1) and every request reaches it with
`X-Forwarded-Proto: https`, as a proxy terminating TLS would send it. Stride then sees a secure
request and sends the LTI session's cookies `SameSite=None; Secure`; Chromium keeps Secure cookies
from http://localhost (a potentially trustworthy origin), and the test reads them back from the
browser's cookie jar with those attributes. Both run on localhost (two ports: one site, two
origins): Chromium 156 sends no cookie at all into a cross-site iframe whose top page is plain
http, whatever its attributes, so a truly cross-site iframe needs real HTTPS. What the origins
do test: `frame-ancestors` naming the LMS's origin (another port is another origin), and the
tool's and the LMS's session cookies kept apart by their names.
"""

from __future__ import annotations

import json
import threading

import pytest
from lti_lms import Lms
from sqlalchemy import select
from test_browser import CHROMIUM, LAUNCH_ARGS, _require_chromium
from test_lti import _course_id, _sign_in
from werkzeug.serving import make_server

from web.db import session_factory
from web.lti import outcomes
from web.models import VariantRecord

pytestmark = pytest.mark.browser
TEXT_TYPES = ("integer", "number")


def _behind_tls_proxy(wsgi_app, plain: str, secure: str):
    """What a TLS-terminating proxy hands on: X-Forwarded-Proto, and the Referer the browser
    would have sent over HTTPS (CSRF's strict referer check compares it with the https host)."""
    def app(environ, start_response):
        environ["HTTP_X_FORWARDED_PROTO"] = "https"
        referer = environ.get("HTTP_REFERER", "")
        if referer.startswith(plain):
            environ["HTTP_REFERER"] = secure + referer[len(plain):]
        return wsgi_app(environ, start_response)
    return app


def test_a_launch_in_the_lms_iframe_signs_in_answers_and_sends_the_score(make_app, web_bank):
    _require_chromium()
    from playwright.sync_api import sync_playwright

    from grader.variants import Variant

    problem_id = next(i.problem_id for i in web_bank.sets["open-set"].items
                      if web_bank.problems[i.problem_id].answer_type in TEXT_TYPES)
    app = make_app(TRUSTED_PROXIES=1, WTF_CSRF_ENABLED=True)
    server = make_server("127.0.0.1", 0, None, threaded=True)
    port = server.server_port
    server.app = _behind_tls_proxy(app, f"http://localhost:{port}", f"https://localhost:{port}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    lms = Lms(users={"u1": ("Uma One", "student")}, tool=f"https://localhost:{port}",
              post_to=f"http://localhost:{port}", host="localhost")
    lms.add_link("link-1", "set:open-set")
    lms.start()
    try:
        staff = make_app().test_client()  # the same database, without CSRF: set-up only
        _sign_in(staff)
        assert staff.post("/lti/registrations", data=lms.registration_form(
            _course_id(app))).status_code == 302
        lms.tool_jwks = staff.get("/lti/jwks.json").get_json()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                        args=LAUNCH_ARGS)
            context = browser.new_context()
            context.set_default_timeout(30_000)
            page = context.new_page()
            page.goto(f"{lms.url}/course/link-1?user=u1")
            frame = page.frame_locator("#tool")
            frame.locator("h1", has_text="Open set").wait_for()
            cookie, = [c for c in context.cookies(f"http://localhost:{port}")
                       if c["name"] == "session"]
            assert (cookie["sameSite"], cookie["secure"]) == ("None", True)
            frame.locator(f"a[href='/sets/open-set/{problem_id}']").first.click()
            frame.locator("input[name=answer]").wait_for()
            with session_factory(app)() as session:
                record = session.scalars(select(VariantRecord).where(
                    VariantRecord.problem_id == problem_id)).one()
                variant = Variant.from_json(json.loads(record.variant_json))
            frame.locator("input[name=answer]").fill(str(variant.answer))
            frame.locator("form.answer-form button[type=submit]").click()
            frame.locator(".result.correct").wait_for()  # a CSRF-checked POST in the iframe
            browser.close()
        assert outcomes.drain(app).sent == 1
        score, = lms.scores_of("u1")
        assert score["scoreGiven"] == 2.0
    finally:
        lms.stop()
        server.shutdown()
        thread.join()
