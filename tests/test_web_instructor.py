"""The instructor's side: statistics, exports, every page behind the role check, regrade, reload."""

from __future__ import annotations

import csv
import html
import io
import json
import re
import secrets
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from web.bank import exercises
from web.db import session_factory
from web.instructor import stats
from web.instructor.exports import safe_cell
from web.models import ScoreChange, Submission, User, VariantRecord

WEB_PASSWORD = "correct-horse-1"  # the fixture users' password (tests/conftest.py)
ROLES = ("anonymous", "student", "other student", "instructor")
USERNAMES = {"student": "alice", "other student": "bob", "instructor": "ines"}
TEXT_TYPES = ("integer", "number", "shape", "vector")


# --- pure statistics --------------------------------------------------------------------------

def _a(uid, attempt, score, answer="1", mistake=None):
    return stats.Attempt(uid, attempt, score, score >= 1.0, answer, mistake)


def test_first_try_correct_counts_students_not_submissions():
    attempts = [_a(1, 1, 1.0), _a(2, 1, 0.0), _a(2, 2, 1.0), _a(3, 2, 1.0), _a(3, 1, 0.0)]
    assert stats.first_try_correct(attempts) == pytest.approx(1 / 3)
    assert stats.first_try_correct([]) is None


def test_best_scores_and_mean_use_each_students_best():
    attempts = [_a(1, 1, 0.5), _a(1, 2, 1.0), _a(2, 1, 0.0)]
    assert stats.best_scores(attempts) == {1: 1.0, 2: 0.0}
    result = stats.problem_stats(attempts, {1: 5.0, 2: 1.0})
    assert (result.students, result.attempts, result.mean_score) == (2, 3, 0.5)


def test_discrimination_upper_minus_lower_27_percent():
    totals = {uid: float(uid) for uid in range(1, 12)}  # 11 students: groups of round(2.97) = 3
    item = {9: 1.0, 10: 1.0, 11: 0.0, 1: 1.0}  # upper 9,10,11 -> 2/3; lower 1,2,3 -> 1/3
    assert stats.discrimination(item, totals) == pytest.approx(1 / 3)
    assert stats.discrimination({1: 1.0}, {1: 3.0}) is None
    perfect = stats.discrimination({3: 1.0, 4: 1.0}, {1: 0.0, 2: 0.0, 3: 9.0, 4: 9.0},
                                   fraction=0.5)
    assert perfect == 1.0


def test_discrimination_rejects_a_bad_fraction():
    with pytest.raises(ValueError, match=r"fraction must be in \(0, 0.5\], got 0.7"):
        stats.discrimination({}, {1: 1.0, 2: 0.0}, fraction=0.7)


def test_common_wrong_answers_are_counted_with_their_mistake_tag():
    attempts = [_a(1, 1, 0.0, "32", "forgot-padding"), _a(2, 1, 0.0, "32 ", "forgot-padding"),
                _a(3, 1, 0.0, "7"), _a(3, 2, 1.0, "30")]
    found = stats.common_wrong_answers(attempts)
    assert found == (stats.WrongAnswer("32", "forgot-padding", 2), stats.WrongAnswer("7", None, 1))


def test_histogram_bins_and_svg():
    assert stats.histogram([0.0, 0.05, 0.5, 1.0, 1.0], bins=10) == (2, 0, 0, 0, 0, 1, 0, 0, 0, 2)
    svg = str(stats.histogram_svg([0.0, 1.0], bins=4))
    assert svg.startswith("<svg") and svg.count("<rect") == 4 and "style=" not in svg
    with pytest.raises(ValueError, match=r"scores must be fractions in \[0, 1\], got 1.5"):
        stats.histogram([1.5])
    with pytest.raises(ValueError, match="bins must be at least 1, got 0"):
        stats.histogram([], bins=0)


scores = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@given(st.lists(scores, max_size=40), st.integers(min_value=1, max_value=20))
def test_histogram_counts_every_score_once(values, bins):
    assert sum(stats.histogram(values, bins)) == len(values)


@given(st.dictionaries(st.integers(0, 30), scores, min_size=2),
       st.dictionaries(st.integers(0, 30), scores))
def test_discrimination_is_between_minus_one_and_one(totals, items):
    value = stats.discrimination(items, totals)
    assert -1.0 <= value <= 1.0


@given(st.lists(st.tuples(st.integers(0, 5), st.integers(1, 3), scores), max_size=30))
def test_first_try_and_mean_are_fractions(rows):
    attempts = [_a(uid, n, score) for uid, n, score in rows]
    result = stats.problem_stats(attempts, {})
    for value in (result.first_try_correct, result.mean_score):
        assert value is None or 0.0 <= value <= 1.0
    assert result.students == len({uid for uid, _, _ in rows})


