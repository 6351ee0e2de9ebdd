"""End to end in a real browser: Playwright drives Debian's Chromium against the app served on
127.0.0.1 from a background thread, with a temporary SQLite database set up like `--setup-demo`.

With STRIDE_SCREENSHOTS=1 the test also saves the main pages under docs/screenshots/.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import threading
from pathlib import Path

import pytest
from conftest import REQUIRE_SERVICES, _answer_text

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "docs" / "screenshots"
SET_ID = "week-1"
MAIN_PROBLEM = "conv-output-volume"  # a shape answer with named mistakes
SET_PROBLEMS = (MAIN_PROBLEM, "edge-horizontal", "conv-params-layer", "pool-output-volume")
DECREASING = "padding-then-conv"  # worth [3, 2, 1] points over its three attempts
PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1280, "height": 800}
PASSWORD = "password"  # the demo logins' password (web.cli.DEMO_LOGINS)
EXTRA_STUDENTS = ("carol", "dan", "erin")
TIMEOUT_MS = 60_000
UPLOAD_BUTTON = "form[enctype='multipart/form-data'] button[type=submit]"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run"]


def _require_chromium() -> None:
    reason = f"{CHROMIUM} is missing (Debian package `chromium`; `make test` installs it)"
    if not CHROMIUM.exists():
        if REQUIRE_SERVICES:
            pytest.fail(reason + " and STRIDE_REQUIRE_SERVICES=1")
        pytest.skip(reason)


def _write_set(problems_dir: Path) -> None:
    sets = problems_dir / "sets"
    sets.mkdir(exist_ok=True)
    for old in sets.glob("*.y*ml"):
        old.unlink()
    items = "".join(f"  - problem: {pid}\n    points: 2\n    attempts: 3\n"
                    for pid in SET_PROBLEMS) + f"  - problem: {DECREASING}\n    points: [3, 2, 1]\n"
    (sets / f"{SET_ID}.yaml").write_text(
        f"id: {SET_ID}\ntitle: Week 1 - convolution arithmetic\n"
        f"due: 2999-01-01T00:00:00Z\nproblems:\n{items}")


def _make_app(tmp: Path):
    from werkzeug.security import generate_password_hash

    from server import create_app
    from web.auth.accounts import create_user, get_or_create_course, get_user_by_username
    from web.cli import DEMO_COURSE, setup_demo
    from web.db import session_factory, upgrade_database

    problems = tmp / "problems"
    shutil.copytree(ROOT / "problems", problems)
    _write_set(problems)
    url = f"sqlite:///{tmp / 'stride.sqlite'}"
    upgrade_database(url)
    app = create_app({"SECRET_KEY": secrets.token_hex(16), "DATABASE_URL": url,
                      "PROBLEMS_DIR": str(problems), "RATELIMIT_ENABLED": False,
                      "COOKIE_SECURE": False, "GRADING_WORKERS": 2})
    setup_demo(app)
    with session_factory(app)() as session:
        course = get_or_create_course(session, DEMO_COURSE)
        for name in EXTRA_STUDENTS:  # the demo's classmates, given the demo password here
            user = get_user_by_username(session, name)
            if user is None:
                create_user(session, name, PASSWORD, display_name=f"{name.title()} Demo",
                            course=course)
            else:
                user.password_hash = generate_password_hash(PASSWORD)
        session.commit()
    return app


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """(base url, app) of the app served for real on a free port."""
    _require_chromium()
    from werkzeug.serving import make_server

    app = _make_app(tmp_path_factory.mktemp("browser"))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app
    server.shutdown()
    thread.join()
    app.extensions["stride_pool"].shutdown()
    app.extensions["stride_engine"].dispose()


@pytest.fixture(scope="module")
def browser(live):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                    args=LAUNCH_ARGS)
        yield browser
        browser.close()


def _page(browser, base, viewport=None):
    context = browser.new_context(base_url=base, viewport=viewport or {"width": 1100, "height": 800},
                                  accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    return context.new_page()


def _shot(page, name: str) -> None:
    if os.environ.get("STRIDE_SCREENSHOTS") == "1":
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _sign_in(page, username: str) -> None:
    page.goto("/auth/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_selector(".flash-success")


def _stored_variant(app, username: str, problem_id: str):
    from sqlalchemy import select

    from grader.variants import Variant
    from web.db import session_factory
    from web.models import User, VariantRecord

    with session_factory(app)() as session:
        record = session.scalar(select(VariantRecord).join(User).where(
            User.username == username, VariantRecord.problem_id == problem_id))
        return Variant.from_json(json.loads(record.variant_json))


def _plain_words(message: str) -> str:
    """The longest stretch of a feedback message outside $...$ math, to look for on the page."""
    pieces = [p.strip(" .,:;") for p in re.split(r"\$[^$]*\$|`[^`]*`", message)]
    return max(pieces, key=len)


def _typed(value) -> str:
    """A mistake's value as a student would type it."""
    if isinstance(value, list) and value and isinstance(value[0], list):
        return json.dumps(value)
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _other_students_answer(app) -> None:
    """bob and the extra students answer through the app itself, so the gradebook has rows."""
    client = app.test_client()

    def token(html: str) -> str:
        return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)

    plans = {"bob": (False, True), "carol": (True,), "dan": ("mistake", False, False),
             "erin": ("mistake", True)}
    for n, (username, answers) in enumerate(plans.items()):
        page = client.get("/auth/login").get_data(as_text=True)
        client.post("/auth/login", data={"username": username, "password": PASSWORD,
                                         "csrf_token": token(page)})
        for pid in SET_PROBLEMS[n % 2:]:
            url = f"/sets/{SET_ID}/{pid}"
            form = client.get(url).get_data(as_text=True)
            variant = _stored_variant(app, username, pid)
            for answer in answers:
                if answer == "mistake" and variant.mistakes:
                    raw = _typed(variant.mistakes[0].value)
                else:
                    raw = _answer_text(variant, correct=answer is True)
                client.post(url, data={"answer": raw, "csrf_token": token(form),
                                       "request_token": secrets.token_urlsafe(24)})
        client.post("/auth/logout", data={"csrf_token": token(form)})


