"""Course walls: `web.scope`, the `?course=` parameter, TAs, admins, staff without a course, and
the command line that makes someone staff of a course.

The world of two courses (A: students a1, a2, instructor inst_a, TA ta_a; B: student b1,
instructor inst_b; plus admin and lonely, an instructor account of no course) is built by
`add_walls_world` in tests/conftest.py.
"""

from __future__ import annotations

import html
import inspect
import re

import pytest
from sqlalchemy import select

from tests.conftest import WEB_PASSWORD, WallsWorld
from web import scope
from web.db import session_factory
from web.instructor import exports, gradebook, queries, regrade
from web.models import Enrollment, User

COURSE_MESSAGE = "There is no course with the number"


def _sign_in(client, label: str) -> None:
    response = client.post("/auth/login", data={"username": WallsWorld.username(label),
                                                "password": WEB_PASSWORD})
    assert response.status_code == 302, f"could not sign in as {label}"


def _text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def _names(labels) -> list[str]:
    return [WallsWorld.username(label) for label in labels]


# --- parsing ?course= -------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["1", "42", "007", str(2**63 - 1)])
def test_course_ids_are_plain_ascii_digits_in_range(text):
    assert scope.parse_course_id(text) == int(text)


@pytest.mark.parametrize("text", [
    "", "0", "-1", "+1", " 1", "1 ", "1.0", "1e3", "0x1", "abc", "²", "٣", "１", "1٣",
    str(2**63), "9" * 5000, "1\r\n", "\r\nSet-Cookie: x=1", "\x00", "1\x00", "\ufffd",
])
def test_anything_else_is_no_course_of_yours(text):
    with pytest.raises(scope.OutsideWalls, match=f"{COURSE_MESSAGE} .* among your courses"):
        scope.parse_course_id(text)


@pytest.mark.parametrize("path", ["/instructor/gradebook", "/instructor/sets/open-set/stats",
                                  "/instructor/export/scores.csv", "/instructor/export/canvas.csv",
                                  "/instructor/export/submissions.csv"])
@pytest.mark.parametrize("value", ["²", "٣", "-1", "0", str(2**63), str(2**63 - 1), "9" * 5000,
                                   "1\r\n", "abc"])
def test_a_bad_course_parameter_is_a_404_with_a_sentence(app, client, walls_world, path, value):
    _sign_in(client, "inst_a")
    response = client.get(path, query_string={"course": value})
    assert response.status_code == 404
    assert COURSE_MESSAGE in _text(response) and "Pick one from the course list" in _text(response)


@pytest.mark.parametrize("path", ["/instructor/gradebook", "/instructor/export/scores.csv"])
def test_a_nul_in_the_course_parameter_is_refused_before_any_lookup(app, client, walls_world,
                                                                   path):
    _sign_in(client, "inst_a")
    response = client.get(path, query_string={"course": "1\x00"})
    assert response.status_code == 400 and "NUL character" in _text(response)


def test_undecodable_course_bytes_are_a_404_too(app, client, walls_world):
    _sign_in(client, "inst_a")
    response = client.get("/instructor/gradebook?course=%FF%FE")
    assert response.status_code == 404 and COURSE_MESSAGE in _text(response)


# --- the queries cannot be called unscoped ----------------------------------------------------

def _scoped_functions():
    for module in (queries, gradebook, regrade, exports):
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ == module.__name__ and \
                    "course_ids" in inspect.signature(function).parameters:
                yield f"{module.__name__}.{name}", function


def test_every_student_query_takes_course_ids_without_a_default():
    found = dict(_scoped_functions())
    expected = {"gradebook_rows", "students", "student", "usernames", "best_scores",
                "best_code_scores", "code_submissions", "student_submissions", "all_submissions",
                "problem_attempts", "variant_records", "regrade_problem", "courses", "runs",
                "undo_run", "reissue_variants",
                "student_counts", "export", "of_students"}
    assert {name.rsplit(".", 1)[1] for name in found} == expected
    for name, function in found.items():
        parameter = inspect.signature(function).parameters["course_ids"]
        assert parameter.default is inspect.Parameter.empty, f"{name} defaults course_ids"


