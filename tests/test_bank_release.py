"""Drafts and release dates: sets have `release` and can be `hidden`, problems can be `draft`;
students see neither until they are out, instructors see and preview everything."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import WEB_PASSWORD

DRAFT = """\
id: draft-one
title: A draft problem
topic: conv-output-volume
answer_type: integer
draft: true
params:
  n: {int: [4, 9]}
prompt: "What is {{ n }} plus one?"
answer: n + 1
"""
LIVE = DRAFT.replace("draft-one", "live-one").replace("draft: true\n", "").replace(
    "A draft problem", "A live problem")
SETS = {
    "open.yaml": "id: open\ntitle: Open now\nproblems:\n  - {problem: live-one}\n"
                 "  - {problem: draft-one}\n",
    "later.yaml": "id: later\ntitle: Opens later\nrelease: 2999-01-01T00:00:00Z\n"
                  "problems:\n  - {problem: live-one}\n",
    "secret.yaml": "id: secret\ntitle: Hidden set\nhidden: true\nproblems:\n"
                   "  - {problem: live-one}\n",
    "was.yaml": "id: was\ntitle: Released long ago\nrelease: 2000-01-01T00:00:00Z\n"
                "problems:\n  - {problem: live-one}\n",
}


@pytest.fixture
def release_app(make_app, tmp_path):
    root = tmp_path / "problems"
    (root / "sets").mkdir(parents=True)
    (root / "draft.yaml").write_text(DRAFT)
    (root / "live.yaml").write_text(LIVE)
    (root / "free.yaml").write_text(LIVE.replace("live-one", "free-one"))
    for name, text in SETS.items():
        (root / "sets" / name).write_text(text)
    app = make_app(PROBLEMS_DIR=str(Path(root)))
    app.extensions.pop("stride_bank")
    return app


def _client(app, name):
    client = app.test_client()
    client.post("/auth/login", data={"username": name, "password": WEB_PASSWORD})
    return client


def test_students_see_only_released_sets_and_no_drafts(release_app):
    student = _client(release_app, "alice")
    home = student.get("/").get_data(as_text=True)
    assert "Open now" in home and "Released long ago" in home
    assert "Opens later" not in home and "Hidden set" not in home
    assert student.get("/sets/later").status_code == 404
    assert student.get("/sets/secret").status_code == 404
    assert student.get("/sets/secret/live-one").status_code == 404
    assert student.get("/sets/open/live-one").status_code == 200
    assert student.get("/sets/open/draft-one").status_code == 404
    assert student.get("/practice/draft-one").status_code == 404
    assert student.get("/practice/free-one").status_code == 200  # the route is the right one


def test_instructors_see_everything_and_preview_a_draft_with_any_seed(release_app):
    teacher = _client(release_app, "ines")
    dashboard = teacher.get("/instructor/").get_data(as_text=True)
    assert "hidden from students" in dashboard and "released" in dashboard
    assert "draft" in dashboard and 'name="seed"' in dashboard
    page = teacher.get("/instructor/preview/draft-one?seed=123456").get_data(as_text=True)
    assert "plus one" in page
    assert teacher.get("/sets/secret").status_code == 200
