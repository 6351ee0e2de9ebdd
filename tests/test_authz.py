"""The authorization matrix: every route of the app, for six principals, with own and foreign ids.

Two courses, A and B (tests/conftest.py, `add_walls_world`): students a1 and a2 in A, b1 in B,
an instructor of each. Every rule of `app.url_map` must have a row in CASES (a test fails on a
new route without one), and every row says what each principal gets. Refused cells are a
redirect to sign-in for anonymous visitors and 403 or 404 for everyone else; records outside an
instructor's courses are 404, as if they did not exist.

After the matrix: what the allowed pages contain (instructor A's gradebook, statistics and CSV
exports name a1 and a2 and never b1, and the other way round) and a regrade that must not touch
the other course.
"""

from __future__ import annotations

import csv
import io
import json
from typing import NamedTuple

import pytest
from sqlalchemy import select

from tests.conftest import WEB_PASSWORD, WallsWorld, answer_post
from web.db import session_factory
from web.models import ScoreChange, Submission, VariantRecord

PRINCIPALS = ("anonymous", "a1", "a2", "b1", "inst_a", "inst_b")
STUDENTS = ("a1", "a2", "b1")
INSTRUCTORS = ("inst_a", "inst_b")
COURSE_OF = {"a1": "A", "a2": "A", "b1": "B", "inst_a": "A", "inst_b": "B"}
LOGIN = "sign-in"  # expected: a redirect to the sign-in page
NOT_STAFF = "for instructors only"  # what a student's 403 on an instructor page says
OUTSIDE = "your courses"  # what a 404 outside an instructor's walls says


class Case(NamedTuple):
    rule: str  # the url_map rule this row covers
    method: str
    url: str  # with {pid}, {code_a1}, {uid_b1}, {course_a} ... filled in per world
    expected: dict  # principal -> status code or LOGIN
    data: dict | None = None


def signed_in(status, anonymous=LOGIN) -> dict:
    """Every signed-in principal gets `status`; anonymous visitors `anonymous`."""
    return {p: anonymous if p == "anonymous" else status for p in PRINCIPALS}


def staff(inst_a=200, inst_b=200) -> dict:
    """An instructor page: students refused with 403, each instructor as given."""
    return {"anonymous": LOGIN, **dict.fromkeys(STUDENTS, 403), "inst_a": inst_a,
            "inst_b": inst_b}


def walled(course: str, status: int = 200) -> dict:
    """An instructor page about course `course`'s records: its instructor `status`, the other 404."""
    return staff(inst_a=status if course == "A" else 404, inst_b=status if course == "B" else 404)


def code_view(owner: str) -> dict:
    """A code submission of `owner`: theirs and their course's instructor's; 404 for the rest."""
    expected = {p: 404 for p in PRINCIPALS}
    expected.update({"anonymous": LOGIN, owner: 200, f"inst_{COURSE_OF[owner].lower()}": 200})
    return expected


def _code_cases() -> list[Case]:
    cases = []
    for owner in STUDENTS:
        for rule, suffix in (("/code/submissions/<int:submission_id>", ""),
                             ("/code/submissions/<int:submission_id>/status", "/status")):
            cases.append(Case(rule, "GET", f"/code/submissions/{{code_{owner}}}{suffix}",
                              code_view(owner)))
    return cases


