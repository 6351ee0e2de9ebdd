"""Code-grading jobs in the in-process pool: one in flight per student and exercise, idempotent
submits, stalled jobs requeued or failed, course walls on code views, private database files.

Grading that must stay "in flight" blocks on a threading.Event in place of the real grader
(the pool grades in this process), so no test depends on how long grading takes.
"""

from __future__ import annotations

import secrets
import stat
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.conftest import WEB_PASSWORD
from web.code.backend import get_pool, recover_stale_jobs
from web.code.pool import GradingPool
from web.code.task import STALLED_MESSAGE, WAITING_MESSAGE
from web.db import session_factory
from web.models import CodeSubmission, Course, Enrollment, User, utcnow
from web.settings import JobTiming

EXERCISE = "conv_step_by_step"
pytest.importorskip("grader.code", reason="the code grader is not installed")


class Gate:
    """Stands in for `grade_source`: sources containing "# block" wait until `open()`."""

    def __init__(self, real):
        self.real, self.released, self.entered = real, threading.Event(), threading.Event()

    def __call__(self, source, **kwargs):
        if "# block" in source:
            self.entered.set()
            assert self.released.wait(timeout=120), "the test never opened the gate"
        return self.real(source, **kwargs)

    def open(self) -> None:
        self.released.set()


@pytest.fixture
def gate(monkeypatch):
    import web.code.task

    gate = Gate(web.code.task.grade_source)
    monkeypatch.setattr(web.code.task, "grade_source", gate)
    yield gate
    gate.open()


def login(client, username="alice"):
    response = client.post("/auth/login", data={"username": username, "password": WEB_PASSWORD})
    assert response.status_code == 302


def post_code(client, source: str, token: str | None = None, exercise: str = EXERCISE):
    """POST the code form; `token` None sends a fresh one, False sends none."""
    data = {"source": source}
    if token is not False:
        data["request_token"] = secrets.token_urlsafe(32) if token is None else token
    return client.post(f"/code/{exercise}", data=data)


def submission_id(response) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.headers["Location"].rstrip("/").split("/")[-1])


def row_of(app, sid: int) -> CodeSubmission:
    with session_factory(app)() as session:
        return session.get(CodeSubmission, sid)


def user_id(app, username: str) -> int:
    with session_factory(app)() as session:
        return session.scalar(select(User.id).where(User.username == username))


def add_row(app, username="alice", **values) -> int:
    with session_factory(app)() as session:
        row = CodeSubmission(user_id=user_id(app, username), exercise=EXERCISE,
                             source="x = 1\n", **values)
        session.add(row)
        session.commit()
        return row.id


# --- 3. at most one job in flight per student and exercise -----------------------------------

def test_a_second_submission_waits_behind_the_first_and_starts_when_it_finishes(
        make_app, gate):
    app = make_app(GRADING_WORKERS=2)
    alice = app.test_client()
    login(alice)
    first = submission_id(post_code(alice, "# block\n"))
    assert gate.entered.wait(timeout=60)
    second = submission_id(post_code(alice, "# second\n"))

    row = row_of(app, second)
    assert (row.status, row.heartbeat_at, row.tries) == ("queued", None, 0)  # not handed over
    page = alice.get(f"/code/submissions/{second}").get_data(as_text=True)
    assert WAITING_MESSAGE in page
    status = alice.get(f"/code/submissions/{second}/status").get_json()
    assert status["waiting_for_earlier"] is True and status["message"] == WAITING_MESSAGE
    assert row_of(app, first).status == "grading"

    gate.open()
    get_pool(app).wait_all(timeout=120)
    first_row, second_row = row_of(app, first), row_of(app, second)
    assert (first_row.status, second_row.status) == ("done", "done")
    assert second_row.started_at >= first_row.finished_at
    assert WAITING_MESSAGE not in alice.get(f"/code/submissions/{second}").get_data(as_text=True)


def test_one_students_waiting_jobs_do_not_hold_up_another_student(make_app, gate):
    app = make_app(GRADING_WORKERS=2)
    alice, bob = app.test_client(), app.test_client()
    login(alice)
    login(bob, "bob")
    blocked = submission_id(post_code(alice, "# block\n"))
    assert gate.entered.wait(timeout=60)
    waiting = [submission_id(post_code(alice, f"# again {n}\n")) for n in range(3)]
    bobs = submission_id(post_code(bob, "# bob\n"))
    pool = get_pool(app)
    deadline_ok = _poll(lambda: row_of(app, bobs).status == "done", 120)
    assert deadline_ok, "bob's submission was not graded while alice's first one was in flight"
    assert row_of(app, blocked).status == "grading"
    assert {row_of(app, sid).status for sid in waiting} == {"queued"}
    gate.open()
    pool.wait_all(timeout=120)
    assert {row_of(app, sid).status for sid in [blocked, *waiting]} == {"done"}


def _poll(condition, timeout: float) -> bool:
    from web.code.task import wait_until

    return wait_until(condition, timeout)