def test_the_other_instructor_queries_read_no_students_by_themselves():
    """A new query over students must take course_ids (or be added here, with a reason)."""
    unscoped = {name for module in (queries, gradebook, regrade)
                for name, function in inspect.getmembers(module, inspect.isfunction)
                if function.__module__ == module.__name__
                and "course_ids" not in inspect.signature(function).parameters}
    # set_points and sort_gradebook work on rows already read; score_changes and
    # the regrade helpers work on variants and submissions a scoped query returned (or, to undo,
    # on the rows a run recorded when it was applied within the walls).
    assert unscoped == {"set_points", "sort_gradebook", "score_changes", "_rescore", "_snapshot",
                        "_store", "_restore", "_retired", "_undo_reissue", "_apply_plan"}


def test_an_unscoped_call_fails_loudly_and_no_courses_means_nobody(app, walls_world, web_bank):
    sets = list(web_bank.sets.values())
    with session_factory(app)() as session:
        with pytest.raises(TypeError, match="course_ids"):
            gradebook.gradebook_rows(session, sets)  # type: ignore[call-arg]
        assert gradebook.gradebook_rows(session, sets, []) == []
        assert queries.all_submissions(session, []) == []
        assert queries.student(session, [], walls_world.users["a1"]) is None


# --- the scope helper -------------------------------------------------------------------------

def test_staff_courses_roles_and_students_follow_enrollments(app, walls_world):
    world = walls_world
    a, b = world.courses["A"], world.courses["B"]
    with session_factory(app)() as session:
        user = {label: session.get(User, uid) for label, uid in world.users.items()}
        assert scope.staff_course_ids(session, user["inst_a"]) == [a]
        assert scope.staff_course_ids(session, user["a1"]) == []
        assert scope.staff_roles(session, user["ta_a"]) == {a: "ta"}
        assert set(scope.staff_course_ids(session, user["admin"])) >= {a, b}
        assert scope.staff_roles(session, user["admin"])[b] == "admin"
        assert scope.staff_course_ids(session, user["lonely"]) == []
        assert scope.can_see_student(session, user["inst_a"], world.users["a2"])
        assert not scope.can_see_student(session, user["inst_a"], world.users["b1"])
        assert not scope.can_see_student(session, user["inst_a"], world.users["inst_b"])
        assert scope.can_see_student(session, user["admin"], world.users["b1"])
        assert not scope.can_see_student(session, user["admin"], 999999)
        assert scope.visible_course_ids(session, user["inst_a"], b) == []


def test_walls_for_narrows_to_a_course_of_ones_own_only(app, walls_world):
    world = walls_world
    with session_factory(app)() as session:
        inst_a = session.get(User, world.users["inst_a"])
        walls = scope.walls_for(session, inst_a)
        assert walls.course is None and walls.course_ids == (world.courses["A"],)
        chosen = scope.walls_for(session, inst_a, str(world.courses["A"]))
        assert chosen.course.name == "Course A"
        with pytest.raises(scope.OutsideWalls, match=f"{COURSE_MESSAGE} '{world.courses['B']}'"):
            scope.walls_for(session, inst_a, str(world.courses["B"]))


# --- who gets in, and what they see -----------------------------------------------------------

def test_a_teaching_assistant_sees_their_course_like_its_instructor(app, client, walls_world):
    world = walls_world
    _sign_in(client, "ta_a")
    overview = _text(client.get("/instructor/"))
    assert "Course A" in overview and "teaching assistant" in overview
    assert "Course B" not in overview
    book = _text(client.get("/instructor/gradebook"))
    assert all(name in book for name in _names(["a1", "a2"])) and "student-b1" not in book
    assert client.get(f"/instructor/students/{world.users['a1']}").status_code == 200
    foreign = client.get(f"/instructor/students/{world.users['b1']}")
    assert foreign.status_code == 404
    assert "There is no student with that number in your courses." in _text(foreign)
    assert client.get(f"/instructor/gradebook?course={world.courses['B']}").status_code == 404


