"""Practice never reveals a graded variant: problems of open graded sets are withheld."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from grader.bank import BankError, SetItem, load_bank, load_set_file
from web.db import session_factory
from web.models import User, VariantRecord
from web.quiz.practice import withheld_reason

WEB_PASSWORD = "correct-horse-1"
LOADS_PER_PROBLEM = 12  # x every problem of the bank x (anonymous, signed in): ~900 loads
NOW = datetime(2026, 6, 1, tzinfo=UTC)
WITHHELD = "is not offered for practice right now"


def _text(response) -> str:
    return response.get_data(as_text=True)


def _open_set_ids(bank) -> set[str]:
    return {item.problem_id for item in bank.sets["open-set"].items}


def _graded_variants(app, username: str) -> dict[str, list]:
    """Per problem: the (params, answer) of the user's stored variants in open sets."""
    from grader.variants import Variant

    with session_factory(app)() as session:
        user_id = session.scalar(select(User.id).where(User.username == username))
        records = session.scalars(select(VariantRecord).where(
            VariantRecord.user_id == user_id, VariantRecord.set_id == "open-set")).all()
    graded: dict[str, list] = {}
    for record in records:
        variant = Variant.from_json(json.loads(record.variant_json))
        graded.setdefault(record.problem_id, []).append(
            (json.dumps(variant.to_json()["params"], sort_keys=True, default=str),
             json.dumps(variant.to_json()["answer"], sort_keys=True, default=str)))
    return graded


def _practice_variant(app, token: str):
    from grader.variants import generate
    from web.quiz.practice import _serializer

    with app.test_request_context():
        data = _serializer().loads(token)
    bank = app.extensions["stride_bank"]
    return generate(bank.problems[data["p"]], data["s"])


def test_no_practice_page_shows_a_graded_variant(practice_app):
    """alice opens every problem of the open set, then draws practice pages of every problem."""
    app, bank = practice_app, practice_app.extensions["stride_bank"]
    alice = app.test_client()
    alice.post("/auth/login", data={"username": "alice", "password": WEB_PASSWORD})
    for pid in sorted(_open_set_ids(bank)):
        assert alice.get(f"/sets/open-set/{pid}").status_code == 200
    graded = _graded_variants(app, "alice")
    assert len(graded) == len(_open_set_ids(bank)) > 0
    offered = set()
    for client in (app.test_client(), alice):
        for pid in sorted(bank.problems):
            for _ in range(LOADS_PER_PROBLEM):
                response = client.get(f"/practice/{pid}")
                if pid in graded:
                    assert response.status_code == 404, pid
                    continue
                assert response.status_code == 200, pid
                offered.add(pid)
                token = re.search(r'name="token" value="([^"]+)"', _text(response)).group(1)
                shown = _practice_variant(app, token).to_json()
                pair = (json.dumps(shown["params"], sort_keys=True, default=str),
                        json.dumps(shown["answer"], sort_keys=True, default=str))
                assert pair not in graded.get(pid, ())
    assert offered == set(bank.problems) - _open_set_ids(bank) and offered


def test_a_withheld_problem_is_a_404_by_url_any_seed_and_the_show_answer_post(practice_app):
    from web.quiz.practice import _serializer

    app, bank = practice_app, practice_app.extensions["stride_bank"]
    pid = sorted(_open_set_ids(bank))[0]
    client = app.test_client()
    with app.test_request_context():
        tokens = [_serializer().dumps({"p": pid, "s": seed}) for seed in (0, 1, 7, 2**31)]
    responses = [client.get(f"/practice/{pid}"), client.get(f"/practice/{pid}?seed=3")]
    for token in tokens:
        responses.append(client.post(f"/practice/{pid}", data={"token": token, "reveal": "1"}))
        responses.append(client.post(f"/practice/{pid}", data={"token": token, "answer": "1"}))
    for response in responses:
        assert response.status_code == 404
        assert WITHHELD in _text(response)
        assert "in a graded set until Tue 01 Jan 2999, 00:00 UTC" in _text(response)
        assert "The answer</h2>" not in _text(response)


