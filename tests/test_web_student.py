"""The student's side of the web app: home, problem pages, submissions, reveal rules, practice."""

from __future__ import annotations

import json
import re

import pytest
from conftest import answer_post as _form
from sqlalchemy import func, select

from web.db import session_factory
from web.models import Submission, User, VariantRecord
from web.quiz.store import seed_for
from web.render import render_text

TEXT_TYPES = ("integer", "number", "shape", "vector")


def _bank(app):
    return app.extensions["stride_bank"]  # loaded once per session by the make_app fixture


def _problem_of_type(app, kinds) -> str:
    for problem in sorted(_bank(app).problems.values(), key=lambda p: p.id):
        if problem.answer_type in kinds:
            return problem.id
    pytest.skip(f"the bank has no problem of type {kinds}")


@pytest.fixture
def pid(app):
    """A problem typed into a text box (integer preferred)."""
    return _problem_of_type(app, ("integer",)) if any(
        p.answer_type == "integer" for p in _bank(app).problems.values()
    ) else _problem_of_type(app, TEXT_TYPES)


def _user_id(app, username):
    with session_factory(app)() as session:
        return session.scalar(select(User.id).where(User.username == username))


def _variant(app, username, set_id, problem_id):
    from grader.variants import Variant

    with session_factory(app)() as session:
        record = session.scalar(select(VariantRecord).where(
            VariantRecord.user_id == _user_id(app, username), VariantRecord.set_id == set_id,
            VariantRecord.problem_id == problem_id))
        return record, Variant.from_json(json.loads(record.variant_json))


def _count(app, model, **where):
    with session_factory(app)() as session:
        query = select(func.count()).select_from(model)
        for key, value in where.items():
            query = query.where(getattr(model, key) == value)
        return session.scalar(query)


def _text(response) -> str:
    return response.get_data(as_text=True)



def test_home_lists_sets_with_due_dates_progress_and_score(client, auth):
    auth.login()
    page = _text(client.get("/"))
    assert "Open set" in page and "Closed set" in page
    assert "Tue 01 Jan 2999, 00:00 UTC" in page
    assert re.search(r"0 of \d+ solved", page)
    assert "closed</span>" in page


def test_problem_page_shows_prompt_as_mathml_and_hint(app, client, auth, pid):
    auth.login()
    response = client.get(f"/sets/open-set/{pid}")
    assert response.status_code == 200
    page = _text(response)
    assert "<math" in page and "$" not in page.split('<section class="prompt">')[1].split(
        "</section>")[0]
    assert "0 of 3 attempts used" in page
    assert 'class="hint"' in page


def test_correct_answer_is_recorded_with_everything_needed_to_audit_it(app, client, auth, pid,
                                                                        web_answer):
    auth.login()
    client.get(f"/sets/open-set/{pid}")
    record, variant = _variant(app, "alice", "open-set", pid)
    response = client.post(f"/sets/open-set/{pid}", data=_form(web_answer(variant)))
    assert response.status_code == 302
    page = _text(client.get(f"/sets/open-set/{pid}"))
    assert "Your answer was recorded as attempt 1." in page and "Correct." in page
    assert "1 of 3 attempts used" in page
    with session_factory(app)() as session:
        row = session.scalars(select(Submission)).one()
        assert (row.set_id, row.problem_id, row.attempt, row.correct, row.score) == (
            "open-set", pid, 1, True, 1.0)
        assert row.seed == record.seed and row.variant_id == record.id
        assert row.raw == web_answer(variant) and row.parsed_json and row.read_as
        assert row.created_at.tzinfo is not None
    assert "You solved this problem." in page


def test_format_error_shows_the_message_and_costs_no_attempt(app, client, auth, pid):
    auth.login()
    response = client.post(f"/sets/open-set/{pid}", data=_form("a potato"))
    assert response.status_code == 422
    page = _text(response)
    assert "format-error" in page and "e.g." in page
    assert "0 of 3 attempts used" in page
    assert 'value="a potato"' in page  # what they typed is kept for correcting
    assert _count(app, Submission) == 0


