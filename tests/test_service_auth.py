"""The suite's PostgreSQL and Redis refuse clients without the password (tests/services.py).

These are the settings docs/security.md asks of a deployment that runs student code: a client
that can reach the port but has no password gets nothing.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import pytest

REDIS_URL = os.environ.get("STRIDE_TEST_REDIS_URL", "")
PG_URL = os.environ.get("STRIDE_PG_ADMIN_URL", "")


def _without_password(url: str, replacement: str | None = None) -> str:
    parts = urlsplit(url)
    user = parts.username or ""
    auth = f"{user}:{replacement}@" if replacement is not None else (f"{user}@" if user else "")
    return urlunsplit(parts._replace(netloc=f"{auth}{parts.hostname}:{parts.port}"))


@pytest.mark.skipif(not urlsplit(REDIS_URL).password,
                    reason="the suite uses a Redis without a password (redis-server not found)")
def test_redis_refuses_a_client_without_the_password():
    from redis import Redis
    from redis.exceptions import AuthenticationError, ResponseError

    assert Redis.from_url(REDIS_URL).ping()
    for url in (_without_password(REDIS_URL), _without_password(REDIS_URL, "wrong")):
        with pytest.raises((AuthenticationError, ResponseError), match="(?i)auth|password"):
            Redis.from_url(url).ping()


@pytest.mark.skipif(not urlsplit(PG_URL).password,
                    reason="the suite uses a PostgreSQL without a password (initdb not found)")
def test_postgres_refuses_a_wrong_password():
    import psycopg

    plain = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain, connect_timeout=5) as connection:
        method = connection.execute("SHOW password_encryption").fetchone()[0]
    assert method == "scram-sha-256"
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(_without_password(plain, "wrong"), connect_timeout=5)
