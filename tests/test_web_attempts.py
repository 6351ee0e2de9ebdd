"""Attempt policies and worked solutions on the graded problem pages and in practice."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from conftest import answer_post
from sqlalchemy import select

from grader.attempts import PolicySpec, resolve
from grader.bank.problem import Bank, SetItem
from grader.variants import Variant
from web.db import session_factory
from web.models import User, VariantRecord

VALUE = "conv-output-size-valid"  # an integer problem with a worked solution
FACT = "pooling-facts-tf"  # a true/false problem


@pytest.fixture
def policy_app(make_app, web_bank):
    """The test bank plus a set 'policies': VALUE worth [3, 2, 1] points, FACT with defaults."""
    listed = resolve("integer", PolicySpec.from_points([3, 2, 1]))
    fact = resolve("truefalse")
    items = (SetItem(VALUE, 3.0, listed.attempts, policy=listed),
             SetItem(FACT, 1.0, fact.attempts, policy=fact))
    some = next(iter(web_bank.sets.values()))
    policies = replace(some, id="policies", title="Policies", items=items, due=None)
    app = make_app()
    app.extensions["stride_bank"] = Bank(problems=web_bank.problems,
                                         sets={**web_bank.sets, "policies": policies})
    return app


@pytest.fixture
def student(policy_app):
    client = policy_app.test_client()
    client.post("/auth/login", data={"username": "alice", "password": "correct-horse-1"})
    return client


def _variant(app, problem_id: str) -> Variant:
    with session_factory(app)() as session:
        uid = session.scalar(select(User.id).where(User.username == "alice"))
        record = session.scalar(select(VariantRecord).where(
            VariantRecord.user_id == uid, VariantRecord.set_id == "policies",
            VariantRecord.problem_id == problem_id))
        return Variant.from_json(json.loads(record.variant_json))


def _page(client, problem_id: str) -> str:
    return client.get(f"/sets/policies/{problem_id}").get_data(as_text=True)


def _answer(client, problem_id: str, answer: str) -> str:
    response = client.post(f"/sets/policies/{problem_id}", data=answer_post(answer),
                           follow_redirects=True)
    return response.get_data(as_text=True)


def test_decreasing_points_the_page_says_what_the_next_attempt_earns(policy_app, student):
    page = _page(student, VALUE)
    assert "Attempt 1 can earn 3 of 3 points." in page
    variant = _variant(policy_app, VALUE)
    wrong = str(variant.answer + 1)
    page = _answer(student, VALUE, wrong)
    assert "Attempt 2 can earn 2 of 3 points." in page
    assert "This answer earned 0 of 3 points." in page
    assert f'value="{wrong}"' in page  # the form keeps what was typed
    assert "Worked solution" not in page  # not before the attempts are used up
    page = _answer(student, VALUE, str(variant.answer))
    assert "This answer earned 2 of 3 points." in page
    assert "Worked solution" not in page  # solved: nothing more to learn from the steps
    set_page = student.get("/sets/policies").get_data(as_text=True)
    assert "score 2 / 4" in set_page


def test_running_out_of_attempts_shows_the_worked_solution_with_own_numbers(policy_app, student):
    _page(student, VALUE)
    variant = _variant(policy_app, VALUE)
    for _ in range(3):
        page = _answer(student, VALUE, str(variant.answer + 1))
    assert "You have used all your attempts" in page
    assert "Worked solution" in page
    n, f = variant.params["n"], variant.params["f"]
    assert f"<mn>{n}</mn>" in page and f"<mn>{f}</mn>" in page
    page = _answer(student, VALUE, "1")  # refused, nothing recorded
    assert "You have used all 3 attempts on this problem." in page


def test_a_true_false_problem_takes_one_attempt_by_default(policy_app, student):
    page = _page(student, FACT)
    assert "0 of 1 attempt used" in page
    variant = _variant(policy_app, FACT)
    page = _answer(student, FACT, str(not variant.answer))
    assert "You have used all your attempts" in page
    assert "The answer" in page


def test_credit_uses_the_attempts_worth_in_progress_and_gradebook(policy_app, student):
    _page(student, VALUE)
    variant = _variant(policy_app, VALUE)
    _answer(student, VALUE, str(variant.answer + 1))
    _answer(student, VALUE, str(variant.answer + 1))
    _answer(student, VALUE, str(variant.answer))  # third attempt: 1 of 3 points
    from web.instructor.gradebook import best_scores

    with policy_app.app_context(), session_factory(policy_app)() as session:
        uid = session.scalar(select(User.id).where(User.username == "alice"))
        course_ids = [e.course_id for e in session.get(User, uid).enrollments]
        best = best_scores(session, course_ids)[uid]["policies"][VALUE]
    assert best == pytest.approx(1 / 3)


def test_practice_shows_the_worked_solution_with_the_revealed_answer(client, app):
    bank = app.extensions["stride_bank"]
    problem = bank.problems[VALUE]
    open_sets = [s for s in bank.sets.values() if any(i.problem_id == VALUE for i in s.items)]
    if open_sets:  # withheld from practice while graded; practice a bank without sets instead
        app.extensions["stride_bank"] = Bank(problems=bank.problems, sets={})
    page = client.get(f"/practice/{problem.id}").get_data(as_text=True)
    token = page.split('name="token" value="')[1].split('"')[0]
    page = client.post(f"/practice/{problem.id}", data={"token": token, "reveal": "1"}
                       ).get_data(as_text=True)
    assert "The answer" in page and "Worked solution" in page


def test_rows_of_a_set_gone_from_the_bank_count_under_the_default_policy(policy_app):
    from web.quiz.progress import best_credits

    rows = [("gone-set", "gone", 2, 1.0, True), ("policies", VALUE, 2, 1.0, True)]
    with policy_app.app_context():
        credits = best_credits(rows)
    assert credits[("gone-set", "gone")] == (1, 1.0, True)
    assert credits[("policies", VALUE)][1] == pytest.approx(2 / 3)


def _open_variant(app, problem_id: str) -> Variant:
    with session_factory(app)() as session:
        uid = session.scalar(select(User.id).where(User.username == "alice"))
        record = session.scalar(select(VariantRecord).where(
            VariantRecord.user_id == uid, VariantRecord.set_id == "open-set",
            VariantRecord.problem_id == problem_id))
        return Variant.from_json(json.loads(record.variant_json))


def test_a_partly_right_matrix_is_kept_and_its_points_shown_with_the_verdict(app, client, auth):
    auth.login()
    pid = "conv2d-valid-matrix"  # partial credit per entry, 2 points in the test set
    client.get(f"/sets/open-set/{pid}")
    rows = [list(r) for r in _open_variant(app, pid).answer]
    rows[0][0] += 1  # three of four entries right
    typed = json.dumps(rows)
    page = client.post(f"/sets/open-set/{pid}", data=answer_post(typed),
                       follow_redirects=True).get_data(as_text=True)
    assert "Partly right." in page
    assert "This answer earned 1.5 of 2 points." in page
    assert f">{typed}</textarea>" in page.replace("&#34;", '"')  # not retyped


def test_ticked_options_stay_ticked_after_a_wrong_answer(app, client, auth):
    auth.login()
    pid = "why-conv-multiselect"
    client.get(f"/sets/open-set/{pid}")
    variant = _open_variant(app, pid)
    ticked = next(o for o in variant.options if o not in variant.answer)  # a wrong one
    client.post(f"/sets/open-set/{pid}", data=answer_post([ticked]))
    page = client.get(f"/sets/open-set/{pid}").get_data(as_text=True)
    boxes = [chunk for chunk in page.split("<input")[1:] if 'type="checkbox"' in chunk]
    checked = [chunk for chunk in boxes if "checked" in chunk.split(">")[0]]
    assert len(boxes) == len(variant.options) and len(checked) == 1
    assert "Please" not in page


def test_an_unreadable_answer_is_tied_to_its_input(app, client, auth):
    auth.login()
    pid = "conv-output-size-valid"
    client.get(f"/sets/open-set/{pid}")
    response = client.post(f"/sets/open-set/{pid}", data=answer_post("twelve?"))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'aria-describedby="hint answer-error"' in page and 'aria-invalid="true"' in page
    assert 'id="answer-error" role="alert"' in page and 'value="twelve?"' in page
