"""Private, password-protected PostgreSQL and Redis servers for the test session.

A host that runs student code must not trust its database or its queue without credentials
(docs/security.md), so the suite does not either: at start it launches its own Redis with a
random `requirepass` and its own PostgreSQL cluster with `scram-sha-256` authentication and a
random password, on free ports of 127.0.0.1, and points the suite at them through
`STRIDE_TEST_REDIS_URL` and `STRIDE_PG_ADMIN_URL` (URLs with the credentials). Both are stopped,
and their folders removed, when the session ends.

When a binary is missing (a developer's machine without the server packages), the suite falls
back to the machine's own services at 127.0.0.1:6379 and :5432 and says so once. Variables
already set by the caller always win.
"""

from __future__ import annotations

import atexit
import glob
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

START_TIMEOUT_S = 30.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _note(text: str) -> None:
    print(f"tests/services.py: {text}", file=sys.stderr)


def _wait_for(check, what: str) -> None:
    """Poll `check()` until it is true, for at most START_TIMEOUT_S (a server starting up)."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start within {START_TIMEOUT_S:.0f} s")
        time.sleep(0.05)


def _redis_answers(port: int, password: str) -> bool:
    from redis import Redis
    from redis.exceptions import RedisError

    try:
        return bool(Redis(host="127.0.0.1", port=port, password=password,
                          socket_connect_timeout=0.5).ping())
    except RedisError:
        return False


def start_redis(workdir: Path) -> str | None:
    """A private Redis with a password; its URL, or None when redis-server is missing."""
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    port, password = _free_port(), secrets.token_hex(16)
    proc = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--requirepass", password,
         "--save", "", "--appendonly", "no", "--dir", str(workdir), "--protected-mode", "yes"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    atexit.register(_stop, proc)
    _wait_for(lambda: _redis_answers(port, password), "the private Redis")
    return f"redis://:{password}@127.0.0.1:{port}/0"


def _postgres_bin() -> Path | None:
    for candidate in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if (Path(candidate) / "initdb").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    return Path(found).parent if found else None


def _as_postgres_user(cmd: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the `postgres` account then."""
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", "postgres", "--", *cmd]


def start_postgres(workdir: Path) -> str | None:
    """A private PostgreSQL cluster with scram-sha-256; its admin URL, or None without initdb."""
    bindir = _postgres_bin()
    if bindir is None or (os.geteuid() == 0 and shutil.which("runuser") is None):
        return None
    data, password = workdir / "pgdata", secrets.token_hex(16)
    pwfile = workdir / "pgpass"
    pwfile.write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(workdir, "postgres")
        shutil.chown(pwfile, "postgres")
    subprocess.run(_as_postgres_user(
        [str(bindir / "initdb"), "-D", str(data), "-U", "stride_admin", "--auth=scram-sha-256",
         f"--pwfile={pwfile}", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"]),
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    pwfile.unlink()
    port = _free_port()
    proc = subprocess.Popen(_as_postgres_user(
        [str(bindir / "postgres"), "-D", str(data), "-p", str(port), "-k", str(workdir),
         "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "max_connections=200",
         "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    atexit.register(_stop, proc)
    url = f"postgresql+psycopg://stride_admin:{password}@127.0.0.1:{port}/postgres"
    _wait_for(lambda: _postgres_answers(url), "the private PostgreSQL")
    return url


def _postgres_answers(url: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"),
                             connect_timeout=1):
            return True
    except psycopg.Error:
        return False


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def start_private_services() -> None:
    """Start both (unless configured already) and export their URLs; once per test session."""
    if os.environ.get("STRIDE_TEST_PRIVATE_SERVICES") == "0" or (
            "STRIDE_TEST_REDIS_URL" in os.environ and "STRIDE_PG_ADMIN_URL" in os.environ):
        return
    workdir = Path(tempfile.mkdtemp(prefix="stride-test-services-"))
    atexit.register(shutil.rmtree, workdir, True)
    if "STRIDE_TEST_REDIS_URL" not in os.environ:
        url = start_redis(workdir)
        if url:
            os.environ["STRIDE_TEST_REDIS_URL"] = url
        else:
            _note("redis-server not found: using the Redis at 127.0.0.1:6379")
    if "STRIDE_PG_ADMIN_URL" not in os.environ:
        try:
            url = start_postgres(workdir)
        except (OSError, subprocess.CalledProcessError, RuntimeError) as exc:
            _note(f"could not start a private PostgreSQL ({exc}): using 127.0.0.1:5432")
            url = None
        if url:
            os.environ["STRIDE_PG_ADMIN_URL"] = url
        elif _postgres_bin() is None:
            _note("initdb not found: using the PostgreSQL at 127.0.0.1:5432")
