"""Alembic environment: Stride's models' metadata and the app's database URL."""

from __future__ import annotations

import os
from pathlib import Path

from alembic import context

from web.db import default_database_url, make_engine, normalize_url
from web.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    instance = Path(__file__).resolve().parents[1] / "instance"
    return normalize_url(os.environ.get("DATABASE_URL") or default_database_url(instance))


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True,
                      render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(_url())
    with engine.connect() as connection:
        # Batch mode lets later migrations alter columns on SQLite, too.
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