def test_the_dashboard_names_the_instructors_role_and_student_count(app, client, walls_world):
    _sign_in(client, "inst_a")
    page = _text(client.get("/instructor/"))
    section = page[page.index('id="my-courses"'):page.index("</section>")]
    cells = [" ".join(cell.split()) for cell in
             re.findall(r"<td[^>]*>(.*?)</td>", section, re.S)]
    assert cells[:3] == ["Course A", '<span class="tag">instructor</span>', "2"]


def test_an_admin_sees_every_course_explicitly(app, client, walls_world):
    world = walls_world
    _sign_in(client, "admin")
    overview = _text(client.get("/instructor/"))
    assert "Course A" in overview and "Course B" in overview and "admin" in overview
    book = _text(client.get("/instructor/gradebook"))
    assert all(name in book for name in _names(["a1", "a2", "b1"]))
    assert 'id="course"' in book  # several courses: the picker
    only_b = _text(client.get(f"/instructor/gradebook?course={world.courses['B']}"))
    assert "student-b1" in only_b and "student-a1" not in only_b
    assert client.get(f"/instructor/students/{world.users['b1']}").status_code == 200


def test_an_instructor_of_no_course_sees_an_empty_overview_that_says_so(
        app, client, walls_world, web_bank):
    world = walls_world
    _sign_in(client, "lonely")
    overview = client.get("/instructor/")
    assert overview.status_code == 200
    assert "You are not staff of any course yet" in _text(overview)
    book = _text(client.get("/instructor/gradebook"))
    assert "No students yet." in book and "student-a1" not in book
    scores = _text(client.get("/instructor/export/scores.csv"))
    assert scores.splitlines()[1:] == []
    assert client.get(f"/instructor/students/{world.users['a1']}").status_code == 404
    problem = sorted(web_bank.problems)[0]
    assert client.get(f"/instructor/preview/{problem}?seed=5").status_code == 200


def test_the_drill_down_lists_only_that_students_code(app, client, walls_world):
    world = walls_world
    _sign_in(client, "inst_a")
    page = _text(client.get(f"/instructor/students/{world.users['a1']}"))
    assert f'href="/code/submissions/{world.code["a1"]}"' in page and "a1.py" in page
    assert "a2.py" not in page and "b1.py" not in page


def test_the_course_picker_lists_only_ones_own_courses(app, client, walls_world):
    from web.cli import set_course_role
    from web.models import Course

    with session_factory(app)() as session:  # inst_a also assists in "Test course"
        inst_a = session.get(User, walls_world.users["inst_a"])
        course = session.scalar(select(Course).where(Course.name == "Test course"))
        set_course_role(session, inst_a, course, "ta")
        session.commit()
    _sign_in(client, "inst_a")
    page = _text(client.get("/instructor/gradebook"))
    picker = page[page.index('<select id="course"'):page.index("</select>")]
    assert "Course A" in picker and "Test course" in picker and "Course B" not in picker
    assert all(name in page for name in ["alice", "bob", "student-a1"])


# --- the command line -------------------------------------------------------------------------

def _enrollments(app, username: str) -> list[tuple[str, str]]:
    from web.models import Course

    with session_factory(app)() as session:
        rows = session.execute(
            select(Course.name, Enrollment.role).join(Enrollment.course).join(Enrollment.user)
            .where(User.username == username).order_by(Course.name)).all()
        return [tuple(row) for row in rows]


def test_create_user_can_make_a_course_ta(app, runner):
    result = runner.invoke(args=["create-user", "tara", "--password", "long-enough-1",
                                 "--course", "CNN 101", "--course-role", "ta"])
    assert result.exit_code == 0, result.output
    assert "Created student 'tara' (teaching assistant of 'CNN 101')." in result.output
    assert _enrollments(app, "tara") == [("CNN 101", "ta")]


def test_create_user_keeps_the_default_course_role_of_the_account(app, runner):
    result = runner.invoke(args=["create-user", "ivo", "--role", "instructor", "--password",
                                 "long-enough-1", "--course", "CNN 101"])
    assert result.exit_code == 0 and "(instructor of 'CNN 101')" in result.output
    assert _enrollments(app, "ivo") == [("CNN 101", "instructor")]
    admin = runner.invoke(args=["create-user", "root2", "--role", "admin", "--password",
                                "long-enough-1"])
    assert admin.exit_code == 0 and "Created admin 'root2'." in admin.output


