"""The app's startup rules, its CLI commands, `server.py --setup-demo`, and self-registration."""

from __future__ import annotations

import pytest
from sqlalchemy import select

import server
from server import create_app
from web.auth.accounts import get_user_by_username
from web.db import SchemaOutOfDate, make_engine, session_factory
from web.models import Course, Enrollment, User
from web.security import InsecureConfiguration


@pytest.mark.parametrize("key", [None, "", "dev"])
def test_refuses_to_start_in_production_with_the_default_secret(web_config, key):
    with pytest.raises(InsecureConfiguration, match="Refusing to start: SECRET_KEY"):
        create_app({**web_config, "TESTING": False, "SECRET_KEY": key})


def test_starts_in_debug_mode_without_a_secret(web_config):
    app = create_app({**web_config, "TESTING": False, "DEBUG": True, "SECRET_KEY": None})
    assert app.config["SECRET_KEY"] == "dev" and not app.config["SESSION_COOKIE_SECURE"]


def test_refuses_to_start_on_an_unmigrated_database(web_config, tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    with pytest.raises(SchemaOutOfDate, match=r"has no Stride tables yet.*server.py --migrate.*"
                                              r"flask --app server db-upgrade"):
        create_app({**web_config, "DATABASE_URL": url})


def test_db_upgrade_command_migrates_so_the_app_starts(web_config, tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.sqlite'}"
    config = {**web_config, "DATABASE_URL": url}
    unchecked = create_app({**config, "CHECK_SCHEMA": False})
    result = unchecked.test_cli_runner().invoke(args=["db-upgrade"])
    assert result.exit_code == 0, result.output
    assert "up to date" in result.output
    assert create_app(config).name == "server"


def test_sqlite_runs_in_wal_mode_with_foreign_keys(app):
    with app.extensions["stride_engine"].connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_create_user_command(app, runner):
    result = runner.invoke(args=["create-user", "dora", "--role", "instructor",
                                 "--password", "long-enough-1", "--course", "CNN 101"])
    assert result.exit_code == 0, result.output
    with session_factory(app)() as session:
        dora = session.scalar(select(User).where(User.username == "dora"))
        assert dora.role == "instructor" and len(dora.enrollments) == 1


@pytest.mark.parametrize(("args", "message"), [
    (["alice", "--password", "long-enough-1"], "already taken"),
    (["x y", "--password", "long-enough-1"], "is not allowed"),
    (["eve", "--password", "short"], "at least 8 characters"),
])
def test_create_user_command_explains_refusals(runner, args, message):
    result = runner.invoke(args=["create-user", *args])
    assert result.exit_code != 0 and message in result.output


def test_import_roster_creates_students_and_prints_generated_passwords(app, runner, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("username,display_name,password\nzoe,Zoe Z,zoe-password\n"
                      "yan,Yan Y,\nalice,Alice,\n")
    result = runner.invoke(args=["import-roster", str(roster), "--course", "CNN 101"])
    assert result.exit_code == 0, result.output
    assert "2 new, 1 already had accounts" in result.output
    assert "username,password" in result.output and "\nyan," in result.output
    assert "zoe," not in result.output.split("username,password")[1]
    with session_factory(app)() as session:
        course = session.scalar(select(Course).where(Course.name == "CNN 101"))
        enrolled = session.scalars(select(User.username).join(Enrollment).where(
            Enrollment.course_id == course.id)).all()
    assert sorted(enrolled) == ["alice", "yan", "zoe"]


def test_import_roster_names_the_bad_line_and_imports_the_good_ones(app, runner, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("username\ngood_name\nbad name!\n")
    result = runner.invoke(args=["import-roster", str(roster), "--course", "C"])
    assert result.exit_code == 1 and "Roster line 3 (bad name!)" in result.output
    assert "1 new" in result.output and "the other rows were imported" in result.output
    with session_factory(app)() as session:
        assert get_user_by_username(session, "good_name") is not None
    result = runner.invoke(args=["import-roster", str(roster), "--course", "D",
                                 "--all-or-nothing"])
    assert result.exit_code == 1 and "nothing was imported" in result.output


def test_import_roster_needs_a_username_column(runner, tmp_path):
    roster = tmp_path / "roster.csv"
    roster.write_text("name,email\nA,a@example.org\n")
    result = runner.invoke(args=["import-roster", str(roster), "--course", "C"])
    assert result.exit_code != 0 and "'username' column" in result.output


def test_self_registration_with_the_join_code(app, client):
    response = client.post("/auth/register", data={
        "join_code": "join-me", "username": "newbie", "display_name": "New Bie",
        "password": "long-enough-1", "confirm": "long-enough-1"})
    assert response.status_code == 302
    assert "New Bie" in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize(("fields", "message"), [
    ({"join_code": "wrong"}, "does not match a course"),
    ({"confirm": "different-1"}, "two passwords differ"),
    ({"username": "alice"}, "already taken"),
    ({"password": "short", "confirm": "short"}, "at least 8 characters"),
])
def test_self_registration_refusals(app, client, fields, message):
    data = {"join_code": "join-me", "username": "newbie", "password": "long-enough-1",
            "confirm": "long-enough-1", **fields}
    response = client.post("/auth/register", data=data)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    with session_factory(app)() as session:
        assert session.scalar(select(User).where(User.username == "newbie")) is None


# --- server.py --------------------------------------------------------------------------------

@pytest.fixture
def fresh_instance(tmp_path, monkeypatch, web_template):
    instance = tmp_path / "instance"
    monkeypatch.setattr(server, "INSTANCE", instance)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("STRIDE_SECRET_KEY", raising=False)
    monkeypatch.delenv("STRIDE_INSTANCE_PATH", raising=False)
    return instance


def test_setup_demo_prepares_everything_idempotently(fresh_instance, capsys):
    server.main(["--setup-demo", "--check-only"])
    server.main(["--setup-demo", "--check-only"])
    assert "Stride is ready to serve." in capsys.readouterr().out
    assert len((fresh_instance / "secret_key").read_text()) == 64
    engine = make_engine(f"sqlite:///{fresh_instance / 'stride.sqlite'}")
    with engine.connect() as connection:
        users = connection.exec_driver_sql(
            "SELECT username, role FROM user_account ORDER BY username").all()
        answers = connection.exec_driver_sql("SELECT count(*) FROM submission").scalar()
    engine.dispose()
    assert users == [("alice", "student"), ("bob", "student"), ("carol", "student"),
                     ("dan", "student"), ("erin", "student"), ("instructor", "instructor")]
    assert answers > 0  # the demo's instructor pages have content on first run


def test_server_refuses_an_unmigrated_database_with_what_to_run(fresh_instance, monkeypatch):
    monkeypatch.setenv("STRIDE_SECRET_KEY", "a-real-secret-key")
    with pytest.raises(SystemExit, match="flask --app server db-upgrade"):
        server.main(["--check-only"])


def test_server_refuses_to_run_without_a_secret(fresh_instance, monkeypatch):
    from web.db import upgrade_database

    upgrade_database(f"sqlite:///{fresh_instance / 'stride.sqlite'}")
    with pytest.raises(SystemExit, match="Refusing to start"):
        server.main(["--check-only"])


def test_app_loaded_by_the_flask_cli_answers_503_until_migrated(web_config, tmp_path):
    import click

    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    with click.Context(click.Command("run")):  # as under `flask --app server run`
        app = create_app({**web_config, "DATABASE_URL": url})
    response = app.test_client().get("/auth/login")
    assert response.status_code == 503
    assert "flask --app server db-upgrade" in response.get_data(as_text=True)


def test_a_broken_bank_is_explained_to_instructors_and_students(make_app, tmp_path, web_template):
    import shutil

    problems = tmp_path / "problems"
    shutil.copytree(web_template / "problems", problems)
    (problems / "broken.yaml").write_text("id: broken\ntitle: Broken\n")
    app = make_app(PROBLEMS_DIR=str(problems))
    app.extensions.pop("stride_bank")
    client = app.test_client()
    client.post("/auth/login", data={"username": "alice", "password": "correct-horse-1"})
    response = client.get("/")  # the rest of the course stays up (tests/test_bank_publish.py)
    assert response.status_code == 200
    client.post("/auth/logout")
    client.post("/auth/login", data={"username": "ines", "password": "correct-horse-1"})
    page = client.get("/instructor/").get_data(as_text=True)
    assert "broken.yaml" in page and 'id="unavailable"' in page


def test_behind_a_proxy_the_client_address_comes_from_forwarded_headers(make_app):
    from flask import request

    app = make_app(TRUSTED_PROXIES=1)

    @app.get("/_addr")
    def _addr():
        return request.remote_addr

    client = app.test_client()
    assert client.get("/_addr", headers={"X-Forwarded-For": "203.0.113.9"}).text == "203.0.113.9"


@pytest.mark.parametrize(("url", "expected"), [
    ("postgres://u:p@h/db", "postgresql+psycopg://u:p@h/db"),
    ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ("sqlite:///x.sqlite", "sqlite:///x.sqlite"),
])
def test_database_urls_use_the_declared_driver(url, expected):
    from web.db import normalize_url

    assert normalize_url(url) == expected


def test_migrations_match_the_models(app):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from web.models import Base

    with app.extensions["stride_engine"].connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_the_welcome_text_prints_the_url_and_demo_logins(capsys):
    import argparse

    from web.cli import DEMO_LOGINS

    server._print_welcome(argparse.Namespace(host="127.0.0.1", port=5000), DEMO_LOGINS)
    out = capsys.readouterr().out
    assert "http://127.0.0.1:5000/" in out
    for login in DEMO_LOGINS:
        assert f"{login.username:<10} password: {login.password}" in out


# --- the unsafe sandbox opt-out is shown to staff ----------------------------------------------

def _isolation(unsafe: bool):
    """The `grader.sandbox.Isolation` of an unsafe opt-out, or of working bubblewrap."""
    from grader.sandbox import Isolation

    if unsafe:
        return Isolation(mode="limits-only", reason="STRIDE_SANDBOX=unsafe-no-isolation",
                         unsafe_opt_out=True)
    return Isolation(mode="bwrap", reason=None, unsafe_opt_out=False)


@pytest.mark.parametrize("path", ["/", "/practice/", "/sets/open-set", "/auth/password"])
def test_staff_see_a_red_banner_on_every_page_when_the_sandbox_is_off(app, client, path):
    app.extensions["stride_isolation"] = isolation = _isolation(unsafe=True)
    client.post("/auth/login", data={"username": "ines", "password": "correct-horse-1"})
    page = client.get(path).get_data(as_text=True)
    assert 'class="flash flash-error banner-unsafe" role="alert"' in page
    assert "Student code runs without a sandbox." in page
    assert "read this server's files (the database, the secret key" in page
    assert isolation.warning().replace("'", "&#39;") in page


@pytest.mark.parametrize(("who", "unsafe"), [("alice", True), (None, True), ("ines", False),
                                              ("ines", None)])
def test_no_banner_for_students_visitors_or_a_working_sandbox(app, client, who, unsafe):
    if unsafe is not None:
        app.extensions["stride_isolation"] = _isolation(unsafe)
    if who:
        client.post("/auth/login", data={"username": who, "password": "correct-horse-1"})
    page = client.get("/practice/").get_data(as_text=True)
    assert "banner-unsafe" not in page and "without a sandbox" not in page