# --- 4. idempotent code submits ----------------------------------------------------------------

@pytest.fixture(params=["sqlite", "postgresql"])
def backend_app(request, make_app, web_template):
    """The app on SQLite, or on a fresh PostgreSQL database with the same test users."""
    if request.param == "sqlite":
        yield make_app()
        return
    from tests.conftest import _add_web_users
    from tests.test_crash import load, postgres_url_or_skip
    from web.db import upgrade_database

    url = postgres_url_or_skip()
    upgrade_database(url)
    _add_web_users(url)
    app = make_app(DATABASE_URL=url)
    yield app
    get_pool(app).shutdown()
    app.extensions["stride_engine"].dispose()
    load.drop_pg_database(url.rsplit("/", 1)[1])


def _count(app) -> int:
    with session_factory(app)() as session:
        return session.scalar(select(func.count(CodeSubmission.id)))


def test_the_form_carries_a_fresh_token_and_the_same_token_twice_is_one_submission(
        backend_app):
    client = backend_app.test_client()
    login(client)
    page = client.get(f"/code/{EXERCISE}").get_data(as_text=True)
    import re

    tokens = re.findall(r'name="request_token" value="([A-Za-z0-9_-]{43})"', page)
    assert len(tokens) == 1
    assert tokens[0] not in client.get(f"/code/{EXERCISE}").get_data(as_text=True)
    first = submission_id(post_code(client, "x = 1\n", tokens[0]))
    again = post_code(client, "x = 1\n", tokens[0])
    assert submission_id(again) == first and _count(backend_app) == 1
    assert "This form was already sent" in client.get(
        again.headers["Location"]).get_data(as_text=True)
    get_pool(backend_app).wait_all(timeout=120)


def test_a_duplicate_that_races_past_the_lookup_hits_the_unique_constraint(
        backend_app, monkeypatch):
    """Two posts of one form at once: both miss the lookup; the database keeps one row."""
    import web.code.views

    client = backend_app.test_client()
    login(client)
    token = secrets.token_urlsafe(32)
    first = submission_id(post_code(client, "x = 1\n", token))
    real, calls = web.code.views._by_token, []

    def miss_once(session, value):
        calls.append(value)
        return None if len(calls) == 1 else real(session, value)

    monkeypatch.setattr(web.code.views, "_by_token", miss_once)
    assert submission_id(post_code(client, "x = 1\n", token)) == first
    assert len(calls) == 2 and _count(backend_app) == 1
    get_pool(backend_app).wait_all(timeout=120)


@pytest.mark.parametrize("token", [False, "", "short", "x" * 65, "not/a/token/at/all/!!!!!",
                                   "a" * 21])
def test_a_missing_or_malformed_token_is_refused_with_a_clear_message(app, token):
    client = app.test_client()
    login(client)
    response = post_code(client, "x = 1\n", token)
    assert response.status_code == 400
    assert "missing its submission token" in response.get_data(as_text=True)
    assert _count(app) == 0


# --- 5. no stuck jobs --------------------------------------------------------------------------

def test_a_stalled_job_is_requeued_once_then_failed_with_a_message(app):
    pool = get_pool(app)
    now = utcnow()
    fresh = add_row(app, status="grading", tries=1, heartbeat_at=now)
    retry = add_row(app, "bob", status="grading", tries=1, heartbeat_at=now)
    assert pool.reap(now=now + timedelta(seconds=pool.timing.stale_after_s - 1)) == 0
    assert pool.reap(now=now + timedelta(seconds=pool.timing.stale_after_s + 1)) == 2
    pool.wait_all(timeout=120)
    for sid in (fresh, retry):  # requeued and graded: their second try
        row = row_of(app, sid)
        assert (row.status, row.tries, row.error) == ("done", 2, None)

    given_up = add_row(app, status="grading", tries=2, heartbeat_at=now)
    behind = add_row(app, status="queued")  # alice's next one waits behind it
    assert pool.reap(now=now + timedelta(minutes=5)) == 1
    pool.wait_all(timeout=120)
    row = row_of(app, given_up)
    assert (row.status, row.error) == ("failed", STALLED_MESSAGE)
    assert row_of(app, behind).status == "done"  # the failure started the next one


def test_a_job_handed_to_a_pool_that_died_is_requeued(app):
    """Handed over (heartbeat set) but never started, and its pool went silent."""
    old = utcnow() - timedelta(minutes=5)
    sid = add_row(app, status="queued", heartbeat_at=old)
    assert get_pool(app).reap() == 1
    get_pool(app).wait_all(timeout=120)
    row = row_of(app, sid)
    assert (row.status, row.tries) == ("done", 1)