def _instructor_cases() -> list[Case]:
    stu, stv = "/instructor/students/<int:user_id>", "/instructor/students/<int:user_id>/<set_id>/<problem_id>"
    cases = [
        Case("/instructor/", "GET", "/instructor/", staff()),
        Case("/instructor/bank/reload", "POST", "/instructor/bank/reload", staff(302, 302)),
        Case("/instructor/gradebook", "GET", "/instructor/gradebook", staff()),
        Case("/instructor/gradebook", "GET", "/instructor/gradebook?course={course_a}",
             walled("A")),
        Case("/instructor/gradebook", "GET", "/instructor/gradebook?course={course_b}",
             walled("B")),
        Case("/instructor/preview/<problem_id>", "GET", "/instructor/preview/{pid}?seed=3",
             staff()),
        Case("/instructor/preview/<problem_id>", "POST", "/instructor/preview/{pid}?seed=3",
             staff(), {"answer": "1"}),
        Case("/instructor/preview/<problem_id>", "GET", "/instructor/preview/no-such-problem",
             staff(404, 404)),
        Case("/instructor/regrade/<problem_id>", "POST", "/instructor/regrade/{pid}",
             staff()),
        Case("/instructor/regrade/<problem_id>", "POST", "/instructor/regrade/{pid}",
             staff(302, 302), {"action": "apply"}),
        Case("/instructor/sets/<set_id>/stats", "GET", "/instructor/sets/open-set/stats",
             staff()),
        Case("/instructor/sets/<set_id>/stats", "GET",
             "/instructor/sets/open-set/stats?course={course_a}", walled("A")),
        Case("/instructor/sets/<set_id>/stats", "GET",
             "/instructor/sets/open-set/stats?course={course_b}", walled("B")),
        Case("/instructor/sets/<set_id>/stats", "GET", "/instructor/sets/nope/stats",
             staff(404, 404)),
        Case(stu, "GET", "/instructor/students/{uid_a1}", walled("A")),
        Case(stu, "GET", "/instructor/students/{uid_b1}", walled("B")),
        Case(stu, "GET", "/instructor/students/999999", staff(404, 404)),
        Case(stv, "GET", "/instructor/students/{uid_a1}/open-set/{pid}", walled("A")),
        Case(stv, "GET", "/instructor/students/{uid_b1}/open-set/{pid}", walled("B")),
        Case(stv, "GET", "/instructor/students/{uid_b1}/closed-set/{pid}", walled("B")),
    ]
    adm, who = "/instructor/admin", "/instructor/admin/students/<int:user_id>"
    cases += [
        Case(f"{adm}/", "GET", f"{adm}/", staff()),
        Case(f"{adm}/courses", "POST", f"{adm}/courses", staff(400, 400), {"name": ""}),
        Case(f"{adm}/course", "GET", f"{adm}/course?course={{course_a}}", walled("A")),
        Case(f"{adm}/course", "GET", f"{adm}/course?course={{course_b}}", walled("B")),
        Case(f"{adm}/roster", "POST", f"{adm}/roster?course={{course_a}}", walled("A", 400),
             {"roster_text": ""}),
        Case(f"{adm}/join-code", "POST", f"{adm}/join-code?course={{course_b}}",
             walled("B", 400), {"join_code": "no"}),
        Case(f"{adm}/canvas", "POST", f"{adm}/canvas?course={{course_b}}", walled("B", 400),
             {"set:open-set": "not-a-number"}),
        Case(f"{who}/reset", "POST", f"{adm}/students/{{uid_a1}}/reset?course={{course_b}}",
             staff(404, 404)),
        Case(f"{who}/allowance", "POST",
             f"{adm}/students/{{uid_a1}}/allowance?course={{course_a}}", walled("A", 400),
             {"set_id": "no-such-set"}),
        Case(f"{who}/remove", "POST", f"{adm}/students/{{uid_b1}}/remove?course={{course_a}}",
             staff(404, 404)),
    ]
    for kind in ("scores", "canvas", "submissions"):
        url = f"/instructor/export/{kind}.csv"
        cases += [Case("/instructor/export/<kind>.csv", "GET", url, staff()),
                  Case("/instructor/export/<kind>.csv", "GET", url + "?course={course_a}",
                       walled("A")),
                  Case("/instructor/export/<kind>.csv", "GET", url + "?course={course_b}",
                       walled("B"))]
    return cases


def _lti_cases() -> list[Case]:
    """LTI: the LMS-facing endpoints refuse a request without a launch (400) whoever sends it."""
    roster = "/lti/links/<int:link_id>/roster"
    return [
        Case("/lti/login", "GET", "/lti/login", signed_in(400, anonymous=400)),
        Case("/lti/login", "POST", "/lti/login", signed_in(400, anonymous=400), {}),
        Case("/lti/launch", "POST", "/lti/launch", signed_in(400, anonymous=400), {}),
        Case("/lti/jwks.json", "GET", "/lti/jwks.json", signed_in(200, anonymous=200)),
        Case("/lti/deep-link", "GET", "/lti/deep-link", signed_in(400)),
        Case("/lti/deep-link", "POST", "/lti/deep-link", signed_in(400), {"target": "x"}),
        Case("/lti/registrations", "GET", "/lti/registrations", staff()),
        Case("/lti/registrations", "POST", "/lti/registrations", staff(422, 422), {}),
        Case("/lti/keys/rotate", "POST", "/lti/keys/rotate", signed_in(403)),
        Case(roster, "POST", "/lti/links/999999/roster", signed_in(404)),
    ]