def test_regrade_plan_message_counts_grammatically_and_says_whether_it_was_applied():
    from web.instructor.regrade import Incompatible, RegradePlan, Rescore

    up = Rescore(1, 7, 1, "2", 0.0, 1.0, False, True)
    same = Rescore(2, 7, 2, "3", 1.0, 1.0, True, True)
    verdict = Rescore(3, 8, 1, "4", 0.5, 0.5, True, False)
    plan = RegradePlan("p", 3, (up,), 0)
    assert plan.message() == "1 submission of 'p' would be regraded: 1 score up, 0 down, 0 the same."
    plan = RegradePlan("p", 3, (up, same, verdict), 2,
                       (Incompatible(9, 8, "s", 2, "parameter 'k' removed"),), run_id=4)
    assert [r.direction for r in plan.rescores] == ["up", "same", "down"]
    assert plan.message() == (
        "3 submissions of 'p' regraded: 1 score up, 1 down, 1 the same; 2 stored answers could "
        "not be read by the current problem and keep their old score; 1 stored variant can no "
        "longer be graded by the current problem and is left alone.")


@pytest.mark.parametrize(("value", "cell"), [
    ("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"), ("+1+2", "'+1+2"), ("@sum", "'@sum"),
    ("-3", "-3"), ("-2.5e3", "-2.5e3"), ("29x29x32", "29x29x32"), (0.5, "0.5"), (2.0, "2"),
    (True, "true"), (None, ""),
])
def test_csv_cells_never_run_as_formulas(value, cell):
    assert safe_cell(value) == cell


# --- helpers over the app ---------------------------------------------------------------------

def _login_as(auth, role):
    if role != "anonymous":
        assert auth.login(USERNAMES[role]).status_code == 302, f"could not sign in as {role}"


def _bank(app):
    with app.app_context():
        from web.bank import get_bank

        return get_bank()


def _text_problem(app) -> str:
    problems = _bank(app).problems.values()
    for kind in TEXT_TYPES:
        for problem in sorted(problems, key=lambda p: p.id):
            if problem.answer_type == kind:
                return problem.id
    pytest.skip("the bank has no problem typed into a text box")


def _user_id(app, username) -> int:
    with session_factory(app)() as session:
        return session.scalar(select(User.id).where(User.username == username))


def _variant(app, username, problem_id, set_id="open-set"):
    from grader.variants import Variant

    with session_factory(app)() as session:
        record = session.scalar(select(VariantRecord).where(
            VariantRecord.user_id == _user_id(app, username), VariantRecord.set_id == set_id,
            VariantRecord.problem_id == problem_id))
        return Variant.from_json(json.loads(record.variant_json))


def _answer(client, auth, app, username, pid, answers, web_answer):
    """Sign in as `username` and submit each of `answers` (True: right, False: wrong, str: raw)."""
    auth.login(username)
    client.get(f"/sets/open-set/{pid}")
    variant = _variant(app, username, pid)
    for answer in answers:
        raw = answer if isinstance(answer, str) else web_answer(variant, correct=answer)
        client.post(f"/sets/open-set/{pid}",
                    data={"answer": raw, "request_token": secrets.token_urlsafe(24)})
    auth.logout()
    return variant


@pytest.fixture
def pid(app):
    return _text_problem(app)


@pytest.fixture
def graded(app, client, auth, pid, web_answer):
    """alice: wrong then right; bob: wrong twice. Returns their variants."""
    alice = _answer(client, auth, app, "alice", pid, [False, True], web_answer)
    bob = _answer(client, auth, app, "bob", pid, [False, False], web_answer)
    return alice, bob


# --- who may see what -------------------------------------------------------------------------

ROUTES = [  # (method, url template); {pid} a text problem, {uid} alice's user id
    ("GET", "/instructor/"), ("GET", "/instructor/gradebook"),
    ("GET", "/instructor/gradebook?sort=total&dir=desc"), ("GET", "/instructor/students/{uid}"),
    ("GET", "/instructor/students/{uid}/open-set/{pid}"), ("GET", "/instructor/preview/{pid}"),
    ("GET", "/instructor/preview/{pid}?seed=7"), ("GET", "/instructor/sets/open-set/stats"),
    ("GET", "/instructor/export/scores.csv"), ("GET", "/instructor/export/canvas.csv"),
    ("GET", "/instructor/export/submissions.csv"), ("POST", "/instructor/preview/{pid}"),
    ("POST", "/instructor/regrade/{pid}"), ("POST", "/instructor/bank/reload"),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "template"), ROUTES, ids=[f"{m} {t}" for m, t in ROUTES])
