"""The SQLite write gate and the per-request user load (web/db.py, web/security.py)."""

from __future__ import annotations

import fcntl
import os
import threading

import pytest

from web.db import WriteGate


def _lock_is_free(path: str) -> bool:
    """Try the gate's file lock from a separate open file (as another process would)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


def test_gate_holds_a_file_lock_other_processes_see(tmp_path):
    database = tmp_path / "stride.sqlite"
    gate = WriteGate(f"sqlite:///{database}")
    lock_file = f"{database}.write-lock"
    with gate.hold():
        assert not _lock_is_free(lock_file)
    assert _lock_is_free(lock_file)


def test_gate_releases_its_lock_when_the_write_fails(tmp_path):
    database = tmp_path / "stride.sqlite"
    gate = WriteGate(f"sqlite:///{database}")
    with pytest.raises(RuntimeError, match="write failed"), gate.hold():
        raise RuntimeError("write failed")
    assert _lock_is_free(f"{database}.write-lock")
    with gate.hold():  # and the thread lock is free again too
        pass


def test_gate_queues_threads_of_one_process(tmp_path):
    gate = WriteGate(f"sqlite:///{tmp_path / 'stride.sqlite'}")
    second_entered = threading.Event()
    order: list[str] = []

    def second() -> None:
        with gate.hold():
            order.append("second in")
            second_entered.set()

    with gate.hold():
        thread = threading.Thread(target=second)
        thread.start()
        # While the first writer holds the gate, the second must not get in.
        assert not second_entered.wait(timeout=0.2)
        order.append("first out")
    thread.join(timeout=10)
    assert order == ["first out", "second in"]


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "postgresql+psycopg://db.example/stride"])
def test_gate_is_a_no_op_without_a_sqlite_file(url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    gate = WriteGate(url)
    with gate.hold(), gate.hold():  # nested: no lock is taken at all
        pass
    assert list(tmp_path.iterdir()) == []


def test_current_user_is_loaded_per_request_and_deactivation_takes_effect(app, client, auth):
    from sqlalchemy import update

    from web.db import session_factory
    from web.models import User

    auth.login("alice")
    assert client.get("/").status_code == 200
    with session_factory(app)() as session:
        session.execute(update(User).where(User.username == "alice").values(active=False))
        session.commit()
    response = client.get("/")
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


def test_signed_in_user_speaks_the_login_protocol():
    from web.security import SignedInUser

    user = SignedInUser(7, "alice", "", "student")
    assert (user.get_id(), user.name, user.is_instructor) == ("7", "alice", False)
    assert user.is_authenticated and user.is_active and not user.is_anonymous
    teacher = SignedInUser(8, "ines", "Ines Ortiz", "instructor")
    assert (teacher.name, teacher.is_instructor) == ("Ines Ortiz", True)
    with pytest.raises(AttributeError):
        teacher.role = "student"  # frozen


@pytest.mark.parametrize(("environment", "threads"), [
    ({}, 1),
    ({"DATABASE_URL": "sqlite:////srv/stride/stride.sqlite"}, 1),
    ({"DATABASE_URL": "postgresql+psycopg://stride@db/stride"}, 4),
    ({"DATABASE_URL": "postgres://stride@db/stride"}, 4),
    ({"DATABASE_URL": "postgres://stride@db/stride", "GUNICORN_THREADS": "2"}, 2),
])
def test_gunicorn_threads_follow_the_database(environment, threads, monkeypatch):
    """One thread per worker on SQLite (the GIL and the write lock), four on PostgreSQL."""
    from pathlib import Path

    for name in ("DATABASE_URL", "GUNICORN_THREADS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    conf = Path(__file__).resolve().parents[1] / "gunicorn.conf.py"
    settings: dict = {}
    exec(compile(conf.read_text(), str(conf), "exec"), settings)  # noqa: S102 - our own config file
    assert settings["threads"] == threads
    assert settings["worker_class"] == "gthread"


def test_warm_up_loads_the_bank_and_freezes_it_and_a_reload_lets_the_old_bank_go(app):
    """Frozen objects are out of the cycle collector's reach, not of reference counting: a
    reloaded bank frees the old one (no leak per reload)."""
    import gc
    import weakref

    from server import warm_up
    from web.bank import reload_bank

    app.extensions.pop("stride_bank", None)
    try:
        warm_up(app)
        assert gc.get_freeze_count() > 0
        old = weakref.ref(app.extensions["stride_bank"])
        with app.app_context():
            new = reload_bank().bank
        assert new is app.extensions["stride_bank"]
        assert old() is None
    finally:
        gc.unfreeze()