def test_student_answers_and_uploads_code(live, browser):
    base, app = live
    page = _page(browser, base)
    _sign_in(page, "alice")
    page.click("text=Week 1")
    page.click(f"a[href='/sets/{SET_ID}/{MAIN_PROBLEM}']")
    page.wait_for_selector("section.prompt math")
    _shot(page, "student-problem")
    variant = _stored_variant(app, "alice", MAIN_PROBLEM)
    assert variant.mistakes, "the main problem should have named mistakes"
    mistake = variant.mistakes[0]

    page.fill("input[name=answer]", _typed(mistake.value))
    page.click("form.answer-form button[type=submit]")
    result = page.locator(".result.incorrect")
    result.wait_for()
    assert _plain_words(mistake.message) in " ".join(result.inner_text().split())
    assert "1 of 3 attempts used" in page.locator(".attempts").inner_text()
    _shot(page, "feedback")

    page.fill("input[name=answer]", "twenty-nine by twenty-nine")
    page.click("form.answer-form button[type=submit]")
    page.locator(".format-error").wait_for()
    assert "Expected a shape such as" in page.locator(".format-error").inner_text()
    assert "1 of 3 attempts used" in page.locator(".attempts").inner_text()

    page.fill("input[name=answer]", f"({', '.join(str(v) for v in variant.answer)})")
    page.click("form.answer-form button[type=submit]")
    page.locator(".result.correct").wait_for()
    assert page.locator("text=You solved this problem.").is_visible()
    page.goto("/")
    row = page.locator("tr", has_text="Week 1")
    assert "2 / 11" in row.inner_text()

    page.goto("/code/conv_step_by_step")
    buggy = (ROOT / "tests/submissions/buggy_conv_forward.py").read_text().replace(
        'BUG = "none"', 'BUG = "stride"')
    page.set_input_files("input[name=file]", files=[{
        "name": "conv_forward_stride.py", "mimeType": "text/x-python",
        "buffer": buggy.encode()}])
    page.click(UPLOAD_BUTTON)
    page.locator("p.score").wait_for()  # poll.js reloads the page when grading is done
    assert page.locator(".diagnosis").first.is_visible()
    assert "stride" in page.locator(".diagnosis").first.inner_text()
    _shot(page, "code-report")

    page.goto("/code/conv_step_by_step")
    page.set_input_files("input[name=file]", str(ROOT / "tests/submissions/correct_vectorized.py"))
    page.click(UPLOAD_BUTTON)
    page.locator("p.score").wait_for()
    score = page.locator("p.score strong").inner_text()
    got, total = (part.strip() for part in score.split("/"))
    assert got == total, score
    page.context.close()