def test_create_user_course_role_needs_a_course(runner):
    result = runner.invoke(args=["create-user", "tara", "--password", "long-enough-1",
                                 "--course-role", "ta"])
    assert result.exit_code == 2 and "--course-role needs --course" in result.output


def test_add_staff_makes_a_student_a_ta_who_then_sees_the_course(app, runner, client):
    result = runner.invoke(args=["add-staff", "alice", "Test course", "--role", "ta"])
    assert result.exit_code == 0, result.output
    assert "'alice' is now teaching assistant of 'Test course' (was student)." in result.output
    client.post("/auth/login", data={"username": "alice", "password": WEB_PASSWORD})
    page = _text(client.get("/instructor/gradebook"))
    assert "bob" in page
    again = runner.invoke(args=["add-staff", "alice", "Test course"])
    assert "'alice' is now instructor of 'Test course' (was teaching assistant)." in again.output


@pytest.mark.parametrize(("args", "message"), [
    (["nobody", "Test course"], "There is no account called 'nobody'."),
    (["alice", "No such course"], "There is no course called 'No such course'."),
])
def test_add_staff_explains_what_is_missing(runner, args, message):
    result = runner.invoke(args=["add-staff", *args])
    assert result.exit_code == 1 and message in result.output


def test_add_staff_role_is_instructor_or_ta(runner):
    result = runner.invoke(args=["add-staff", "alice", "Test course", "--role", "admin"])
    assert result.exit_code == 2 and "'admin' is not one of 'ta', 'instructor'" in result.output


def test_setup_demo_keeps_the_demo_instructor_staff_of_the_demo_course(app):
    from web.cli import DEMO_COURSE, setup_demo

    setup_demo(app)
    assert _enrollments(app, "instructor") == [(DEMO_COURSE, "instructor")]
    with session_factory(app)() as session:  # as an older demo database may have it
        for row in session.scalars(select(Enrollment).join(Enrollment.user)
                                   .where(User.username == "instructor")):
            row.role = "student"
        session.commit()
    setup_demo(app)
    assert _enrollments(app, "instructor") == [(DEMO_COURSE, "instructor")]
    assert _enrollments(app, "alice") == [(DEMO_COURSE, "student"), ("Test course", "student")]


@pytest.mark.parametrize(("label", "shown"), [("ta_a", True), ("inst_a", True), ("admin", True),
                                              ("a1", False)])
def test_the_top_bar_links_the_instructor_pages_for_staff_only(app, client, walls_world, label,
                                                               shown):
    _sign_in(client, label)
    page = _text(client.get("/"))
    assert ('href="/instructor/"' in page) is shown


def test_a_ta_cannot_preview_an_open_graded_problem_nor_read_hidden_cases(app, client,
                                                                          walls_world, web_bank):
    """A TA's account may answer graded sets itself (sets and exercises are shared)."""
    problem = sorted(web_bank.problems)[0]  # in the open set of the test bank
    _sign_in(client, "ta_a")
    refused = client.get(f"/instructor/preview/{problem}?seed=5")
    assert refused.status_code == 403 and "only instructors can preview it" in _text(refused)
    report = _text(client.get(f"/code/submissions/{walls_world.code['a1']}"))
    assert "a1.py" in report and "You see this report as staff" not in report
    client.post("/auth/logout")
    _sign_in(client, "inst_a")
    assert client.get(f"/instructor/preview/{problem}?seed=5").status_code == 200
    assert "You see this report as staff" in _text(
        client.get(f"/code/submissions/{walls_world.code['a1']}"))


def test_a_regrade_back_link_with_a_line_break_is_not_followed(app, client, walls_world,
                                                               web_bank):
    problem = sorted(web_bank.problems)[0]
    _sign_in(client, "inst_a")
    response = client.post(f"/instructor/regrade/{problem}",
                           data={"back": "/instructor/x\r\nX-Injected: 1", "action": "apply"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/instructor/")
    assert "X-Injected" not in response.headers