def test_empty_answer_is_a_format_error(app, client, auth, pid):
    auth.login()
    response = client.post(f"/sets/open-set/{pid}", data=_form("   "))
    assert response.status_code == 422
    assert "Please enter an answer" in _text(response)
    assert _count(app, Submission) == 0


def _forbidden_strings(variant) -> list[str]:
    from grader.grading import describe_answer

    described = describe_answer(variant)
    candidates = [described, str(render_text(described)), json.dumps(variant.answer)]
    return [c for c in candidates if len(c) >= 4]


def test_answer_is_never_in_the_page_before_attempts_are_used_up(app, client, auth, web_answer):
    pid = _problem_of_type(app, ("shape", "vector"))  # answers long enough to search for
    auth.login()
    first = _text(client.get(f"/sets/open-set/{pid}"))
    _record, variant = _variant(app, "alice", "open-set", pid)
    wrong = web_answer(variant, correct=False)
    pages = [first]
    for _ in range(2):
        client.post(f"/sets/open-set/{pid}", data=_form(wrong))
        pages.append(_text(client.get(f"/sets/open-set/{pid}")))
    forbidden = _forbidden_strings(variant)
    assert forbidden, "the test needs a recognisable answer text"
    for page in pages:
        assert "The answer</h2>" not in page
        for text in forbidden:
            assert text not in page
        assert "variant_json" not in page and '"mistakes"' not in page
    client.post(f"/sets/open-set/{pid}", data=_form(wrong))
    final = _text(client.get(f"/sets/open-set/{pid}"))
    assert "3 of 3 attempts used" in final and "The answer</h2>" in final
    assert str(render_text(forbidden[0])) in final or forbidden[0] in final


def test_no_submission_is_accepted_after_the_last_attempt(app, client, auth, pid, web_answer):
    auth.login()
    client.get(f"/sets/open-set/{pid}")
    _record, variant = _variant(app, "alice", "open-set", pid)
    for _ in range(3):
        client.post(f"/sets/open-set/{pid}", data=_form(web_answer(variant, correct=False)))
    response = client.post(f"/sets/open-set/{pid}", data=_form(web_answer(variant)),
                           follow_redirects=True)
    assert "You have used all 3 attempts" in _text(response)
    assert _count(app, Submission) == 3
    assert _count(app, Submission, correct=True) == 0


def test_a_solved_problem_takes_no_more_answers(app, client, auth, pid, web_answer):
    auth.login()
    client.get(f"/sets/open-set/{pid}")
    _record, variant = _variant(app, "alice", "open-set", pid)
    client.post(f"/sets/open-set/{pid}", data=_form(web_answer(variant)))
    response = client.post(f"/sets/open-set/{pid}",
                           data=_form(web_answer(variant, correct=False)),
                           follow_redirects=True)
    assert "You have already solved this problem" in _text(response)
    assert _count(app, Submission) == 1


def test_attempt_summary_counts_answers_and_sees_a_solve(app, client, auth, pid, web_answer):
    from web.quiz.store import attempt_summary, variant_with_attempts

    auth.login()
    user_id = _user_id(app, "alice")
    with session_factory(app)() as session:
        assert variant_with_attempts(session, user_id, "open-set", pid)[0] is None
    client.get(f"/sets/open-set/{pid}")
    record, variant = _variant(app, "alice", "open-set", pid)
    client.post(f"/sets/open-set/{pid}", data=_form(web_answer(variant, correct=False)))
    with session_factory(app)() as session:
        stored, summary = variant_with_attempts(session, user_id, "open-set", pid)
        assert (stored.id, stored.seed, summary.used, summary.solved) == (
            record.id, record.seed, 1, False)
    client.post(f"/sets/open-set/{pid}", data=_form(web_answer(variant)))
    with session_factory(app)() as session:
        summary = attempt_summary(session, user_id, "open-set", pid)
        assert (summary.used, summary.solved) == (2, True)
        assert attempt_summary(session, user_id, "closed-set", pid).used == 0