def test_instructor_sees_gradebook_statistics_and_downloads_csv(live, browser):
    base, app = live
    _other_students_answer(app)
    page = _page(browser, base)
    _sign_in(page, "instructor")
    page.click("header >> text=Instructor")
    page.click(".subnav >> text=Gradebook")
    table = page.locator("table.gradebook")
    table.wait_for()
    assert table.locator("tbody tr").count() == 2 + len(EXTRA_STUDENTS)
    page.click("table.gradebook >> text=Total")
    page.locator("a.sort.active", has_text="Total").wait_for()
    totals = [float(t) for t in page.locator("table.gradebook tbody td:last-child").all_inner_texts()]
    assert totals == sorted(totals, reverse=True) and totals[0] > totals[-1], totals
    _shot(page, "gradebook")

    page.goto(f"/instructor/sets/{SET_ID}/stats")
    card = page.locator(f"#p-{MAIN_PROBLEM}")
    card.locator("svg.histogram").wait_for()
    assert card.locator(".wrong .tag").count() >= 1
    _shot(page, "statistics")

    page.goto("/instructor/gradebook")
    with page.expect_download() as download:
        page.click(".subnav >> text=Scores CSV")
    text = Path(download.value.path()).read_text()
    lines = text.splitlines()
    assert lines[0] == (f"username,name,{SET_ID},code:conv_step_by_step,"
                        "code:convolution_basics,total")
    assert any(line.startswith("alice,Alice Demo,") for line in lines)
    assert download.value.suggested_filename == "stride-scores.csv"
    page.context.close()


def test_a_student_runs_out_of_decreasing_attempts_and_sees_the_worked_solution(live, browser):
    base, app = live
    page = _page(browser, base)
    _sign_in(page, "bob")
    page.goto(f"/sets/{SET_ID}/{DECREASING}")
    assert "Attempt 1 can earn 3 of 3 points." in page.locator(".answer-form").inner_text()
    variant = _stored_variant(app, "bob", DECREASING)
    wrong = str(variant.answer + 1)
    for worth in ("2", "1"):
        page.fill("input[name=answer]", wrong)
        page.click("form.answer-form button[type=submit]")
        page.locator(".result.incorrect").wait_for()
        assert page.locator("input[name=answer]").input_value() == wrong  # kept
        assert f"can earn {worth} of 3 points" in page.locator(".next-worth").inner_text()
    page.fill("input[name=answer]", wrong)
    page.click("form.answer-form button[type=submit]")
    solution = page.locator(".solution")
    solution.wait_for()
    assert str(variant.params["n"]) in solution.inner_text()
    assert page.locator(".result[aria-live=polite]").count() == 1
    _shot(page, "worked-solution")
    page.context.close()


