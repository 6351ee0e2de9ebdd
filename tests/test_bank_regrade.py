"""Regrade is safe by construction: each stored answer is checked again against the variant the
student saw (never regenerated), as a dry run first, applied on confirmation, recorded and
undoable; variants the current problem cannot grade are listed and left alone unless re-issued."""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from grader.bank import load_bank
from grader.variants import IncompatibleVariant, Variant, generate, regraded_variant
from tests.conftest import answer_post
from web.db import session_factory
from web.models import RegradeRun, RetiredVariant, ScoreChange, Submission, User, VariantRecord

VOLUME = """\
problems:
  - id: volume
    title: Output volume of a conv layer
    topic: conv-output-volume
    answer_type: shape
    params:
      n: {int: [16, 80]}
      c: {choice: [1, 3, 8, 16, 32]}
      k: {choice: [4, 6, 8, 10, 16, 32]}
      f: {int: [1, 7], step: 2}
      s: {int: [1, 3]}
      p: {int: [0, 2]}
    where:
      - f <= n + 2*p
    prompt: |
      An input of ${{ n }} \\times {{ n }} \\times {{ c }}$ meets {{ k }} filters of
      ${{ f }} \\times {{ f }}$, stride {{ s }}, padding {{ p }}. What is the output shape?
    answer: conv_output_shape(n, n, f, s, p, k)
"""
VALID = """\
problems:
  - id: valid
    title: Output size of a valid convolution
    topic: conv-output-volume
    answer_type: integer
    params:
      n: {int: [4, 40]}
      f: {int: [2, 7]}
    where:
      - f <= n
    prompt: |
      An ${{ n }} \\times {{ n }}$ image is convolved with an ${{ f }} \\times {{ f }}$ filter,
      stride 1, no padding. How many rows has the output?
    answer: n - f
"""
SET = """\
id: open-set
title: Open set
due: 2999-01-01T00:00:00Z
problems:
  - {problem: volume, points: 2, attempts: 3}
  - {problem: valid, points: 1, attempts: 3}
"""
STUDENTS = ("alice", "bob")


@pytest.fixture
def bank_dir(tmp_path) -> Path:
    problems = tmp_path / "bank"
    (problems / "sets").mkdir(parents=True)
    (problems / "volume.yaml").write_text(VOLUME)
    (problems / "valid.yaml").write_text(VALID)
    (problems / "sets" / "open-set.yaml").write_text(SET)
    return problems


@pytest.fixture
def small_app(make_app, bank_dir):
    app = make_app(PROBLEMS_DIR=str(bank_dir))
    app.extensions["stride_bank"] = load_bank(bank_dir)
    return app


@pytest.fixture
def small_client(small_app):
    return small_app.test_client()


def _login(client, name):
    from tests.conftest import WEB_PASSWORD

    client.post("/auth/logout")
    assert client.post("/auth/login", data={"username": name, "password": WEB_PASSWORD}
                       ).status_code == 302


def _record(app, name, pid) -> VariantRecord:
    with session_factory(app)() as session:
        uid = session.scalar(select(User.id).where(User.username == name))
        return session.scalar(select(VariantRecord).where(
            VariantRecord.user_id == uid, VariantRecord.problem_id == pid))


def _stored(app, name, pid) -> Variant:
    return Variant.from_json(json.loads(_record(app, name, pid).variant_json))


def _answer(app, client, name, pid, raw_of) -> None:
    """`name` opens `pid` and answers with raw_of(their variant)."""
    _login(client, name)
    assert client.get(f"/sets/open-set/{pid}").status_code == 200
    client.post(f"/sets/open-set/{pid}", data=answer_post(raw_of(_stored(app, name, pid))))


def _scores(app, pid) -> dict[str, list[float]]:
    with session_factory(app)() as session:
        rows = session.execute(select(User.username, Submission.score).join(
            User, User.id == Submission.user_id).where(Submission.problem_id == pid)
            .order_by(User.username, Submission.attempt)).all()
    scores: dict[str, list[float]] = {}
    for name, score in rows:
        scores.setdefault(name, []).append(score)
    return scores


def _edit(bank_dir, name, old, new, client) -> None:
    path = bank_dir / name
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    _login(client, "ines")
    assert client.post("/instructor/bank/reload").status_code == 302