def test_an_answer_arriving_twice_is_recorded_once(app, client, auth, pid, web_answer,
                                                   monkeypatch):
    """Two POSTs that both read "no attempt yet" collide on the attempt number: one row, a note."""
    import web.quiz.views
    from web.quiz.store import AttemptSummary

    auth.login()
    client.get(f"/sets/open-set/{pid}")
    _record, variant = _variant(app, "alice", "open-set", pid)
    client.post(f"/sets/open-set/{pid}", data=_form(web_answer(variant, correct=False)))
    real = web.quiz.views.variant_and_attempts

    def stale(*args):  # what the second of two simultaneous requests read
        record, variant, _summary = real(*args)
        return record, variant, AttemptSummary(0, False)

    monkeypatch.setattr(web.quiz.views, "variant_and_attempts", stale)
    response = client.post(f"/sets/open-set/{pid}", data=_form(web_answer(variant)),
                           follow_redirects=True)
    assert ("Another answer to this problem was recorded at the same moment (from another tab?), "
            "so this one was not") in _text(response)
    assert _count(app, Submission) == 1 and _count(app, Submission, correct=True) == 0


def test_the_same_form_posted_twice_costs_one_attempt(app, client, auth, pid, web_answer):
    auth.login()
    client.get(f"/sets/open-set/{pid}")
    _record, variant = _variant(app, "alice", "open-set", pid)
    form = _form(web_answer(variant, correct=False))
    first, second = (client.post(f"/sets/open-set/{pid}", data=form) for _ in range(2))
    assert first.status_code == second.status_code == 302
    assert first.headers["Location"] == second.headers["Location"] == f"/sets/open-set/{pid}#result"
    assert _count(app, Submission) == 1
    assert _count(app, Submission, request_token=form["request_token"]) == 1
    assert "1 of 3 attempts used" in _text(client.get(f"/sets/open-set/{pid}"))


def test_two_different_forms_cost_two_attempts(app, client, auth, pid, web_answer):
    auth.login()
    client.get(f"/sets/open-set/{pid}")
    _record, variant = _variant(app, "alice", "open-set", pid)
    wrong = web_answer(variant, correct=False)
    for _ in range(2):
        client.post(f"/sets/open-set/{pid}", data=_form(wrong))
    assert _count(app, Submission) == 2
    assert "2 of 3 attempts used" in _text(client.get(f"/sets/open-set/{pid}"))


def test_the_page_carries_a_fresh_token_each_time_it_is_drawn(client, auth, pid):
    auth.login()
    tokens = {re.search(r'name="request_token" value="([^"]+)"',
                        _text(client.get(f"/sets/open-set/{pid}"))).group(1) for _ in range(3)}
    assert len(tokens) == 3 and all(len(t) >= 16 for t in tokens)


@pytest.mark.parametrize("token", [None, "", "short", "x" * 65, "not a token!!!!!!!!!"])
def test_a_missing_or_malformed_token_is_refused_and_records_nothing(app, client, auth, pid,
                                                                     token):
    auth.login()
    data = {"answer": "1"} if token is None else {"answer": "1", "request_token": token}
    response = client.post(f"/sets/open-set/{pid}", data=data)
    assert response.status_code == 400
    assert "Please reload the page and send your answer again" in _text(response)
    assert _count(app, Submission) == 0


def test_a_copy_that_loses_the_race_returns_the_recorded_result(app, client, auth, pid,
                                                                web_answer, monkeypatch):
    """Both copies read "not sent yet"; the second collides on insert and reports the first."""
    import web.quiz.views
    from web.quiz.store import AttemptSummary

    auth.login()
    client.get(f"/sets/open-set/{pid}")
    _record, variant = _variant(app, "alice", "open-set", pid)
    form = _form(web_answer(variant))
    assert client.post(f"/sets/open-set/{pid}", data=form).status_code == 302
    real = web.quiz.views.variant_and_attempts

    def stale(*args):  # what the slower of two simultaneous copies read
        record, variant, _summary = real(*args)
        return record, variant, AttemptSummary(0, False)

    monkeypatch.setattr(web.quiz.views, "variant_and_attempts", stale)
    again = client.post(f"/sets/open-set/{pid}", data=form)
    assert again.headers["Location"].endswith("#result")
    assert "recorded at the same moment" not in _text(client.get(f"/sets/open-set/{pid}"))
    assert _count(app, Submission) == 1


