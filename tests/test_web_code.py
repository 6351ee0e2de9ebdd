"""Code exercises through the web app: upload or paste, background grading, status, history."""

from __future__ import annotations

import io
import json
import secrets

import pytest
from sqlalchemy import select

from web.code.backend import get_pool, recover_stale_jobs
from web.code.task import RESTART_MESSAGE
from web.db import session_factory
from web.models import CodeSubmission, User, utcnow

pytest.importorskip("grader.code", reason="the code grader is not installed")

ZERO_PAD = """
import numpy as np


def zero_pad(X, pad):
    return np.pad(X, ((0, 0), (pad, pad), (pad, pad), (0, 0)), mode="constant")
"""


def _rows(app):
    with session_factory(app)() as session:
        return session.scalars(select(CodeSubmission).order_by(CodeSubmission.id)).all()


def _submit(client, **data):
    """POST the code form as the page would send it, with a fresh idempotency token."""
    data.setdefault("request_token", secrets.token_urlsafe(32))
    return client.post("/code/conv_step_by_step", data=data, content_type="multipart/form-data")


def test_pasted_code_is_graded_in_the_background(app, client, auth):
    auth.login()
    response = _submit(client, source=ZERO_PAD)
    assert response.status_code == 302
    location = response.headers["Location"]
    row = _rows(app)[0]
    assert location.endswith(f"/code/submissions/{row.id}")
    get_pool(app).wait_all(timeout=120)
    status = client.get(f"/code/submissions/{row.id}/status").get_json()
    assert status["status"] == "done" and status["done"] is True
    row = _rows(app)[0]
    report = json.loads(row.report_json)
    by_name = {f["name"]: f for f in report["functions"]}
    assert by_name["zero_pad"]["status"] == "passed"
    assert all(t["passed"] for t in by_name["zero_pad"]["tests"])
    assert by_name["conv_forward"]["status"] == "not attempted"
    assert 0 < row.score < row.max_score and row.finished_at is not None
    page = client.get(location).get_data(as_text=True)
    assert "zero_pad" in page and "passed" in page and "not attempted" in page
    assert "poll.js" not in page  # finished pages stop polling


def test_uploaded_file_is_accepted_and_listed_in_the_history(app, client, auth):
    auth.login()
    upload = (io.BytesIO(ZERO_PAD.encode()), "my_conv.py")
    response = _submit(client, file=upload)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "my_conv.py" in page
    get_pool(app).wait_all(timeout=120)
    history = client.get("/code/").get_data(as_text=True)
    assert "Your submissions" in history and "conv step by step" in history
    assert _rows(app)[0].filename == "my_conv.py"


def test_a_pending_submission_page_polls_for_its_status(app, client, auth):
    with session_factory(app)() as session:
        alice = session.scalar(select(User).where(User.username == "alice"))
        # Being graded elsewhere, heartbeat fresh: the status poll's reaper leaves it alone.
        row = CodeSubmission(user_id=alice.id, exercise="conv_step_by_step", source="x = 1",
                             status="grading", tries=1, heartbeat_at=utcnow())
        session.add(row)
        session.commit()
    auth.login()
    page = client.get(f"/code/submissions/{row.id}").get_data(as_text=True)
    assert "poll.js" in page and f"/code/submissions/{row.id}/status" in page
    assert client.get(f"/code/submissions/{row.id}/status").get_json()["done"] is False


def test_non_utf8_upload_is_refused_kindly(app, client, auth):
    auth.login()
    response = _submit(client, file=(io.BytesIO(b"\xff\xfe\x00bad"), "notebook.ipynb"))
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "not UTF-8 text" in page
    assert _rows(app) == []


def test_a_utf16_upload_is_read_and_the_page_says_how(app, client, auth):
    auth.login()
    data = ZERO_PAD.replace("\n", "\r\n").encode("utf-16")  # PowerShell's `>` saves this
    response = _submit(client, file=(io.BytesIO(data), "my_conv.py"))
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Read your file as UTF-16 text" in page
    get_pool(app).wait_all(timeout=120)
    [row] = _rows(app)
    assert row.source == ZERO_PAD.replace("\n", "\r\n") and row.filename == "my_conv.py"


def test_a_file_the_reader_fails_on_is_refused_kindly_never_a_500(app, client, auth,
                                                                 monkeypatch, caplog):
    from web.code import views

    def broken(text, filename=None):
        raise RuntimeError("a reader bug")

    monkeypatch.setattr(views, "read_submission", broken)
    auth.login()
    response = _submit(client, file=(io.BytesIO(ZERO_PAD.encode()), "my_conv.py"))
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "We could not read that file, and nothing was recorded" in page
    assert _rows(app) == []
    assert "could not be read" in caplog.text and "a reader bug" in caplog.text


def test_empty_submission_is_refused_kindly(app, client, auth):
    auth.login()
    page = _submit(client, source="   ").headers["Location"]
    assert "paste your code" in client.get(page).get_data(as_text=True)
    assert _rows(app) == []


def test_rows_left_unfinished_by_a_restart_are_marked_failed(app):
    with session_factory(app)() as session:
        alice = session.scalar(select(User).where(User.username == "alice"))
        for status in ("queued", "grading", "done"):
            session.add(CodeSubmission(user_id=alice.id, exercise="conv_step_by_step",
                                       source="x = 1", status=status))
        session.commit()
    assert recover_stale_jobs(session_factory(app)) == 2
    statuses = [(r.status, r.error) for r in _rows(app)]
    assert statuses == [("failed", RESTART_MESSAGE), ("failed", RESTART_MESSAGE), ("done", None)]


def test_the_starter_file_can_be_downloaded(client, auth):
    auth.login()
    response = client.get("/code/conv_step_by_step/starter.py")
    assert response.status_code == 200
    assert "def zero_pad(X, pad):" in response.get_data(as_text=True)
    assert "attachment" in response.headers["Content-Disposition"]
    assert client.get("/code/nothing/starter.py").status_code == 404


LEAKY_ZERO_PAD = """
def zero_pad(X, pad):
    raise ValueError(f"zero_pad got shape {X.shape} and pad {pad}")
"""


def test_students_see_hidden_tests_neutrally_and_staff_see_them_in_full(app, client, auth):
    auth.login()
    _submit(client, source=LEAKY_ZERO_PAD)
    get_pool(app).wait_all(timeout=120)
    row = _rows(app)[0]
    stored = json.loads(row.report_json)
    zero_pad = next(f for f in stored["functions"] if f["name"] == "zero_pad")
    hidden = [t for t in zero_pad["tests"] if t["hidden"]]
    assert hidden and all(t["staff"]["case"] and "got shape" in t["staff"]["message"]
                          for t in hidden)
    own_page = client.get(f"/code/submissions/{row.id}").get_data(as_text=True)
    assert "hidden test 1" in own_page
    for test in hidden:
        assert f"case {test['staff']['case']}" not in own_page
    assert "You see this report as staff" not in own_page
    auth.logout()
    auth.login("ines")
    staff_page = client.get(f"/code/submissions/{row.id}").get_data(as_text=True)
    assert "You see this report as staff" in staff_page
    assert all(f"case {t['staff']['case']}" in staff_page for t in hidden)


@pytest.mark.parametrize(("content", "filename"), [(b"x = 1\x00\n", "a.py"),
                                                    (b"x = 1\n", "a\x00.py")])
def test_a_file_with_a_nul_byte_is_refused_and_nothing_is_stored(app, client, auth, content,
                                                                 filename):
    auth.login()
    response = _submit(client, file=(io.BytesIO(content), filename))
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "contains a NUL character" in page
    assert _rows(app) == []
