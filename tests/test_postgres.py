"""The model and query suite on PostgreSQL (psycopg 3), plus the migrations on both backends.

The web tests of students and instructors (every model and query they use) are imported here and run again with
`web_config` pointing at PostgreSQL (their own modules run them on SQLite), so every model and
query they exercise is checked on both backends. The session migrates its own database
(`stride_test_<random>`, dropped at the end) and every test starts from emptied tables. PostgreSQL is expected at
127.0.0.1:5432, user postgres, trust auth (`STRIDE_PG_ADMIN_URL` overrides); the tests skip with
the reason when it is unreachable and fail under STRIDE_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from tests.conftest import REQUIRE_SERVICES
from web.db import (
    SchemaOutOfDate,
    check_schema_current,
    head_revision,
    make_engine,
    upgrade_database,
)

ADMIN_URL = os.environ.get("STRIDE_PG_ADMIN_URL",
                           "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
pytestmark = pytest.mark.services


def _admin(sql: str) -> None:
    engine = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(sql))
    finally:
        engine.dispose()


def _url(name: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def _create_or_skip(name: str, template: str | None = None) -> str:
    clause = f' TEMPLATE "{template}"' if template else ""
    try:
        _admin(f'CREATE DATABASE "{name}"{clause}')
    except OperationalError as exc:
        if REQUIRE_SERVICES:
            pytest.fail(f"PostgreSQL at {ADMIN_URL} is required but unreachable: {exc}")
        pytest.skip(f"PostgreSQL at {ADMIN_URL} is unreachable: {exc}")
    return _url(name)


def _drop(name: str) -> None:
    _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_database(web_template):
    """One migrated PostgreSQL database for the session, emptied again after every test."""
    name = f"stride_test_{secrets.token_hex(6)}"
    url = _create_or_skip(name)
    upgrade_database(url)
    yield url
    _drop(name)


def _reset(url: str) -> None:
    """Empty every Stride table and put back the test users (faster than a fresh database)."""
    from tests.conftest import _add_web_users
    from web.models import Base

    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    engine = make_engine(url)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()
    _add_web_users(url)


@pytest.fixture
def web_config(web_template, pg_database):
    """Overrides conftest's `web_config`: the same app settings on PostgreSQL."""
    _reset(pg_database)
    return {
        "TESTING": True, "SECRET_KEY": "test-secret", "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False, "DATABASE_URL": pg_database,
        "PROBLEMS_DIR": str(web_template / "problems"), "GRADING_WORKERS": 1,
    }


# The model/query suite, collected again here with the PostgreSQL `web_config` above.
from tests.test_web_instructor import *  # noqa: E402,F403
from tests.test_web_student import *  # noqa: E402,F403


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.sqlite'}"
        return
    name = f"stride_test_{secrets.token_hex(6)}"
    yield _create_or_skip(name)
    _drop(name)


def test_the_same_migrations_reach_head_on_both_backends(empty_database):
    engine = make_engine(empty_database)
    try:
        with pytest.raises(SchemaOutOfDate, match="has no Stride tables yet"):
            check_schema_current(engine, empty_database)
        upgrade_database(empty_database)
        check_schema_current(engine, empty_database)
        with engine.connect() as connection:
            version = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        assert version == head_revision(empty_database)
    finally:
        engine.dispose()


def test_timestamps_come_back_as_aware_utc_on_both_backends(empty_database):
    from sqlalchemy.orm import Session

    from web.models import User

    upgrade_database(empty_database)
    engine = make_engine(empty_database)
    moment = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)
    try:
        with Session(engine) as session:
            session.add(User(username="zed", password_hash="x", created_at=moment))
            session.commit()
        with Session(engine) as session:
            stored = session.query(User).filter_by(username="zed").one().created_at
        assert stored == moment and stored.tzinfo is not None
    finally:
        engine.dispose()


def test_database_url_selects_psycopg_3(pg_database):
    engine = make_engine(pg_database)
    try:
        assert engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"
    finally:
        engine.dispose()


def test_the_imported_suite_gets_a_postgresql_app(app):
    assert app.extensions["stride_engine"].dialect.name == "postgresql"