def test_instructor_route_role_matrix(app, client, auth, pid, role, method, template):
    _login_as(auth, role)
    url = template.format(pid=pid, uid=_user_id(app, "alice"))
    response = client.open(url, method=method, data={"answer": "1"} if method == "POST" else None)
    if role == "anonymous":
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
    elif role in ("student", "other student"):
        assert response.status_code == 403
        assert "for instructors only" in response.get_data(as_text=True)
    elif method == "GET":
        assert response.status_code == 200
    else:
        assert response.status_code in (200, 302), f"{method} {url}: {response.status_code}"


def test_every_instructor_endpoint_is_in_the_matrix_and_refuses_students(app, client, auth):
    """A new instructor route must be added to ROUTES (and is guarded by the blueprint anyway)."""
    rules = {(m, rule.rule) for rule in app.url_map.iter_rules()
             if rule.endpoint.startswith("instructor.") for m in rule.methods - {"HEAD", "OPTIONS"}}
    covered = {(m, re.sub(r"\?.*", "", t)) for m, t in ROUTES}
    normalised = {(m, re.sub(r"<[^>]+>", "X", r)) for m, r in rules}
    tested = {(m, re.sub(r"\{uid\}|\{pid\}|open-set|scores|canvas|submissions", "X", t))
              for m, t in covered}
    assert normalised <= tested, f"untested instructor routes: {sorted(normalised - tested)}"
    auth.login("alice")
    for method, rule in rules:
        url = re.sub(r"<int:[^>]+>", "1", re.sub(r"<(?!int:)[^>]+>", "scores", rule))
        assert client.open(url, method=method).status_code == 403, f"{method} {url}"


def test_instructor_pages_post_forms_need_a_csrf_token(web_config, pid):
    from server import create_app

    app = create_app({**web_config, "WTF_CSRF_ENABLED": True})
    try:
        client = app.test_client()
        page = client.get("/auth/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        client.post("/auth/login", data={"username": "ines", "password": WEB_PASSWORD,
                                         "csrf_token": token})
        for url in (f"/instructor/regrade/{pid}", "/instructor/bank/reload",
                    f"/instructor/preview/{pid}"):
            response = client.post(url, data={"answer": "1"})
            assert response.status_code == 400, url
            assert "This form has expired" in response.get_data(as_text=True)
        page = client.get("/instructor/").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        ok = client.post("/instructor/bank/reload", data={"csrf_token": token})
        assert ok.status_code == 302
    finally:
        app.extensions["stride_pool"].shutdown()
        app.extensions["stride_engine"].dispose()


def test_the_nav_links_to_the_instructor_pages_only_for_instructors(client, auth):
    auth.login("alice")
    assert "/instructor/" not in client.get("/").get_data(as_text=True)
    auth.logout()
    auth.login("ines")
    assert 'href="/instructor/"' in client.get("/").get_data(as_text=True)


# --- gradebook and drill-down -----------------------------------------------------------------

def _rows(html: str) -> list[str]:
    return re.findall(r'<a href="/instructor/students/\d+">([^<]+)</a>', html)


def test_gradebook_shows_points_per_set_and_sorts_on_the_server(app, client, auth, graded, pid):
    points = next(i.points for i in _bank(app).sets["open-set"].items if i.problem_id == pid)
    auth.login("ines")
    page = client.get("/instructor/gradebook").get_data(as_text=True)
    assert "Open set" in page and "Closed set" in page
    assert _rows(page) == ["alice", "bob"]
    by_total = client.get("/instructor/gradebook?sort=total&dir=desc").get_data(as_text=True)
    assert _rows(by_total) == ["alice", "bob"]
    ascending = client.get("/instructor/gradebook?sort=open-set&dir=asc").get_data(as_text=True)
    assert _rows(ascending) == ["bob", "alice"]
    assert f"<strong>{points:g}</strong>" in page  # alice's total: the full item
    assert client.get("/instructor/gradebook?sort=<script>").status_code == 200


def test_drill_down_lists_every_submission_with_feedback(app, client, auth, graded, pid,
                                                         web_answer):
    alice, _bob = graded
    auth.login("ines")
    page = client.get(f"/instructor/students/{_user_id(app, 'alice')}").get_data(as_text=True)
    assert page.count("<tr><td>1</td>") == 1 and page.count("<tr><td>2</td>") == 1
    assert web_answer(alice, correct=False) in page and "correct</span>" in page
    assert f"/instructor/students/{_user_id(app, 'alice')}/open-set/{pid}" in page
    assert client.get("/instructor/students/999999").status_code == 404