CASES = [
    Case("/", "GET", "/", signed_in(200)),
    Case("/auth/login", "GET", "/auth/login", signed_in(302, anonymous=200)),
    Case("/auth/login", "POST", "/auth/login", signed_in(401, anonymous=401),
         {"username": "student-a1", "password": "not-the-password"}),
    Case("/auth/logout", "POST", "/auth/logout", signed_in(302)),
    Case("/auth/password", "GET", "/auth/password", signed_in(200)),
    Case("/auth/password", "POST", "/auth/password", signed_in(400),
         {"current": "not-the-password", "new": "a-new-password-1",
          "confirm": "a-new-password-1"}),
    Case("/auth/register", "GET", "/auth/register", signed_in(200, anonymous=200)),
    Case("/auth/reset", "GET", "/auth/reset?token=forged", signed_in(400, anonymous=400)),
    Case("/auth/reset", "POST", "/auth/reset", signed_in(400, anonymous=400),
         {"token": "forged", "new": "a-new-password-1", "confirm": "a-new-password-1"}),
    Case("/auth/register", "POST", "/auth/register", signed_in(400, anonymous=400),
         {"join_code": "no-such-code", "username": "newcomer", "password": "x",
          "confirm": "x"}),
    Case("/code/", "GET", "/code/", signed_in(200)),
    Case("/code/<exercise>", "GET", "/code/conv_step_by_step", signed_in(200)),
    Case("/code/<exercise>", "GET", "/code/no_such_exercise", signed_in(404)),
    Case("/code/<exercise>", "POST", "/code/conv_step_by_step", signed_in(302), {"source": ""}),
    Case("/code/<exercise>/starter.py", "GET", "/code/conv_step_by_step/starter.py",
         signed_in(200)),
    # The student kit holds nothing secret: anyone may download it (tests/test_kit_web.py).
    Case("/code/kit/", "GET", "/code/kit/", signed_in(302, anonymous=302)),
    Case("/code/kit/<filename>", "GET", "/code/kit/stride_cnn_kit-0.0.1-py3-none-any.whl",
         signed_in(302, anonymous=302)),
    Case("/code/kit/<filename>", "GET", "/code/kit/secrets.txt", signed_in(404, anonymous=404)),
    *_code_cases(),

    Case("/practice/", "GET", "/practice/", signed_in(200, anonymous=200)),
    # {pid} is in the open graded set, so practice withholds it from everyone (404).
    Case("/practice/<problem_id>", "GET", "/practice/{pid}", signed_in(404, anonymous=404)),
    Case("/practice/<problem_id>", "POST", "/practice/{pid}", signed_in(404, anonymous=404),
         {"token": "forged", "answer": "1"}),
    Case("/sets/<set_id>", "GET", "/sets/open-set", signed_in(200)),
    Case("/sets/<set_id>", "GET", "/sets/nope", signed_in(404)),
    Case("/sets/<set_id>/<problem_id>", "GET", "/sets/open-set/{pid}", signed_in(200)),
    Case("/sets/<set_id>/<problem_id>", "POST", "/sets/open-set/{pid}", signed_in(422),
         {"answer": "", "request_token": "matrix-token-0123456789"}),
    Case("/static/<path:filename>", "GET", "/static/style.css", signed_in(200, anonymous=200)),
    *_instructor_cases(),
    *_lti_cases(),
]


def _cells():
    for case in CASES:
        for principal in PRINCIPALS:
            yield pytest.param(case, principal, id=f"{case.method} {case.url} as {principal}")


def _fill(url: str, app, world: WallsWorld) -> str:
    return url.format(pid=_problem(app), code_a1=world.code["a1"], code_a2=world.code["a2"],
                      code_b1=world.code["b1"], uid_a1=world.users["a1"],
                      uid_b1=world.users["b1"], course_a=world.courses["A"],
                      course_b=world.courses["B"])


