"""Course administration in the browser: courses and join codes, roster import, reset links,
extensions and extra attempts, removing a student; and who may do each."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from conftest import WEB_PASSWORD, answer_post
from sqlalchemy import select

from grader.bank import load_bank
from grader.bank.problem import Bank
from web.auth.reset import RESET_VALID, valid_reset
from web.db import session_factory
from web.models import Course, Enrollment, PasswordReset, User
from web.quiz.practice import withheld_reason

CANVAS_ROSTER = (
    "Student,ID,SIS User ID,SIS Login ID,Section\r\n"
    "    Points Possible,,,,\r\n"
    '"Lovelace, Ada",101,s101,ada.lovelace,Section 1\r\n'
    '"Turing, Alan",102,s102,,Section 1\r\n'  # no login: refused, the others still imported
    '"Hopper, Grace",103,s103,grace@example.edu,Section 2\r\n'
    '"Student, Test",104,,test-student,Section 1\r\n'
)


def _text(response) -> str:
    return response.get_data(as_text=True)


def _course_id(app, name="Test course") -> int:
    with session_factory(app)() as session:
        return session.scalar(select(Course.id).where(Course.name == name))


def _user_id(app, username) -> int:
    with session_factory(app)() as session:
        return session.scalar(select(User.id).where(User.username == username))


@pytest.fixture
def ines(client, auth):
    auth.login("ines")
    return client


def test_an_instructor_creates_a_course_whose_join_code_registers_students(app, ines):
    page = _text(ines.get("/instructor/admin/"))
    assert "Test course" in page and "New course" in page
    response = ines.post("/instructor/admin/courses", data={"name": "CNNs, spring",
                                                            "join_code": "spring-cnn"})
    assert response.status_code == 302
    page = _text(ines.get(response.headers["Location"]))
    assert "CNNs, spring" in page and "spring-cnn" in page and "No students yet" in page
    again = ines.post("/instructor/admin/courses", data={"name": "CNNs, spring"})
    assert again.status_code == 400 and "exists already" in _text(again)
    ines.post("/auth/logout")
    response = ines.post("/auth/register", data={
        "join_code": "spring-cnn", "username": "newcomer", "password": WEB_PASSWORD,
        "confirm": WEB_PASSWORD})
    assert response.status_code == 302
    with session_factory(app)() as session:
        course = session.scalar(select(Course).where(Course.name == "CNNs, spring"))
        members = {e.user.username: e.role for e in course.enrollments}
    assert members == {"ines": "instructor", "newcomer": "student"}


def test_a_canvas_roster_imports_its_good_rows_and_states_the_bad_one(app, ines):
    course = _course_id(app)
    response = ines.post(f"/instructor/admin/roster?course={course}",
                         data={"roster_text": CANVAS_ROSTER, "mode": "rows"})
    page = _text(response)
    assert response.status_code == 422  # some rows were refused: said, with the good ones in
    assert "Read as a Canvas gradebook roster: 2 accounts created" in page
    assert re.search(r"<td>4</td><td></td><td>The row has no username", page)
    assert "ada.lovelace" in page and "grace@example.edu" in page
    assert "test-student" not in page  # Canvas's test student is skipped
    with session_factory(app)() as session:
        ada = session.scalar(select(User).where(User.username == "ada.lovelace"))
        assert ada.display_name == "Ada Lovelace"
        assert session.scalar(select(Enrollment.role).where(
            Enrollment.user_id == ada.id, Enrollment.course_id == course)) == "student"


def test_all_or_nothing_imports_nothing_when_a_row_is_bad(app, ines):
    course = _course_id(app)
    page = _text(ines.post(f"/instructor/admin/roster?course={course}",
                           data={"roster_text": CANVAS_ROSTER, "mode": "all"}))
    assert "Nothing was imported: 1 row could not be" in page
    assert _user_id(app, "ada.lovelace") is None


def test_a_stride_roster_refuses_staff_accounts_and_duplicates_per_row(app, ines):
    course = _course_id(app)
    text = "username,display_name\nines,Ines\nnew-one,New One\nnew-one,Again\nbad name!,X\n"
    page = _text(ines.post(f"/instructor/admin/roster?course={course}",
                           data={"roster_text": text}))
    assert "instructor or admin account" in page and "earlier line of this file" in page
    assert "is not allowed" in page
    assert _user_id(app, "new-one") is not None
    unreadable = ines.post(f"/instructor/admin/roster?course={course}",
                           data={"roster_text": "name,email\nx,y\n"})
    assert unreadable.status_code == 400 and "header is not one Stride reads" in _text(unreadable)


def test_a_reset_link_works_once_is_stored_hashed_and_ends_sessions(app, ines, make_app):
    course, alice = _course_id(app), _user_id(app, "alice")
    other = app.test_client()  # alice, signed in elsewhere
    other.post("/auth/login", data={"username": "alice", "password": WEB_PASSWORD})
    page = _text(ines.post(f"/instructor/admin/students/{alice}/reset?course={course}"))
    link = re.search(r'value="(http[^"]+/auth/reset\?token=[^"]+)"', page).group(1)
    token = link.split("token=")[1]
    with session_factory(app)() as session:
        stored = session.scalars(select(PasswordReset.token_hash)).all()
        assert token not in stored and len(stored) == 1
    visitor = app.test_client()
    assert visitor.get(f"/auth/reset?token={token}").status_code == 200
    short = visitor.post("/auth/reset", data={"token": token, "new": "x", "confirm": "x"})
    assert short.status_code == 400 and "at least 8" in _text(short)
    done = visitor.post("/auth/reset", data={"token": token, "new": "brand-new-pass",
                                             "confirm": "brand-new-pass"})
    assert done.status_code == 302
    assert other.get("/").status_code == 302  # the other session has ended
    assert visitor.post("/auth/login", data={"username": "alice",
                                             "password": "brand-new-pass"}).status_code == 302
    again = app.test_client().post("/auth/reset", data={"token": token, "new": "another-pass",
                                                        "confirm": "another-pass"})
    assert again.status_code == 400 and "does not work" in _text(again)


def test_a_reset_link_expires_and_a_newer_one_voids_it(app, ines):
    course, alice = _course_id(app), _user_id(app, "alice")
    first = re.search(r"token=([^\"]+)\"", _text(ines.post(
        f"/instructor/admin/students/{alice}/reset?course={course}"))).group(1)
    second = re.search(r"token=([^\"]+)\"", _text(ines.post(
        f"/instructor/admin/students/{alice}/reset?course={course}"))).group(1)
    with session_factory(app)() as session:
        assert valid_reset(session, first) is None
        assert valid_reset(session, second) is not None
        later = datetime.now(UTC) + RESET_VALID + timedelta(minutes=1)
        assert valid_reset(session, second, now=later) is None


def test_an_extension_reopens_a_closed_set_for_one_student_and_is_shown(app, ines, auth):
    course, alice = _course_id(app), _user_id(app, "alice")
    pid = app.extensions["stride_bank"].sets["closed-set"].items[0].problem_id
    response = ines.post(f"/instructor/admin/students/{alice}/allowance?course={course}",
                         data={"set_id": "closed-set", "due": "2999-06-01T12:00",
                               "extra_attempts": "2"})
    assert response.status_code == 302
    assert "closed-set: due" in _text(ines.get(f"/instructor/admin/course?course={course}"))
    auth.logout()
    auth.login("alice")
    page = _text(ines.get("/sets/closed-set"))
    assert "extended for you" in page and "2 extra attempts on each problem" in page
    page = _text(ines.get(f"/sets/closed-set/{pid}"))
    assert "0 of 5 attempts used" in page and "Submit answer" in page
    response = ines.post(f"/sets/closed-set/{pid}", data=answer_post("1"))
    assert response.status_code in (302, 422)  # graded or unreadable: not refused as closed
    auth.logout()
    auth.login("bob")
    assert "Submit answer" not in _text(ines.get(f"/sets/closed-set/{pid}"))  # bob's is closed


def test_allowance_forms_say_what_is_wrong(app, ines):
    course, alice = _course_id(app), _user_id(app, "alice")
    url = f"/instructor/admin/students/{alice}/allowance?course={course}"
    for data, message in (({"set_id": "nope"}, "pick one of the problem sets"),
                          ({"set_id": "open-set", "due": "soon"}, "as date and time"),
                          ({"set_id": "open-set", "extra_attempts": "-1"}, "whole number")):
        response = ines.post(url, data=data)
        assert response.status_code == 400 and message in _text(response)


def test_removing_a_student_keeps_their_records_and_walls_hold(app, ines, auth):
    course, alice = _course_id(app), _user_id(app, "alice")
    response = ines.post(f"/instructor/admin/students/{alice}/remove?course={course}")
    assert response.status_code == 302
    page = _text(ines.get(f"/instructor/admin/course?course={course}"))
    assert "alice is no longer in Test course" in page and f'id="student-{alice}"' not in page
    gone = ines.post(f"/instructor/admin/students/{alice}/remove?course={course}")
    assert gone.status_code == 404 and "your courses" in _text(gone)
    assert _user_id(app, "alice") is not None
    auth.logout()
    auth.login("bob")
    refused = ines.get(f"/instructor/admin/course?course={course}")
    assert refused.status_code == 403 and "for instructors only" in _text(refused)


def test_a_teaching_assistant_cannot_manage_the_course(app, client, auth):
    course = _course_id(app)
    with session_factory(app)() as session:
        bob = session.scalar(select(User).where(User.username == "bob"))
        session.execute(Enrollment.__table__.update().where(
            Enrollment.user_id == bob.id).values(role="ta"))
        session.commit()
    auth.login("bob")
    response = client.get(f"/instructor/admin/course?course={course}")
    assert response.status_code == 403 and "Only the instructors of Test course" in _text(response)
    assert client.post("/instructor/admin/courses", data={"name": "Mine"}).status_code == 403


def test_practice_waits_for_every_students_extension(web_bank):
    closed = web_bank.sets["closed-set"]
    bank = Bank(problems=web_bank.problems, sets={"closed-set": closed})
    problem = web_bank.problems[closed.items[0].problem_id]
    now = datetime.now(UTC)
    assert withheld_reason(bank, problem, now) is None
    reason = withheld_reason(bank, problem, now, {"closed-set": now + timedelta(days=1)})
    assert "extension of it is still running" in reason
    assert withheld_reason(bank, problem, now, {"closed-set": now - timedelta(days=1)}) is None


# --- exports: code exercises and Canvas assignments -------------------------------------------

CANVAS_ASSIGNMENT = re.compile(r"^(?P<title>.+) \((?P<id>[^()]+)\)$")


def _csv(response) -> list[list[str]]:
    import csv
    import io

    assert response.status_code == 200
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def _graded_code(app, username: str, exercise: str, score: float, max_score: float) -> None:
    from web.models import CodeSubmission

    with session_factory(app)() as session:
        uid = session.scalar(select(User.id).where(User.username == username))
        session.add(CodeSubmission(user_id=uid, exercise=exercise, source="pass", status="done",
                                   score=score, max_score=max_score))
        session.commit()


def test_the_canvas_csv_fills_existing_assignments_and_includes_code(app, ines):
    from web.bank import exercise_title, exercises

    course, exercise = _course_id(app), exercises()[0]
    _graded_code(app, "alice", exercise, 19.0, 32.0)
    _graded_code(app, "alice", exercise, 12.0, 32.0)  # the best counts
    refused = ines.post(f"/instructor/admin/canvas?course={course}",
                        data={"set:open-set": "12a"})
    assert refused.status_code == 400 and "digits only" in _text(refused)
    assert ines.post(f"/instructor/admin/canvas?course={course}",
                     data={"set:open-set": "4711", f"code:{exercise}": "4712"}).status_code == 302
    raw = ines.get(f"/instructor/export/canvas.csv?course={course}").get_data(as_text=True)
    assert raw.endswith("\r\n")  # RFC 4180 lines, as Canvas's importer reads them
    rows = _csv(ines.get(f"/instructor/export/canvas.csv?course={course}"))
    header, possible, body = rows[0], rows[1], rows[2:]
    # Canvas's documented layout: five fixed columns, then "Assignment Name (id)" columns
    assert header[:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert all(CANVAS_ASSIGNMENT.match(h) for h in header[5:])
    assert "Open set (4711)" in header and f"{exercise_title(exercise)} (4712)" in header
    assert "Closed set (closed-set)" in header  # no Canvas id: a new assignment
    assert possible[0] == "Points Possible" and possible[1:5] == ["", "", "", ""]
    code_col = header.index(f"{exercise_title(exercise)} (4712)")
    assert float(possible[code_col]) == 32.0
    assert all(len(row) == len(header) for row in rows)
    students = {row[3]: row for row in body}
    assert set(students) == {"alice", "bob"} and all(row[4] == "Test course" for row in body)
    assert float(students["alice"][code_col]) == 19.0 and students["bob"][code_col] == ""
    for row in body:
        assert all(cell == "" or float(cell) >= 0 for cell in row[5:])


def test_the_scores_csv_has_a_column_per_code_exercise(app, ines):
    from web.bank import exercises

    exercise = exercises()[0]
    _graded_code(app, "bob", exercise, 7.5, 32.0)
    rows = _csv(ines.get("/instructor/export/scores.csv"))
    column = rows[0].index(f"code:{exercise}")
    by_user = {row[0]: row for row in rows[1:]}
    assert float(by_user["bob"][column]) == 7.5 and by_user["alice"][column] == ""
    assert rows[0][-1] == "total"


def test_the_demo_course_comes_with_classmates_answers_and_code(app):
    from sqlalchemy import func

    from web.cli import DEMO_CLASSMATES, setup_demo
    from web.models import CodeSubmission, Submission

    demo = load_bank().sets["demo"]
    bank = app.extensions["stride_bank"]
    app.extensions["stride_bank"] = Bank(problems=bank.problems, sets={**bank.sets, "demo": demo})

    def counts():
        with session_factory(app)() as session:
            per_user = dict(session.execute(
                select(User.username, func.count(Submission.id))
                .join(Submission, Submission.user_id == User.id).group_by(User.username)).all())
            code = session.scalar(select(func.count(CodeSubmission.id)))
        return per_user, code

    setup_demo(app)
    per_user, code = counts()
    assert set(DEMO_CLASSMATES) | {"bob"} <= set(per_user) and "alice" not in per_user
    assert code >= 4 * 2
    setup_demo(app)  # idempotent: nothing added twice
    assert counts() == (per_user, code)


def test_a_ta_cannot_preview_a_closed_sets_problem_while_an_extension_runs(app, client, auth):
    """A student's extension keeps the set graded for that student: a TA (who may be a student
    elsewhere) must not browse its seeds for answers until the last extension ends."""
    full = app.extensions["stride_bank"]
    closed = full.sets["closed-set"]
    app.extensions["stride_bank"] = Bank(problems=full.problems, sets={"closed-set": closed})
    pid = closed.items[0].problem_id
    course, alice = _course_id(app), _user_id(app, "alice")
    with session_factory(app)() as session:
        session.execute(Enrollment.__table__.update().where(
            Enrollment.user_id == _user_id(app, "bob")).values(role="ta"))
        session.commit()
    auth.login("bob")
    assert client.get(f"/instructor/preview/{pid}?seed=3").status_code == 200
    auth.logout()
    auth.login("ines")
    assert client.post(f"/instructor/admin/students/{alice}/allowance?course={course}",
                       data={"set_id": "closed-set", "due": "2999-06-01T12:00"}
                       ).status_code == 302
    auth.logout()
    auth.login("bob")
    refused = client.get(f"/instructor/preview/{pid}?seed=3")
    assert refused.status_code == 403 and "only instructors can preview it" in _text(refused)


def test_a_new_join_code_replaces_the_old_one_and_keeps_the_students(app, ines, client):
    course = _course_id(app)
    with session_factory(app)() as session:
        old = session.get(Course, course).join_code
        before = {e.user_id for e in session.get(Course, course).enrollments}
    url = f"/instructor/admin/join-code?course={course}"
    for data, message in (({"join_code": "a b"}, "4 to 64 letters"),
                          ({"join_code": old}, "join code already")):
        refused = ines.post(url, data=data)
        assert refused.status_code == 400 and message in _text(refused)
    response = ines.post(url, data={"join_code": "fresh-code-2"})
    assert response.status_code == 302
    assert "fresh-code-2" in _text(ines.get(response.headers["Location"]))
    with session_factory(app)() as session:
        assert session.get(Course, course).join_code == "fresh-code-2"
        assert {e.user_id for e in session.get(Course, course).enrollments} == before
    ines.post("/auth/logout")
    for code, status in ((old, 400), ("fresh-code-2", 302)):
        response = client.post("/auth/register", data={
            "join_code": code, "username": f"joiner{status}", "password": WEB_PASSWORD,
            "confirm": WEB_PASSWORD})
        assert response.status_code == status


def test_granting_or_removing_an_allowance_resends_that_students_lms_score(app, ines,
                                                                          monkeypatch):
    import web.instructor.admin as admin

    sent = []
    monkeypatch.setattr(admin, "resend_scores",
                        lambda session, user_id, **target: sent.append((user_id, target)) or 0)
    course, alice = _course_id(app), _user_id(app, "alice")
    url = f"/instructor/admin/students/{alice}/allowance?course={course}"
    assert ines.post(url, data={"set_id": "closed-set", "extra_attempts": "1"}).status_code == 302
    assert ines.post(url, data={"set_id": "closed-set"}).status_code == 302  # taken back
    assert ines.post(url, data={"set_id": "nope"}).status_code == 400
    assert sent == [(alice, {"set_id": "closed-set"})] * 2