def test_an_instructor_administers_the_course(live, browser):
    base, app = live
    page = _page(browser, base)
    _sign_in(page, "instructor")
    page.goto("/instructor/admin/")
    page.click("text=Students and roster")
    page.locator("#students-heading").wait_for()
    page.set_input_files("input[name=roster]", files=[{
        "name": "canvas-roster.csv", "mimeType": "text/csv",
        "buffer": (b"Student,ID,SIS User ID,SIS Login ID,Section\r\n"
                   b"    Points Possible,,,,\r\n"
                   b'"Noether, Emmy",201,s201,emmy.noether,A\r\n'
                   b'"Gauss, Carl",202,s202,,A\r\n')}])
    page.click("form[enctype='multipart/form-data'] button[type=submit]")
    report = page.locator(".roster-report")
    report.wait_for()
    assert "1 account created" in report.inner_text()
    assert report.locator("tr.row-error").count() == 1
    _shot(page, "roster-import")

    row = page.locator("tr", has_text="carol")
    row.locator("summary").click()
    row.locator("select[name=set_id]").select_option(SET_ID)
    row.locator("input[name=due]").fill("2999-06-01T12:00")
    row.locator("input[name=extra_attempts]").fill("1")
    row.locator(".allowance-form button").click()
    page.locator(".flash-success").wait_for()
    assert "1 extra attempt per problem" in page.locator(".flash-success").inner_text()

    page.locator("tr", has_text="dan").locator("text=Password reset link").click()
    link = page.locator(".reset-link input.copy").input_value()
    assert "/auth/reset?token=" in link

    page.locator("summary", has_text="Fill existing Canvas assignments").click()
    page.fill("input[name='code:conv_step_by_step']", "90210")
    page.click(".canvas-form button[type=submit]")
    page.locator(".flash-success").wait_for()
    with page.expect_download() as download:
        page.click("text=Download the Canvas CSV")
    header = Path(download.value.path()).read_text().splitlines()[0]
    assert header.startswith("Student,ID,SIS User ID,SIS Login ID,Section,")
    assert "Conv step by step (90210)" in header
    page.context.close()

    student = _page(browser, base)
    student.goto(link)
    student.fill("input[name=new]", "dans-new-password")
    student.fill("input[name=confirm]", "dans-new-password")
    student.click("main form button[type=submit]")
    student.locator(".flash-success").wait_for()
    student.fill("input[name=username]", "dan")
    student.fill("input[name=password]", "dans-new-password")
    student.click("main form button[type=submit]")
    student.wait_for_selector(".flash-success")
    student.context.close()

    carol = _page(browser, base)
    _sign_in(carol, "carol")
    carol.goto(f"/sets/{SET_ID}")
    assert "extended for you" in carol.locator("main").inner_text()
    assert "1 extra attempt" in carol.locator(".allowance").inner_text()
    carol.context.close()


MAIN_PAGES = (("home", "alice", "/"), ("set", "alice", f"/sets/{SET_ID}"),
              ("problem", "alice", f"/sets/{SET_ID}/edge-horizontal"),
              ("practice", "alice", "/practice/"),
              ("gradebook", "instructor", "/instructor/gradebook"),
              ("course-admin", "instructor", "/instructor/admin/"))


@pytest.mark.parametrize(("width", "viewport"), [("390", PHONE), ("1280", DESKTOP)])
def test_main_pages_fit_the_screen(live, browser, width, viewport):
    base, _app = live
    pages = {}
    for name, user, url in MAIN_PAGES:
        page = pages.get(user)
        if page is None:
            page = pages[user] = _page(browser, base, viewport)
            _sign_in(page, user)
        page.goto(url)
        page.locator("main h1").first.wait_for()
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{url} is {overflow}px wider than a {width}px screen"
        assert page.locator("a.skip-link").count() == 1
        _shot(page, f"{name}-{width}")
    for page in pages.values():
        page.context.close()