def test_the_status_poll_itself_fails_a_job_that_stalled_twice(app):
    sid = add_row(app, status="grading", tries=2, heartbeat_at=utcnow() - timedelta(minutes=5))
    client = app.test_client()
    login(client)
    status = client.get(f"/code/submissions/{sid}/status").get_json()
    assert (status["status"], status["done"]) == ("failed", True)
    assert STALLED_MESSAGE in client.get(f"/code/submissions/{sid}").get_data(as_text=True)


def test_the_pools_monitor_reaps_without_any_request(make_app):
    app = make_app(GRADING_HEARTBEAT_S=0.05, GRADING_STALE_S=0.5)
    pool = get_pool(app)
    assert pool.timing == JobTiming(0.05, 0.5, 2)
    sid = add_row(app, status="grading", tries=1, heartbeat_at=utcnow() - timedelta(minutes=1))
    pool.start_monitor()
    assert _poll(lambda: row_of(app, sid).status == "done", 120)
    assert row_of(app, sid).tries == 2


def test_a_grading_job_refreshes_its_heartbeat(make_app, gate):
    app = make_app(GRADING_HEARTBEAT_S=0.05)
    client = app.test_client()
    login(client)
    sid = submission_id(post_code(client, "# block\n"))
    assert gate.entered.wait(timeout=60)
    first = row_of(app, sid).heartbeat_at
    assert _poll(lambda: row_of(app, sid).heartbeat_at > first, 30)
    assert get_pool(app).reap() == 0  # alive: left alone
    gate.open()
    get_pool(app).wait_all(timeout=120)
    assert row_of(app, sid).status == "done"


def test_recover_stale_jobs_reads_redis_url_from_the_app_config_like_init_app(
        make_app, monkeypatch):
    monkeypatch.delenv("REDIS_URL", raising=False)
    queued = make_app(REDIS_URL="redis://127.0.0.1:1/0")  # never contacted here
    sid = add_row(queued, status="grading", tries=1, heartbeat_at=utcnow())
    assert recover_stale_jobs(session_factory(queued)) == 0
    assert row_of(queued, sid).status == "grading"
    pooled = make_app()  # the same database, graded in-process: a restart fails both rows
    assert isinstance(get_pool(pooled), GradingPool)
    add_row(pooled, status="grading", tries=1, heartbeat_at=utcnow())
    assert recover_stale_jobs(session_factory(pooled)) == 2
    assert row_of(pooled, sid).status == "failed"


# --- 6. course walls on code views -------------------------------------------------------------

@pytest.fixture
def two_courses(app):
    """Test course (ines teaches alice and bob) and a second course: olga teaches carl, and
    tess is a TA there."""
    from werkzeug.security import generate_password_hash

    cheap = generate_password_hash(WEB_PASSWORD, method="pbkdf2:sha256:1000")
    with session_factory(app)() as session:
        other = Course(name="Other course", join_code="other-join")
        for name, role, course_role in (("olga", "instructor", "instructor"),
                                        ("carl", "student", "student"),
                                        ("tess", "student", "ta")):
            user = User(username=name, password_hash=cheap, role=role)
            session.add_all([user, Enrollment(user=user, course=other, role=course_role)])
        session.commit()
    return {"alice": add_row(app, "alice", status="done"),
            "carl": add_row(app, "carl", status="done")}


@pytest.mark.parametrize(("viewer", "visible"), [
    ("alice", {"alice"}), ("bob", set()), ("carl", {"carl"}),
    ("ines", {"alice"}), ("olga", {"carl"}), ("tess", {"carl"})])
def test_code_submissions_are_seen_only_inside_the_course_walls(app, two_courses, viewer,
                                                               visible):
    client = app.test_client()
    login(client, viewer)
    for owner, sid in two_courses.items():
        for url in (f"/code/submissions/{sid}", f"/code/submissions/{sid}/status"):
            response = client.get(url)
            expected = 200 if owner in visible else 404
            assert response.status_code == expected, f"{viewer} GET {url}"
            if expected == 404 and not url.endswith("/status"):
                assert "among the ones you can see" in response.get_data(as_text=True)


# --- 7. private database files -------------------------------------------------------------

def test_the_sqlite_files_are_created_readable_by_their_owner_only(tmp_path):
    from sqlalchemy import text

    from web.db import WriteGate, make_engine

    url = f"sqlite:///{tmp_path / 'fresh' / 'stride.sqlite'}"
    engine = make_engine(url)
    with engine.connect() as connection:  # WAL: the -wal and -shm files exist while open
        connection.execute(text("CREATE TABLE t (x INTEGER)"))
        connection.execute(text("INSERT INTO t VALUES (1)"))
        connection.commit()
        with WriteGate(url).hold():
            names = ("stride.sqlite", "stride.sqlite-wal", "stride.sqlite-shm",
                     "stride.sqlite.write-lock")
            modes = {name: stat.S_IMODE((tmp_path / "fresh" / name).stat().st_mode)
                     for name in names}
    engine.dispose()
    assert modes == dict.fromkeys(names, 0o600)
    assert stat.S_IMODE((tmp_path / "fresh").stat().st_mode) == 0o700
