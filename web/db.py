"""The one home of the database: engine, sessions and migrations.

The engine and sessionmaker are built once per app (`init_app`); a view gets its request-scoped
session from `get_session()`, which is closed at teardown. Query functions take a session and never
commit; views and CLI commands own the transaction. Background jobs open their own session with
`session_factory(app)`.
"""

from __future__ import annotations

import fcntl
import os
import threading
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from grader.data_root import data_root

ROOT = data_root()  # the checkout, or the package data of an installed wheel
MIGRATIONS_DIR = ROOT / "migrations"
UPGRADE_HINT = "run `python server.py --migrate` (or `flask --app server db-upgrade`)"


class SchemaOutOfDate(RuntimeError):
    """The database has not been migrated to the revision this code expects."""


def normalize_url(url: str) -> str:
    """Bare PostgreSQL URLs (`postgres://`, `postgresql://`) use psycopg 3, our declared driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def default_database_url(instance_path: str | Path) -> str:
    return f"sqlite:///{Path(instance_path) / 'stride.sqlite'}"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout on every connection."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            _create_private_file(Path(url[len("sqlite:///"):].split("?", 1)[0]))
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _create_private_file(path: Path) -> None:
    """Create the SQLite file (and its folder) readable by this account only, unless it exists.

    The database holds password hashes and every answer. SQLite creates the `-wal` and `-shm`
    files with the database file's own permissions, so creating it 0600 covers them too.
    """
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


class WriteGate:
    """Queue a process's and its siblings' SQLite writers so that each wakes as the lock frees.

    SQLite takes one writer at a time; a blocked writer polls in its busy handler, sleeping 1, 2,
    5, 10 ms... between tries, so under contention the lock sits free while writers sleep. The gate
    holds a thread lock (writers of this process) and an `flock` on a file beside the database
    (writers of other processes), both of which wake the next writer at once. No-op elsewhere.
    """

    def __init__(self, url: str):
        self._path = None
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            self._path = url[len("sqlite:///"):] + ".write-lock"
        self._thread_lock = threading.Lock()
        self._fd: int | None = None
        self._pid = 0

    def _file(self) -> int:
        if self._pid != os.getpid():  # opened per process: an inherited descriptor shares its lock
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd

    @contextmanager
    def hold(self):
        if self._path is None:
            yield
            return
        with self._thread_lock:
            fd = self._file()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)


def write_gate():
    """Context manager around a short write transaction of the current app (see `WriteGate`)."""
    return current_app.extensions["stride_write_gate"].hold()


def init_app(app: Flask) -> None:
    """Build the engine and sessionmaker once and close request sessions at teardown."""
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["stride_engine"] = engine
    app.extensions["stride_write_gate"] = WriteGate(normalize_url(app.config["DATABASE_URL"]))
    app.extensions["stride_sessionmaker"] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(close_session)


def session_factory(app: Flask) -> sessionmaker[Session]:
    return app.extensions["stride_sessionmaker"]


def get_session() -> Session:
    """The request-scoped session (created on first use, closed at teardown)."""
    if "db_session" not in g:
        g.db_session = session_factory(current_app)()
    return g.db_session


def close_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


# --- migrations -----------------------------------------------------------------------------

def alembic_config(url: str):
    config = Config(str(ROOT / "alembic.ini")) if (ROOT / "alembic.ini").exists() else Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", normalize_url(url).replace("%", "%%"))
    return config


def upgrade_database(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` to `revision` (creating it if needed)."""
    make_engine(url).dispose()  # creates the SQLite file's folder
    command.upgrade(alembic_config(url), revision)


def head_revision(url: str) -> str | None:
    return ScriptDirectory.from_config(alembic_config(url)).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def check_schema_current(engine: Engine, url: str) -> None:
    """Raise `SchemaOutOfDate` with what to run unless the database is at the head revision."""
    head = head_revision(url)
    current = current_revision(engine)
    if current != head:
        where = "has no Stride tables yet" if current is None else f"is at revision {current}"
        raise SchemaOutOfDate(
            f"The database {engine.url.render_as_string(hide_password=True)} {where}, "
            f"but this version of Stride needs revision {head}: {UPGRADE_HINT}."
        )