def _page(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_a_widened_choice_list_changes_no_prompt_and_no_score(small_app, small_client,
                                                               bank_dir, web_answer):
    app, client = small_app, small_client
    for name in STUDENTS:
        _answer(app, client, name, "volume", lambda v: web_answer(v, correct=True))
    before = {name: _stored(app, name, "volume") for name in STUDENTS}
    _edit(bank_dir, "volume.yaml", "k: {choice: [4, 6, 8, 10, 16, 32]}",
          "k: {choice: [4, 6, 8, 10, 16, 32, 64]}", client)
    problem = app.extensions["stride_bank"].problems["volume"]
    # Regenerating from the seed would have changed what the students saw: the old bug.
    assert any(generate(problem, v.seed).prompt != v.prompt for v in before.values())
    dry = _page(client.post("/instructor/regrade/volume"))
    assert "2 submissions of 'volume' would be regraded: 0 scores up, 0 down, 2 the same." in dry
    applied = _page(client.post("/instructor/regrade/volume", data={"action": "apply"},
                                follow_redirects=True))
    assert "2 submissions of 'volume' regraded: 0 scores up, 0 down, 2 the same." in applied
    assert _scores(app, "volume") == {"alice": [1.0], "bob": [1.0]}
    for name in STUDENTS:
        after = _stored(app, name, "volume")
        assert (after.prompt, after.params, after.answer) == (
            before[name].prompt, before[name].params, before[name].answer)
    with session_factory(app)() as session:
        assert session.scalar(select(ScoreChange.id)) is None
        run = session.scalars(select(RegradeRun)).one()
        assert run.problem_id == "volume" and run.undone_at is None


def test_a_corrected_answer_changes_scores_the_dry_run_shows_them_and_undo_puts_them_back(
        small_app, small_client, bank_dir):
    app, client = small_app, small_client
    # The template's answer is wrong (n - f): alice types what it expects, bob the true answer.
    _answer(app, client, "alice", "valid", lambda v: str(v.answer))
    _answer(app, client, "bob", "valid", lambda v: str(v.params["n"] - v.params["f"] + 1))
    assert _scores(app, "valid") == {"alice": [1.0], "bob": [0.0]}
    seen = {name: _stored(app, name, "valid") for name in STUDENTS}
    _edit(bank_dir, "valid.yaml", "answer: n - f", "answer: output_size(n, f)", client)
    dry = _page(client.post("/instructor/regrade/valid"))
    assert "2 submissions of 'valid' would be regraded: 1 score up, 1 down, 0 the same." in dry
    up = dry[dry.index('id="regrade-up"'):dry.index('id="regrade-down"')]
    down = dry[dry.index('id="regrade-down"'):dry.index('id="regrade-same"')]
    assert "bob" in up and "alice" not in up and "alice" in down and "0%" in down
    assert _scores(app, "valid") == {"alice": [1.0], "bob": [0.0]}  # nothing written yet
    client.post("/instructor/regrade/valid", data={"action": "apply"})
    assert _scores(app, "valid") == {"alice": [0.0], "bob": [1.0]}
    for name in STUDENTS:  # the variant shown is kept; its expected answer is corrected
        after = _stored(app, name, "valid")
        assert after.prompt == seen[name].prompt and after.params == seen[name].params
        assert after.answer == seen[name].answer + 1
    with session_factory(app)() as session:
        run = session.scalars(select(RegradeRun)).one()
        changes = session.scalars(select(ScoreChange)).all()
        assert run.changed_by.username == "ines" and "1 score up, 1 down" in run.summary
        assert sorted((c.old_score, c.new_score) for c in changes) == [(0.0, 1.0), (1.0, 0.0)]
        assert all(f"run {run.id}" in c.reason for c in changes)
    runs = _page(client.post("/instructor/regrade/valid"))
    assert 'id="regrade-runs"' in runs and 'name="action" value="undo"' in runs
    undone = client.post("/instructor/regrade/valid", data={"action": "undo", "run": run.id},
                         follow_redirects=True)
    assert f"Regrade run {run.id} of 'valid' was undone." in _page(undone)
    assert _scores(app, "valid") == {"alice": [1.0], "bob": [0.0]}
    assert _stored(app, "alice", "valid").answer == seen["alice"].answer
    again = client.post("/instructor/regrade/valid", data={"action": "undo", "run": run.id})
    assert again.status_code == 409 and "already undone" in _page(again)


def test_only_the_newest_standing_run_can_be_undone(small_app, small_client, bank_dir):
    app, client = small_app, small_client
    _answer(app, client, "alice", "valid", lambda v: str(v.answer))
    _login(client, "ines")
    first = client.post("/instructor/regrade/valid", data={"action": "apply"})
    second = client.post("/instructor/regrade/valid", data={"action": "apply"})
    assert first.status_code == second.status_code == 302
    with session_factory(app)() as session:
        older, newer = session.scalars(select(RegradeRun.id).order_by(RegradeRun.id)).all()
    refused = client.post("/instructor/regrade/valid", data={"action": "undo", "run": older})
    assert refused.status_code == 409 and f"later run {newer} stands" in _page(refused)
    assert client.post("/instructor/regrade/valid", data={"action": "undo", "run": "x1"}
                       ).status_code == 400
    assert client.post("/instructor/regrade/valid", data={"action": "nope"}).status_code == 400


def test_a_removed_parameter_is_listed_left_alone_and_re_issued_only_when_asked(
        small_app, small_client, bank_dir):
    app, client = small_app, small_client
    _answer(app, client, "alice", "valid", lambda v: str(v.answer))
    old = _record(app, "alice", "valid")
    text = (bank_dir / "valid.yaml").read_text().replace("      f: {int: [2, 7]}\n", "")
    text = text.replace("f <= n", "n > 3").replace("n - f", "n - 3").replace(
        "{{ f }} \\times {{ f }}", "3 \\times 3")
    (bank_dir / "valid.yaml").write_text(text)
    _login(client, "ines")
    assert client.post("/instructor/bank/reload").status_code == 302
    dry = _page(client.post("/instructor/regrade/valid"))
    assert "1 stored variant can no longer be graded" in dry
    assert "parameter 'f' removed" in dry and 'value="reissue"' in dry
    client.post("/instructor/regrade/valid", data={"action": "apply"})
    assert _record(app, "alice", "valid").variant_json == old.variant_json  # left alone
    assert _scores(app, "valid") == {"alice": [1.0]}
    client.post("/instructor/regrade/valid", data={"action": "reissue"})
    assert _record(app, "alice", "valid") is None and _scores(app, "valid") == {}
    with session_factory(app)() as session:
        retired = session.scalars(select(RetiredVariant)).one()
        assert retired.variant_json == old.variant_json
        assert [s["score"] for s in json.loads(retired.submissions_json)] == [1.0]
    _login(client, "alice")  # a new problem for her: a variant of the current template
    page = client.get("/sets/open-set/valid")
    assert page.status_code == 200
    assert "f" not in _stored(app, "alice", "valid").params
    text = _page(page)  # and what she saw and typed before is still hers to read
    assert "An earlier version of this problem" in text
    assert "Your 1 attempt on the earlier version is kept here; it no longer counts" in text
    old_variant = Variant.from_json(json.loads(old.variant_json))
    assert f"<code>{old_variant.answer}</code>" in text
    f, earlier = old_variant.params["f"], text[text.index("An earlier version"):]
    assert f"<mn>{f}</mn><mo>×</mo><mn>{f}</mn></mrow></math> filter" in earlier  # as shown
    _login(client, "bob")  # nobody else sees it
    assert "An earlier version" not in _page(client.get("/sets/open-set/valid"))


def test_regraded_variant_keeps_what_was_shown_and_refuses_a_changed_answer_type(web_bank):
    problem = web_bank.problems["conv-output-volume"]
    stored = generate(problem, 11)
    again = regraded_variant(problem, stored)
    assert again == stored
    fake = Variant.from_json({**stored.to_json(), "answer_type": "integer"})
    with pytest.raises(IncompatibleVariant, match="answer type changed"):
        regraded_variant(problem, fake)
    extra = Variant.from_json({**stored.to_json(), "params": {**stored.params, "z": 1}})
    with pytest.raises(IncompatibleVariant, match="parameter 'z' removed"):
        regraded_variant(problem, extra)


def test_regraded_variant_equals_the_stored_one_for_every_shipped_problem(web_bank):
    """With the template unchanged, nothing a regrade derives differs from what was stored."""
    for problem in web_bank.problems.values():
        for seed in (0, 1, 2):
            stored = Variant.from_json(json.loads(json.dumps(generate(problem, seed).to_json())))
            assert regraded_variant(problem, stored).to_json() == stored.to_json(), (
                problem.id, seed)


def test_a_re_issue_is_recorded_and_undone_while_the_new_variant_is_unopened(
        small_app, small_client, bank_dir):
    app, client = small_app, small_client
    _answer(app, client, "alice", "valid", lambda v: str(v.answer))
    old = _record(app, "alice", "valid")
    text = (bank_dir / "valid.yaml").read_text().replace(
        "answer_type: integer", "answer_type: number")
    (bank_dir / "valid.yaml").write_text(text)
    _login(client, "ines")
    assert client.post("/instructor/bank/reload").status_code == 302
    assert "the answer type changed from 'integer' to 'number'" in _page(
        client.post("/instructor/regrade/valid"))
    client.post("/instructor/regrade/valid", data={"action": "reissue"})
    assert _record(app, "alice", "valid") is None
    with session_factory(app)() as session:
        run = session.scalars(select(RegradeRun)).one()
        assert run.kind == "reissue" and "re-issued" in run.summary
    client.post("/instructor/regrade/valid", data={"action": "undo", "run": run.id})
    back = _record(app, "alice", "valid")
    assert back.variant_json == old.variant_json and _scores(app, "valid") == {"alice": [1.0]}