def test_drill_down_lists_code_submissions_with_links_to_their_reports(app, client, auth):
    from web.models import CodeSubmission

    with session_factory(app)() as session:
        row = CodeSubmission(user_id=_user_id(app, "alice"), exercise="conv_step_by_step",
                             filename="mine.py", source="x = 1", status="done", score=7.0,
                             max_score=32.0, report_json='{"score": 7, "max_score": 32, '
                             '"functions": [], "warnings": []}')
        session.add(row)
        session.commit()
        code_id = row.id
    auth.login("ines")
    page = client.get(f"/instructor/students/{_user_id(app, 'alice')}").get_data(as_text=True)
    assert f'href="/code/submissions/{code_id}"' in page and "mine.py" in page
    assert "7 / 32" in page
    assert client.get(f"/code/submissions/{code_id}").status_code == 200
    bob = client.get(f"/instructor/students/{_user_id(app, 'bob')}").get_data(as_text=True)
    assert "mine.py" not in bob and "No code submissions yet." in bob


def _add_code(app, username, exercise, status="done", score=None, max_score=32.0):
    """Store a code submission of `username` directly (as the grading worker would leave it)."""
    from web.models import CodeSubmission

    with session_factory(app)() as session:
        row = CodeSubmission(user_id=_user_id(app, username), exercise=exercise, source="x = 1",
                             status=status, score=score,
                             max_score=max_score if score is not None else None)
        session.add(row)
        session.commit()
        return row.id


def _code_cells(page: str) -> dict[str, list[str]]:
    """The gradebook's code exercise cells per student username, markup stripped."""
    rows = re.findall(r'<tr><td><a href="/instructor/students/\d+">[^<]+</a> '
                      r'<span class="muted">([^<]+)</span></td>(.*?)</tr>', page, re.S)
    return {user: [re.sub(r"<[^>]+>", "", cell).strip() for cell in
                   re.findall(r'<td class="num code-col">(.*?)</td>', cells, re.S)]
            for user, cells in rows}


def test_gradebook_shows_the_best_graded_code_score_per_exercise(app, client, auth):
    from grader.code import EXERCISES

    first, second = EXERCISES[0], EXERCISES[1]
    _add_code(app, "alice", first, score=7.0)
    _add_code(app, "alice", first, score=12.0)
    _add_code(app, "alice", first, status="failed")
    _add_code(app, "alice", second, status="queued")
    _add_code(app, "bob", first, score=3.0)
    _add_code(app, "bob", second, score=0.0, max_score=10.0)
    auth.login("ines")
    page = client.get("/instructor/gradebook").get_data(as_text=True)
    assert page.count('<th class="num code-col">') == len(EXERCISES)
    cells = _code_cells(page)
    assert cells["alice"][:2] == ["12 / 32", "-"]  # the queued one is not a score yet
    assert cells["bob"][:2] == ["3 / 32", "0 / 10"]
    by_first = client.get(f"/instructor/gradebook?sort=code:{first}&dir=desc")
    assert _rows(by_first.get_data(as_text=True)) == ["alice", "bob"]
    by_second = client.get(f"/instructor/gradebook?sort=code:{second}&dir=desc")
    assert _rows(by_second.get_data(as_text=True)) == ["bob", "alice"]  # 0 beats none
    unknown = client.get("/instructor/gradebook?sort=code:nope&dir=desc").get_data(as_text=True)
    assert 'class="sort active"' in unknown and _rows(unknown) == ["bob", "alice"]  # by name


def test_drill_down_shows_the_best_graded_code_score_per_exercise(app, client, auth):
    from grader.code import EXERCISES
    from web.bank import exercise_title

    _add_code(app, "alice", EXERCISES[0], score=5.0)
    _add_code(app, "alice", EXERCISES[0], score=9.5)
    auth.login("ines")
    page = client.get(f"/instructor/students/{_user_id(app, 'alice')}").get_data(as_text=True)
    table = page[page.index('class="table code-best">') + len('class="table code-best">'):]
    text = " ".join(re.sub(r"<[^>]+>", " ", table[:table.index("</table>")]).split())
    expected = [f"{exercise_title(EXERCISES[0])} 9.5 / 32",
                *(f"{exercise_title(e)} -" for e in EXERCISES[1:])]
    assert text == " ".join(["Code exercise Best graded score", *expected])