def _problem(app) -> str:
    return sorted(app.extensions["stride_bank"].sets["open-set"].items,
                  key=lambda item: item.problem_id)[0].problem_id


def _sign_in(client, label: str) -> None:
    if label != "anonymous":
        response = client.post("/auth/login", data={"username": WallsWorld.username(label),
                                                    "password": WEB_PASSWORD})
        assert response.status_code == 302, f"could not sign in as {label}"


# --- the table covers the app -----------------------------------------------------------------

def _app_rules(app) -> set[tuple[str, str]]:
    return {(rule.rule, method) for rule in app.url_map.iter_rules()
            for method in rule.methods - {"HEAD", "OPTIONS"}}


def test_every_route_of_the_app_is_in_the_table(walls_app):
    app, _world = walls_app
    missing = {(r, m) for r, m in _app_rules(app) if r != "/static/<path:filename>"} - {
        (c.rule, c.method) for c in CASES}
    assert not missing, f"routes without a row in tests/test_authz.py CASES: {sorted(missing)}"


def test_every_row_reaches_the_rule_it_names_and_covers_every_principal(walls_app):
    app, world = walls_app
    adapter = app.url_map.bind("localhost")
    for case in CASES:
        path = _fill(case.url, app, world).split("?")[0]
        rule, _args = adapter.match(path, method=case.method, return_rule=True)
        assert rule.rule == case.rule, f"{case.method} {case.url} is {rule.rule}"
        assert set(case.expected) == set(PRINCIPALS), case.url


# --- the matrix -------------------------------------------------------------------------------

@pytest.mark.parametrize(("case", "principal"), list(_cells()))
def test_authorization_matrix(walls_app, case, principal):
    app, world = walls_app
    client = app.test_client()
    _sign_in(client, principal)
    url = _fill(case.url, app, world)
    response = client.open(url, method=case.method, data=case.data)
    expected = case.expected[principal]
    if expected == LOGIN:
        assert response.status_code == 302, f"{case.method} {url}: {response.status_code}"
        assert "/auth/login" in response.headers["Location"]
        return
    assert response.status_code == expected, f"{case.method} {url} as {principal}"
    body = response.get_data(as_text=True)
    if expected == 403 and url.startswith("/instructor/"):
        assert NOT_STAFF in body
    walled_url = any(key in case.url for key in ("{uid_", "{course_", "999999"))
    if expected == 404 and principal in INSTRUCTORS and walled_url:
        assert OUTSIDE in body, body


# --- what the allowed pages contain -----------------------------------------------------------

def _stored_variant(app, user_id: int, pid: str):
    from grader.variants import Variant

    with session_factory(app)() as session:
        record = session.scalar(select(VariantRecord).where(
            VariantRecord.user_id == user_id, VariantRecord.problem_id == pid))
        return Variant.from_json(json.loads(record.variant_json))


@pytest.fixture
def answered(app, client, walls_world, web_answer):
    """a1 right after one wrong answer, a2 wrong once, b1 wrong twice then right."""
    pid = _problem(app)
    plan = {"a1": [False, True], "a2": [False], "b1": [False, False, True]}
    for label, answers in plan.items():
        _sign_in(client, label)
        client.get(f"/sets/open-set/{pid}")
        variant = _stored_variant(app, walls_world.users[label], pid)
        for right in answers:
            client.post(f"/sets/open-set/{pid}", data=answer_post(web_answer(variant, right)))
        client.post("/auth/logout")
    return pid


OWN = {"inst_a": ("a1", "a2"), "inst_b": ("b1",)}
FOREIGN = {"inst_a": ("b1",), "inst_b": ("a1", "a2")}


def _names(labels) -> list[str]:
    return [WallsWorld.username(label) for label in labels]


@pytest.mark.parametrize("viewer", INSTRUCTORS)
@pytest.mark.parametrize("url", [
    "/instructor/gradebook", "/instructor/export/scores.csv", "/instructor/export/canvas.csv",
    "/instructor/export/submissions.csv"])