def test_simultaneous_copies_of_one_form_are_one_attempt(app, client, auth, pid, web_answer):
    import threading

    auth.login()
    client.get(f"/sets/open-set/{pid}")
    _record, variant = _variant(app, "alice", "open-set", pid)
    form, cookie = _form(web_answer(variant, correct=False)), client.get_cookie("session").value
    start, codes = threading.Barrier(4), []

    def double_click():
        copy = app.test_client()
        copy.set_cookie("session", cookie)
        start.wait(timeout=30)
        codes.append(copy.post(f"/sets/open-set/{pid}", data=form).status_code)

    threads = [threading.Thread(target=double_click) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert codes == [302] * 4
    assert _count(app, Submission) == 1


def test_past_due_set_shows_the_answer_and_takes_no_answers(app, client, auth, pid, web_answer):
    auth.login()
    page = _text(client.get(f"/sets/closed-set/{pid}"))
    _record, variant = _variant(app, "alice", "closed-set", pid)
    assert "The answer</h2>" in page and "this problem is closed" in page
    response = client.post(f"/sets/closed-set/{pid}", data=_form(web_answer(variant)),
                           follow_redirects=True)
    assert "The due date has passed" in _text(response)
    assert _count(app, Submission) == 0


def test_seed_comes_from_the_server_secret_and_cannot_be_chosen(app, client, auth, pid):
    auth.login()
    client.get(f"/sets/open-set/{pid}?seed=1")
    client.post(f"/sets/open-set/{pid}?seed=2", data=_form("x", seed="2"))
    record, _variant_ = _variant(app, "alice", "open-set", pid)
    with app.app_context():
        expected = seed_for(_user_id(app, "alice"), "open-set", pid)
        other = seed_for(_user_id(app, "bob"), "open-set", pid)
        app.config["SEED_SECRET"] = "another secret"
        under_other_secret = seed_for(_user_id(app, "alice"), "open-set", pid)
    assert record.seed == expected and record.seed not in (1, 2)
    assert other != expected and under_other_secret != expected


def test_a_variant_is_frozen_when_first_shown(app, client, auth, pid):
    auth.login()
    first = _text(client.get(f"/sets/open-set/{pid}"))
    app.config["SEED_SECRET"] = "rotated"  # a new secret would give a new seed ...
    second = _text(client.get(f"/sets/open-set/{pid}"))
    prompt = lambda page: page.split('<section class="prompt">')[1].split("</section>")[0]  # noqa: E731
    assert prompt(first) == prompt(second)  # ... but the stored variant is what is shown
    assert _count(app, VariantRecord) == 1


def test_missing_set_or_problem_is_a_404_with_a_sentence(client, auth, pid):
    auth.login()
    response = client.get("/sets/no-such-set")
    assert response.status_code == 404 and "no problem set called" in _text(response)
    response = client.get("/sets/open-set/no-such-problem")
    assert response.status_code == 404 and "has no problem" in _text(response)


def test_set_page_shows_points_and_attempts(client, auth, pid):
    auth.login()
    page = _text(client.get("/sets/open-set"))
    assert "0 of 3 used" in page and "not started" in page


# --- practice mode --------------------------------------------------------------------------

def _token(page: str) -> str:
    return re.search(r'name="token" value="([^"]+)"', page).group(1)


def _practice_variant(app, problem_id, token):
    from grader.variants import generate
    from web.quiz.practice import _serializer

    with app.test_request_context():
        data = _serializer().loads(token)
    return generate(_bank(app).problems[problem_id], data["s"])


def test_practice_needs_no_account_and_records_nothing(practice_app, client, pid, web_answer):
    app = practice_app
    assert client.get("/practice/").status_code == 200
    page = _text(client.get(f"/practice/{pid}"))
    token = _token(page)
    variant = _practice_variant(app, pid, token)
    response = client.post(f"/practice/{pid}", data={"token": token,
                                                     "answer": web_answer(variant)})
    assert response.status_code == 200 and "Correct." in _text(response)
    assert _count(app, Submission) == 0 and _count(app, VariantRecord) == 0


def test_practice_gives_fresh_variants_and_hides_the_answer_until_asked(practice_app, client,
                                                                         pid, web_answer):
    app = practice_app
    tokens = {_token(_text(client.get(f"/practice/{pid}"))) for _ in range(3)}
    assert len(tokens) == 3
    token = tokens.pop()
    variant = _practice_variant(app, pid, token)
    wrong = client.post(f"/practice/{pid}",
                        data={"token": token, "answer": web_answer(variant, correct=False)})
    assert "Not quite." in _text(wrong) and "The answer</h2>" not in _text(wrong)
    shown = client.post(f"/practice/{pid}", data={"token": token, "reveal": "1"})
    assert "The answer</h2>" in _text(shown)


def test_practice_rejects_a_forged_or_foreign_token(practice_app, client, pid):
    app = practice_app
    token = _token(_text(client.get(f"/practice/{pid}")))
    forged = client.post(f"/practice/{pid}", data={"token": token[:-2] + "xx", "answer": "1"})
    assert forged.status_code == 400 and "expired" in _text(forged)
    in_open_set = {item.problem_id for item in _bank(app).sets["open-set"].items}
    other = next(p for p in sorted(_bank(app).problems) if p != pid and p not in in_open_set)
    foreign = client.post(f"/practice/{other}", data={"token": token, "answer": "1"})
    assert foreign.status_code == 400


def test_practice_format_error_is_explained(practice_app, client, pid):
    token = _token(_text(client.get(f"/practice/{pid}")))
    response = client.post(f"/practice/{pid}", data={"token": token, "answer": "???"})
    assert response.status_code == 422 and "format-error" in _text(response)


# --- every answer type renders its widget and grades ---------------------------------------

def test_every_bank_problem_renders_and_grades_a_right_answer(app, client, auth, web_answer):
    auth.login()
    for problem in _bank(app).problems.values():
        response = client.get(f"/sets/open-set/{problem.id}")
        assert response.status_code == 200, problem.id
        page = _text(response)
        if problem.answer_type in ("choice", "truefalse"):
            assert 'type="radio"' in page
        elif problem.answer_type == "multiselect":
            assert 'type="checkbox"' in page
        _record, variant = _variant(app, "alice", "open-set", problem.id)
        try:
            raw = web_answer(variant)
        except NotImplementedError:
            continue
        data = _form(raw.split("\n") if problem.answer_type == "multiselect" else raw)
        client.post(f"/sets/open-set/{problem.id}", data=data)
        page = _text(client.get(f"/sets/open-set/{problem.id}"))
        assert "Correct." in page, (problem.id, raw)


def test_home_lists_open_sets_before_closed_ones(client, auth):
    auth.login()
    page = _text(client.get("/"))
    assert page.index("Open set") < page.index("Closed set")


def test_no_problem_page_in_the_bank_shows_its_answer_before_it_may(app, client, auth):
    from grader.grading import describe_answer

    auth.login()
    checked = 0
    for problem in _bank(app).problems.values():
        if problem.answer_type in ("choice", "multiselect", "truefalse"):
            continue  # the answer is one of the options on the page by design
        page = _text(client.get(f"/sets/open-set/{problem.id}"))
        _record, variant = _variant(app, "alice", "open-set", problem.id)
        described = describe_answer(variant)
        if len(described) >= 6:
            assert described not in page and str(render_text(described)) not in page, problem.id
            checked += 1
    assert checked >= 5


def test_answers_are_stored_through_the_gate(app, client, auth, pid, web_answer, monkeypatch):
    """The first view (storing the variant) and the answer POST write inside the gate."""
    from web import db

    held = []
    real_hold = db.WriteGate.hold

    def spy(self):
        held.append(True)
        return real_hold(self)

    monkeypatch.setattr(db.WriteGate, "hold", spy)
    auth.login("alice")
    client.get(f"/sets/open-set/{pid}")
    assert held == [True]  # the variant was stored
    client.get(f"/sets/open-set/{pid}")
    assert held == [True]  # a second view writes nothing
    response = client.post(f"/sets/open-set/{pid}", data=_form("-12345"))
    assert response.status_code == 302
    assert held == [True, True]