def test_instructor_sees_a_students_stored_variant(app, client, auth, graded, pid):
    from grader.grading import describe_answer

    alice, _bob = graded
    auth.login("ines")
    url = f"/instructor/students/{_user_id(app, 'alice')}/open-set/{pid}"
    page = client.get(url).get_data(as_text=True)
    assert f"seed {alice.seed}" in page and "stored when first shown" in page
    assert describe_answer(alice).split("$")[0] in page
    unopened = client.get(f"/instructor/students/{_user_id(app, 'alice')}/closed-set/{pid}")
    assert "not opened yet" in unopened.get_data(as_text=True)


# --- preview ----------------------------------------------------------------------------------

def test_preview_is_deterministic_in_the_seed_and_grades_without_recording(app, client, auth,
                                                                          pid, web_answer):
    from grader.variants import generate

    auth.login("ines")
    problem = _bank(app).problems[pid]
    def prompt(seed):
        page = client.get(f"/instructor/preview/{pid}?seed={seed}").get_data(as_text=True)
        return re.search(r'<section class="prompt">(.*?)</section>', page, re.S).group(1)

    variant = generate(problem, 42)
    assert prompt(42) == prompt(42)
    assert 'value="42"' in client.get(f"/instructor/preview/{pid}?seed=42").get_data(as_text=True)
    response = client.post(f"/instructor/preview/{pid}?seed=42",
                           data={"answer": web_answer(variant, correct=True)})
    assert "Correct." in response.get_data(as_text=True)
    unreadable = client.post(f"/instructor/preview/{pid}?seed=42", data={"answer": "??"})
    assert 'class="format-error"' in unreadable.get_data(as_text=True)
    with session_factory(app)() as session:
        assert session.scalar(select(Submission.id)) is None


@pytest.mark.parametrize("seed", ["-1", "abc", str(2**32), "1e3"])
def test_preview_refuses_a_bad_seed_with_a_sentence(client, auth, pid, seed):
    auth.login("ines")
    response = client.get(f"/instructor/preview/{pid}?seed={seed}")
    assert response.status_code == 400
    assert "The seed must be a whole number from 0 to 4294967295" in response.get_data(
        as_text=True)


def test_preview_of_a_missing_problem_is_404(client, auth):
    auth.login("ines")
    assert client.get("/instructor/preview/no-such-problem").status_code == 404


# --- statistics -------------------------------------------------------------------------------

def _summary_cells(page: str, pid: str) -> list[str]:
    """The number cells of one problem's row in the statistics summary table."""
    row = re.search(rf'href="#p-{re.escape(pid)}">[^<]+</a></td>(.*?)</tr>', page, re.S).group(1)
    return re.findall(r'<td class="num">([^<]*)</td>', row)


def test_statistics_page_shows_attempts_first_try_histogram_and_wrong_answers(
        app, client, auth, graded, pid):
    auth.login("ines")
    page = client.get("/instructor/sets/open-set/stats").get_data(as_text=True)
    card = page[page.index(f'id="p-{pid}"'):]
    card = card[:card.index("</section>")]
    assert card.count("<svg") == 1 and "Best score per student" in card
    assert "Most common wrong answers" in card
    cells = _summary_cells(page, pid)
    assert cells[:3] == ["2", "4", "0%"]  # 2 students, 4 submissions, nobody right first try
    assert cells[3] == "50%"  # alice 1, bob 0


# --- regrade ----------------------------------------------------------------------------------

def _break_stored_answers(app, pid):
    """Pretend the YAML had a bug: every stored variant of `pid` expects a different answer."""
    with session_factory(app)() as session:
        for record in session.scalars(select(VariantRecord).where(
                VariantRecord.problem_id == pid)):
            data = json.loads(record.variant_json)
            data["answer"] = "broken" if isinstance(data["answer"], str) else (
                [v + 1000 for v in data["answer"]] if isinstance(data["answer"], list)
                else data["answer"] + 1000)
            record.variant_json = json.dumps(data)
        for sub in session.scalars(select(Submission).where(Submission.problem_id == pid)):
            sub.score, sub.correct = 0.0, False
        session.commit()


