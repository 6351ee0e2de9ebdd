"""`server.py --migrate`, the production start-up step of `make serve`."""

from __future__ import annotations

import pytest

import server
from web.db import current_revision, head_revision, make_engine


@pytest.fixture
def instance(tmp_path, monkeypatch):
    path = tmp_path / "instance"
    monkeypatch.setattr(server, "INSTANCE", path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("STRIDE_SECRET_KEY", raising=False)
    return path


def _tables(url: str) -> tuple[str | None, list[tuple], list[tuple]]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            users = connection.exec_driver_sql("SELECT username FROM user_account").all()
            courses = connection.exec_driver_sql("SELECT name FROM course").all()
        return current_revision(engine), users, courses
    finally:
        engine.dispose()


def test_migrate_creates_the_schema_and_key_but_no_accounts(instance, capsys):
    server.main(["--migrate"])
    server.main(["--migrate"])  # a restart finds everything in place
    out = capsys.readouterr().out
    assert out.count("Stride is ready to serve.") == 2 and "password" not in out
    assert len((instance / "secret_key").read_text()) == 64
    url = f"sqlite:///{instance / 'stride.sqlite'}"
    assert _tables(url) == (head_revision(url), [], [])


def test_migrate_uses_database_url_and_the_configured_key(instance, tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'elsewhere.sqlite'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("STRIDE_SECRET_KEY", "a-real-secret-key")
    server.main(["--migrate"])
    assert _tables(url) == (head_revision(url), [], [])
    assert not (instance / "secret_key").exists() and not (instance / "stride.sqlite").exists()


def test_migrate_and_setup_demo_cannot_be_combined(instance, capsys):
    with pytest.raises(SystemExit):
        server.main(["--migrate", "--setup-demo"])
    assert "not allowed with argument" in capsys.readouterr().err
    assert not instance.exists()


def test_without_a_working_sandbox_the_server_refuses_to_start_with_one_line(instance,
                                                                            monkeypatch):
    monkeypatch.setenv("STRIDE_BWRAP", "/nonexistent")
    monkeypatch.delenv("STRIDE_SANDBOX", raising=False)
    with pytest.raises(SystemExit) as stopped:
        server.main(["--migrate"])
    message = str(stopped.value.code)
    assert message.startswith("error: Grading other people's code needs bubblewrap")
    assert "apt-get install bubblewrap" in message and "STRIDE_SANDBOX=unsafe-no-isolation" in message