def test_instructor_pages_name_their_own_students_and_never_the_other_courses(
        client, walls_world, answered, viewer, url):
    _sign_in(client, viewer)
    body = client.get(url).get_data(as_text=True)
    for name in _names(OWN[viewer]):
        assert name in body, f"{url} as {viewer} lacks {name}"
    for name in _names(FOREIGN[viewer]):
        assert name not in body, f"{url} as {viewer} shows {name}"


def test_submissions_csv_holds_exactly_the_own_courses_answers(client, walls_world, answered):
    expected = {"inst_a": {"student-a1": 2, "student-a2": 1}, "inst_b": {"student-b1": 3}}
    for viewer, counts in expected.items():
        _sign_in(client, viewer)
        rows = list(csv.DictReader(io.StringIO(
            client.get("/instructor/export/submissions.csv").get_data(as_text=True))))
        found: dict[str, int] = {}
        for row in rows:
            found[row["username"]] = found.get(row["username"], 0) + 1
        assert found == counts, viewer
        client.post("/auth/logout")


def _summary(page: str, pid: str) -> list[str]:
    import re

    row = re.search(rf'href="#p-{re.escape(pid)}">[^<]+</a></td>(.*?)</tr>', page, re.S).group(1)
    return re.findall(r'<td class="num">([^<]*)</td>', row)


@pytest.mark.parametrize(("viewer", "students", "attempts", "sentence"), [
    ("inst_a", "2", "3", "2 students in Course A."),
    ("inst_b", "1", "3", "1 student in Course B."),
])
def test_statistics_count_only_the_own_courses_students(
        client, walls_world, answered, viewer, students, attempts, sentence):
    _sign_in(client, viewer)
    page = client.get("/instructor/sets/open-set/stats").get_data(as_text=True)
    assert sentence in page
    assert _summary(page, answered)[:2] == [students, attempts]
    for name in _names(FOREIGN[viewer]):
        assert name not in page


def _break_every_stored_answer(app, pid: str) -> None:
    """As if the YAML had a bug: every stored variant expects another answer, every score is 0."""
    with session_factory(app)() as session:
        for record in session.scalars(select(VariantRecord).where(
                VariantRecord.problem_id == pid)):
            data = json.loads(record.variant_json)
            answer = data["answer"]
            data["answer"] = ([v + 1000 for v in answer] if isinstance(answer, list)
                              else "broken" if isinstance(answer, str) else answer + 1000)
            record.variant_json = json.dumps(data)
        for sub in session.scalars(select(Submission).where(Submission.problem_id == pid)):
            sub.score, sub.correct = 0.0, False
        session.commit()


def _state_of(app, user_id: int, pid: str) -> tuple:
    with session_factory(app)() as session:
        subs = session.scalars(select(Submission).where(
            Submission.user_id == user_id, Submission.problem_id == pid)
            .order_by(Submission.attempt)).all()
        record = session.scalar(select(VariantRecord).where(
            VariantRecord.user_id == user_id, VariantRecord.problem_id == pid))
        changes = session.scalars(select(ScoreChange).where(
            ScoreChange.submission_id.in_([s.id for s in subs]))).all()
        return ([(s.score, s.correct, s.regraded_at) for s in subs], record.variant_json,
                len(changes))


def test_regrade_by_instructor_a_changes_nothing_of_course_b(app, client, walls_world, answered):
    pid = answered
    _break_every_stored_answer(app, pid)
    b1_before = _state_of(app, walls_world.users["b1"], pid)
    _sign_in(client, "inst_a")
    page = client.post(f"/instructor/regrade/{pid}", data={"action": "apply"},
                       follow_redirects=True).get_data(as_text=True)
    assert "3 submissions" in page and "1 score up" in page  # a1's right answer
    assert _state_of(app, walls_world.users["b1"], pid) == b1_before
    scores, _json, changes = _state_of(app, walls_world.users["a1"], pid)
    assert [s[:2] for s in scores] == [(0.0, False), (1.0, True)] and changes == 1
    client.post("/auth/logout")
    _sign_in(client, "inst_b")  # b1's own instructor can still correct it
    client.post(f"/instructor/regrade/{pid}", data={"action": "apply"})
    scores, _json, changes = _state_of(app, walls_world.users["b1"], pid)
    assert [s[:2] for s in scores][-1] == (1.0, True) and changes == 1