def test_regrade_recomputes_from_the_current_problem_and_keeps_the_old_score(
        app, client, auth, graded, pid):
    alice, _bob = graded
    _break_stored_answers(app, pid)
    auth.login("ines")
    dry = client.post(f"/instructor/regrade/{pid}").get_data(as_text=True)
    assert (f"4 submissions of &#39;{pid}&#39; would be regraded: 1 score up, 0 down, 3 the "
            "same.") in dry and 'name="action" value="apply"' in dry
    with session_factory(app)() as session:  # a dry run writes nothing
        assert session.scalar(select(ScoreChange.id)) is None
        assert not session.scalars(select(Submission.correct).where(
            Submission.problem_id == pid, Submission.correct)).all()
    response = client.post(f"/instructor/regrade/{pid}", data={"action": "apply"},
                           follow_redirects=True)
    page = response.get_data(as_text=True)
    assert f"4 submissions of &#39;{pid}&#39; regraded: 1 score up, 0 down, 3 the same." in page
    with session_factory(app)() as session:
        change = session.scalars(select(ScoreChange)).one()
        assert (change.old_score, change.new_score) == (0.0, 1.0)
        assert (change.old_correct, change.new_correct) == (False, True)
        assert change.changed_by_id == _user_id(app, "ines") and pid in change.reason
        regraded = session.get(Submission, change.submission_id)
        assert regraded.correct and regraded.regraded_at is not None
    assert _variant(app, "alice", pid).answer == alice.answer
    drill = client.get(f"/instructor/students/{_user_id(app, 'alice')}").get_data(as_text=True)
    assert "was 0% before" in drill
    again = client.post(f"/instructor/regrade/{pid}", data={"action": "apply"},
                        follow_redirects=True)
    assert "0 scores up, 0 down, 4 the same" in again.get_data(as_text=True)


def _history(client, pid) -> str:
    """The signed-in student's submission history on `pid`, tags removed, one line per row."""
    page = client.get(f"/sets/open-set/{pid}").get_data(as_text=True)
    section = page[page.index('<section class="history">'):]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", section[:section.index("</section>")], re.S)
    return "\n".join(" ".join(re.sub(r"<[^>]+>", " ", row).split()) for row in rows)


def test_students_see_in_their_history_how_a_regrade_changed_their_score(
        app, client, auth, graded, pid):
    from web.render import format_points, format_when

    worth = format_points(next(i.points for i in _bank(app).sets["open-set"].items
                               if i.problem_id == pid))
    auth.login("alice")
    assert "Regraded" not in _history(client, pid)
    auth.logout()
    _break_stored_answers(app, pid)
    with session_factory(app)() as session:  # as if the broken problem had accepted bob's first
        first = session.scalar(select(Submission).where(
            Submission.user_id == _user_id(app, "bob"), Submission.attempt == 1))
        first.score, first.correct = 1.0, True
        session.commit()
    auth.login("ines")
    assert client.post(f"/instructor/regrade/{pid}", data={"action": "apply"}).status_code == 302
    auth.logout()
    with session_factory(app)() as session:
        when = {change.new_score: format_when(change.created_at)
                for change in session.scalars(select(ScoreChange))}
    auth.login("alice")
    alice = _history(client, pid).splitlines()
    assert alice[-1] == (f"Regraded on {when[1.0]} UTC: your score on attempt 2 changed from 0 "
                         f"to {worth} of {worth} points after the problem was corrected.")
    assert "the score of attempt 1 stayed the same." in alice[-3]
    auth.logout()
    auth.login("bob")
    bob = _history(client, pid)
    assert (f"Regraded on {when[0.0]} UTC: your score on attempt 1 changed from {worth} to 0 of "
            f"{worth} points after the problem was corrected. If anything about it is unclear, "
            "please ask your instructor.") in bob
    assert bob.count("Regraded on") == 1 and bob.count("stayed the same") == 1


def test_regrade_keeps_answers_the_current_problem_cannot_read(app, client, auth, graded, pid):
    with session_factory(app)() as session:
        sub = session.scalars(select(Submission).where(Submission.problem_id == pid)).first()
        sub.raw, sub.score, sub.correct = "no longer readable ???", 0.25, False
        session.commit()
        kept = sub.id
    auth.login("ines")
    page = client.post(f"/instructor/regrade/{pid}", data={"action": "apply"},
                       follow_redirects=True).get_data(as_text=True)
    assert "3 submissions" in page and "1 stored answer could not be read" in page
    with session_factory(app)() as session:
        assert session.get(Submission, kept).score == 0.25
        assert session.scalar(select(ScoreChange.id)) is None


# --- reload the bank --------------------------------------------------------------------------