def test_the_index_says_kindly_why_a_problem_is_not_offered(practice_app):
    bank = practice_app.extensions["stride_bank"]
    page = _text(practice_app.test_client().get("/practice/"))
    withheld = bank.problems[sorted(_open_set_ids(bank))[0]]
    offered = next(p for p in bank.problems.values() if p.id not in _open_set_ids(bank))
    assert f'href="/practice/{withheld.id}"' not in page
    assert "not offered for practice right now: It is in a graded set until Tue 01 Jan 2999" in page
    assert f'href="/practice/{offered.id}"' in page


def _set(set_id: str, due: datetime | None, *problem_ids: str, practice: bool = True):
    from grader.bank import ProblemSet

    return ProblemSet(set_id, set_id.title(), tuple(SetItem(p) for p in problem_ids), due,
                      Path(f"{set_id}.yaml"), practice=practice)


@pytest.fixture
def one_problem(web_bank):
    return web_bank.problems[sorted(web_bank.problems)[0]]


@pytest.mark.parametrize(("sets", "expected"), [
    ((), None),
    ((("past", datetime(2026, 1, 1, tzinfo=UTC)),), None),
    ((("past", datetime(2026, 1, 1, tzinfo=UTC)), ("later", datetime(2026, 7, 2, 9, 30))),
     "in a graded set until Thu 02 Jul 2026, 09:30 UTC; it returns to practice"),
    ((("soon", datetime(2026, 6, 2, tzinfo=UTC)), ("later", datetime(2026, 7, 2, tzinfo=UTC))),
     "until Thu 02 Jul 2026, 00:00 UTC"),
    ((("past", datetime(2026, 1, 1, tzinfo=UTC)), ("open", None)),
     "in a graded set (Open) without a due date"),
])
def test_a_problem_returns_to_practice_once_every_set_holding_it_is_past_due(
        web_bank, one_problem, sets, expected):
    bank = replace(web_bank, sets={sid: _set(sid, due, one_problem.id) for sid, due in sets})
    reason = withheld_reason(bank, one_problem, NOW)
    assert reason is None if expected is None else expected in reason


def test_instructors_can_switch_practice_off_per_problem_and_per_set(web_bank, one_problem):
    closed = _set("past", datetime(2026, 1, 1, tzinfo=UTC), one_problem.id, practice=False)
    bank = replace(web_bank, sets={"past": closed})
    assert "not to offer the problems of its set" in withheld_reason(bank, one_problem, NOW)
    quiet = replace(one_problem, practice=False)
    assert "not to offer this problem" in withheld_reason(replace(web_bank, sets={}), quiet, NOW)


def test_practice_false_in_the_yaml_is_loaded_and_a_bad_value_is_explained(tmp_path,
                                                                           web_template):
    import shutil

    problems = tmp_path / "problems"
    shutil.copytree(web_template / "problems", problems)
    text = (problems / "padding.yaml").read_text()
    (problems / "padding.yaml").write_text(text.replace(
        "  - id: padding-volume\n", "  - id: padding-volume\n    practice: false\n"))
    (problems / "sets" / "quiet.yaml").write_text(
        "id: quiet\ntitle: Quiet\npractice: false\nproblems:\n  - problem: padding-volume\n")
    bank = load_bank(problems)
    assert bank.problems["padding-volume"].practice is False
    assert bank.problems["padding-then-conv"].practice is True
    assert bank.sets["quiet"].practice is False and bank.sets["open-set"].practice is True
    (problems / "sets" / "quiet.yaml").write_text(
        "id: quiet\ntitle: Quiet\npractice: 'no'\nproblems:\n  - problem: padding-volume\n")
    _set_, errors = load_set_file(problems / "sets" / "quiet.yaml", problems)
    assert any("set 'quiet'" in e and "field 'practice'" in e and "valid boolean" in e
               for e in errors), errors
    (problems / "padding.yaml").write_text(text.replace(
        "  - id: padding-volume\n", "  - id: padding-volume\n    practice: sometimes\n"))
    with pytest.raises(BankError, match=r"padding-volume'?: field 'practice'.*valid boolean"):
        load_bank(problems)