def test_reload_shows_errors_and_changes_nothing_until_the_bank_is_valid(app, client, auth, pid):
    problems_dir = Path(app.config["PROBLEMS_DIR"])
    auth.login("ines")
    before = _bank(app)
    source = _bank(app).problems[pid].source
    original = source.read_text()
    source.write_text(original.replace("answer_type:", "answer_type: not-a-type\n#", 1))
    try:
        response = client.post("/instructor/bank/reload")
        page = response.get_data(as_text=True)
        assert response.status_code == 422
        assert "Nothing changed" in page and 'id="bank-errors"' in page
        assert source.name in page
        assert _bank(app) is before
        assert client.get(f"/instructor/preview/{pid}").status_code == 200
    finally:
        source.write_text(original)
    (problems_dir / "sets" / "extra.yaml").write_text(
        f"id: extra-set\ntitle: Extra set\nproblems:\n  - problem: {pid}\n")
    ok = client.post("/instructor/bank/reload", follow_redirects=True)
    assert "The problem bank was reloaded" in ok.get_data(as_text=True)
    assert "extra-set" in _bank(app).sets and _bank(app) is not before


# --- exports ----------------------------------------------------------------------------------

def _csv_rows(response) -> list[list[str]]:
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    return list(csv.reader(io.StringIO(response.get_data(as_text=True))))


def test_scores_csv_has_a_row_per_student_and_a_column_per_set(app, client, auth, graded, pid):
    sets = sorted(_bank(app).sets)
    points = next(i.points for i in _bank(app).sets["open-set"].items if i.problem_id == pid)
    auth.login("ines")
    rows = _csv_rows(client.get("/instructor/export/scores.csv"))
    codes = [f"code:{e}" for e in exercises()]
    assert rows[0] == ["username", "name", *sets, *codes, "total"]
    body = {row[0]: row for row in rows[1:]}
    assert len(rows) == 1 + len(body)
    assert set(body) == {"alice", "bob"}
    assert float(body["alice"][2 + sets.index("open-set")]) == points
    assert float(body["bob"][-1]) == 0.0


def test_canvas_csv_uses_canvas_columns_and_a_points_possible_row(app, client, auth, graded):
    auth.login("ines")
    rows = _csv_rows(client.get("/instructor/export/canvas.csv"))
    assert rows[0][:5] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
    assert "Open set (open-set)" in rows[0]
    assert rows[1][0] == "Points Possible"
    assert {row[3] for row in rows[2:]} == {"alice", "bob"}


def test_submissions_csv_has_one_row_per_graded_answer(app, client, auth, pid, web_answer):
    _answer(client, auth, app, "alice", pid, [False, True], web_answer)
    auth.login("ines")
    rows = _csv_rows(client.get("/instructor/export/submissions.csv"))
    header, body = rows[0], rows[1:]
    assert header[:4] == ["submission_id", "username", "set_id", "problem_id"]
    raw = [dict(zip(header, row, strict=True)) for row in body]
    assert [r["attempt"] for r in raw] == ["1", "2"]
    assert [r["correct"] for r in raw] == ["false", "true"]
    assert all(r["username"] == "alice" and r["set_id"] == "open-set" for r in raw)


def test_unknown_export_is_404(client, auth):
    auth.login("ines")
    assert client.get("/instructor/export/grades.csv").status_code == 404


def test_cli_exports_scores(app, runner, client, auth, graded, tmp_path):
    out = tmp_path / "scores.csv"
    result = runner.invoke(args=["export-scores", "--kind", "canvas", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("Student,ID,SIS User ID")
    printed = runner.invoke(args=["export-scores"])
    assert printed.exit_code == 0 and printed.output.startswith("username,name,")
    bad = runner.invoke(args=["export-scores", "--kind", "xlsx"])
    assert bad.exit_code == 2 and "'xlsx' is not one of" in bad.output


# --- courses ----------------------------------------------------------------------------------

@pytest.fixture
def second_course(app):
    """carol, a student of "Other course" only (alice and bob are in "Test course")."""
    from web.auth.accounts import create_user, get_or_create_course

    with session_factory(app)() as session:
        course = get_or_create_course(session, "Other course", "other-code")
        create_user(session, "carol", WEB_PASSWORD, course=course)
        session.commit()
        return course.id


@pytest.fixture
def ines_teaches_both(app, second_course):
    """ines becomes instructor of "Other course" too (she already teaches "Test course")."""
    from web.cli import set_course_role
    from web.models import Course

    with session_factory(app)() as session:
        ines = session.scalar(select(User).where(User.username == "ines"))
        set_course_role(session, ines, session.get(Course, second_course), "instructor")
        session.commit()
    return second_course


def test_gradebook_and_exports_can_show_one_course(app, client, auth, graded,
                                                   ines_teaches_both):
    second_course = ines_teaches_both
    auth.login("ines")
    everyone = client.get("/instructor/gradebook").get_data(as_text=True)
    assert _rows(everyone) == ["alice", "bob", "carol"] and 'id="course"' in everyone
    other = client.get(f"/instructor/gradebook?course={second_course}").get_data(as_text=True)
    assert _rows(other) == ["carol"] and f"course={second_course}" in other
    rows = _csv_rows(client.get(f"/instructor/export/canvas.csv?course={second_course}"))
    assert [(r[3], r[4]) for r in rows[2:]] == [("carol", "Other course")]
    answers = _csv_rows(client.get(f"/instructor/export/submissions.csv?course={second_course}"))
    assert answers[1:] == []
    for bad in ("999", "abc"):
        response = client.get(f"/instructor/gradebook?course={bad}")
        assert response.status_code == 404
        assert "There is no course with the number" in response.get_data(as_text=True)


def test_an_instructor_sees_only_the_courses_they_teach(app, client, auth, graded,
                                                        second_course):
    auth.login("ines")
    ours = client.get("/instructor/gradebook").get_data(as_text=True)
    assert _rows(ours) == ["alice", "bob"] and 'id="course"' not in ours  # one course: no picker
    for url in (f"/instructor/gradebook?course={second_course}",
                f"/instructor/export/scores.csv?course={second_course}",
                f"/instructor/sets/open-set/stats?course={second_course}"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert (f"There is no course with the number '{second_course}' among your courses."
                in html.unescape(response.get_data(as_text=True)))
    rows = _csv_rows(client.get("/instructor/export/scores.csv"))
    assert {row[0] for row in rows[1:]} == {"alice", "bob"}


def test_cli_exports_one_course(runner, graded, second_course):
    result = runner.invoke(args=["export-scores", "--course", "Test course"])
    assert result.exit_code == 0, result.output
    assert [line.split(",")[0] for line in result.output.splitlines()[1:]] == ["alice", "bob"]
    missing = runner.invoke(args=["export-scores", "--course", "Nope"])
    assert missing.exit_code == 1 and "There is no course called 'Nope'." in missing.output


def test_overview_lists_a_bank_file_that_did_not_load_and_serves_the_rest(web_config, tmp_path):
    import shutil

    from server import create_app

    problems = tmp_path / "broken-problems"
    shutil.copytree(web_config["PROBLEMS_DIR"], problems)
    (problems / "broken.yaml").write_text("id: broken\ntitle: [unclosed\n")
    app = create_app({**web_config, "PROBLEMS_DIR": str(problems)})
    try:
        client = app.test_client()
        client.post("/auth/login", data={"username": "ines", "password": WEB_PASSWORD})
        response = client.get("/instructor/")
        page = response.get_data(as_text=True)
        assert response.status_code == 200  # the rest of the bank is served
        assert 'id="unavailable"' in page and "broken.yaml" in page
    finally:
        app.extensions["stride_pool"].shutdown()
        app.extensions["stride_engine"].dispose()


def test_statistics_can_be_kept_to_one_course(app, client, auth, graded, pid,
                                              ines_teaches_both, web_answer):
    second_course = ines_teaches_both
    _answer(client, auth, app, "carol", pid, [True], web_answer)
    test_course = _course_id(app, "Test course")
    auth.login("ines")
    everyone = client.get("/instructor/sets/open-set/stats").get_data(as_text=True)
    assert 'id="course"' in everyone and "3 students in your 2 courses." in everyone
    assert _summary_cells(everyone, pid)[:4] == ["3", "5", "33%", "67%"]
    ours = client.get(f"/instructor/sets/open-set/stats?course={test_course}").get_data(
        as_text=True)
    assert "2 students in Test course; only their answers are counted." in ours
    assert _summary_cells(ours, pid)[:4] == ["2", "4", "0%", "50%"]
    assert f'name="back" value="/instructor/sets/open-set/stats?course={test_course}"' in ours
    other = client.get(f"/instructor/sets/open-set/stats?course={second_course}").get_data(
        as_text=True)
    assert "1 student in Other course" in other
    assert _summary_cells(other, pid)[:4] == ["1", "1", "100%", "100%"]
    missing = client.get("/instructor/sets/open-set/stats?course=999")
    assert missing.status_code == 404
    assert "There is no course with the number" in missing.get_data(as_text=True)


def _course_id(app, name) -> int:
    from web.models import Course

    with session_factory(app)() as session:
        return session.scalar(select(Course.id).where(Course.name == name))
