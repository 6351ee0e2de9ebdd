"""Load test: simulated students sign in and submit answers against gunicorn, on loopback only.

    .venv/bin/python benchmarks/load.py                      # 200 students, 60 s, SQLite then PostgreSQL
    .venv/bin/python benchmarks/load.py --students 20 --duration 5 --backend sqlite   # quick

Each student is a thread with its own keep-alive HTTP connection and cookie: it scrapes the CSRF
token from the sign-in form, signs in, then loops GET problem page (token) -> POST an answer.
The run is bounded by `--duration` and `--max-requests`. Afterwards the server is stopped and the
stored submissions are counted: stored must equal acknowledged (a 302 to the result), with no 5xx.

The database, the problem set (every integer problem, unlimited attempts) and the students are
created beforehand in a temporary folder; PostgreSQL runs use a fresh `stride_load_<random>`
database that is dropped afterwards. Rate limits are raised to 1,000,000/minute for the run
(a class of 200 behind one address would otherwise be throttled): the output says so.
Students get a cheap password hash (pbkdf2, 1000 rounds) so 200 sign-ins do not dominate.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
GUNICORN = Path(sys.executable).parent / "gunicorn"
PASSWORD = "load-test-pass-1"
SET_ID = "load-set"
GENEROUS = "1000000 per minute"
PG_ADMIN_URL = os.environ.get("STRIDE_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


# --- preparation -----------------------------------------------------------------------------

def integer_problems(problems_dir: Path) -> list[str]:
    from grader.bank import load_bank

    bank = load_bank(problems_dir)
    return sorted(p.id for p in bank.problems.values() if p.answer_type == "integer")


def prepare(workdir: Path, database_url: str, students: int) -> list[str]:
    """Problems copy with a load set, a migrated database and `students` enrolled accounts."""
    from sqlalchemy.orm import Session
    from werkzeug.security import generate_password_hash

    from web.auth.accounts import get_or_create_course
    from web.db import make_engine, upgrade_database
    from web.models import Enrollment, User

    problems = workdir / "problems"
    shutil.copytree(ROOT / "problems", problems)
    ids = integer_problems(problems)
    items = "".join(f"  - problem: {pid}\n    points: 1\n    attempts: 1000000\n" for pid in ids)
    (problems / "sets" / f"{SET_ID}.yaml").write_text(
        f"id: {SET_ID}\ntitle: Load set\ndue: 2999-01-01T00:00:00Z\nproblems:\n{items}")
    upgrade_database(database_url)
    engine = make_engine(database_url)
    cheap = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
    with Session(engine) as session:
        course = get_or_create_course(session, "Load course", "load-join")
        for n in range(students):
            user = User(username=f"student{n:04d}", password_hash=cheap, role="student")
            session.add_all([user, Enrollment(user=user, course=course)])
        session.commit()
    engine.dispose()
    return ids


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_spec(database_url: str, problems_dir: Path, **extra) -> str:
    config = {"DATABASE_URL": database_url, "PROBLEMS_DIR": str(problems_dir),
              "LOGIN_FAILURES_PER_ADDRESS": GENEROUS, "REGISTER_RATE_LIMIT": GENEROUS,
              "SUBMIT_RATE_LIMIT": GENEROUS, "CODE_RATE_LIMIT": GENEROUS, **extra}
    return f"server:create_app({config!r})"


def start_gunicorn(spec: str, port: int, workers: int, log_path: Path,
                   database_url: str | None = None) -> subprocess.Popen:
    """gunicorn with the repo's gunicorn.conf.py on 127.0.0.1:`port`, in its own process group.

    `database_url` is exported as DATABASE_URL, as a deployment would (gunicorn.conf.py picks the
    threads per worker from it); the app's own config in `spec` names the database either way.
    """
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "WEB_CONCURRENCY": str(workers),
           "STRIDE_SECRET_KEY": os.environ.get("STRIDE_SECRET_KEY", secrets.token_hex(32))}
    if database_url:
        env["DATABASE_URL"] = database_url
    env.pop("REDIS_URL", None)
    log = open(log_path, "ab")  # noqa: SIM115 - closed with the process by the caller's exit
    process = subprocess.Popen([str(GUNICORN), "-c", str(ROOT / "gunicorn.conf.py"), spec],
                               cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True)
    wait_ready(port, process, log_path)
    return process


def wait_ready(port: int, process: subprocess.Popen, log_path: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited: see {log_path}:\n{log_path.read_text()[-3000:]}")
        try:
            if Client(port).request("GET", "/auth/login")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server did not answer within {timeout} s; see {log_path}")


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
    process.wait(timeout=60)


# --- the client ------------------------------------------------------------------------------

class Client:
    """A keep-alive HTTP/1.1 client with a cookie jar of its own (Secure cookies included)."""

    def __init__(self, port: int, host: str = "127.0.0.1", tally: Tally | None = None) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"the load client only talks to loopback, not {host!r}")
        self.host, self.port = host, port
        self.cookies: dict[str, str] = {}
        self.tally = tally
        self._conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, form: dict | None = None):
        """(status, headers dict, body text); reconnects once if the connection was dropped."""
        body = urllib.parse.urlencode(form) if form is not None else None
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        for attempt in (0, 1):
            if self._conn is None:
                self._conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            try:
                self._conn.request(method, path, body=body, headers=headers)
                response = self._conn.getresponse()
                text = response.read().decode("utf-8", "replace")
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt or method != "GET":
                    raise
        if self.tally is not None:
            self.tally.add(time.perf_counter() - started, response.status)
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key.strip()] = rest.split(";", 1)[0]
        return response.status, {k.lower(): v for k, v in response.getheaders()}, text

    def csrf(self, path: str) -> str:
        status, _headers, text = self.request("GET", path)
        match = CSRF.search(text)
        if status != 200 or match is None:
            raise RuntimeError(f"GET {path} gave {status} without a CSRF token")
        return match.group(1)

    def login(self, username: str, password: str = PASSWORD) -> int:
        token = self.csrf("/auth/login")
        return self.request("POST", "/auth/login", {"csrf_token": token, "username": username,
                                                    "password": password})[0]

    def answer(self, problem_id: str, raw: str) -> tuple[int, bool]:
        """POST one answer; (status, acknowledged) where acknowledged = redirected to the result."""
        path = f"/sets/{SET_ID}/{problem_id}"
        token = self.csrf(path)
        status, headers, _ = self.request("POST", path, {
            "csrf_token": token, "answer": raw, "request_token": secrets.token_urlsafe(24)})
        return status, status == 302 and headers.get("location", "").endswith("#result")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


# --- the run ---------------------------------------------------------------------------------

@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    acknowledged: int = 0
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, seconds: float, status: int) -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.statuses[status] = self.statuses.get(status, 0) + 1


def student(port: int, n: int, problems: list[str], stop_at: list[float],
            budget: threading.Semaphore, tally: Tally, start: threading.Barrier) -> None:
    rng = random.Random(n)
    client = Client(port, tally=tally)
    try:
        start.wait()
        if client.login(f"student{n:04d}") != 302:
            raise RuntimeError(f"student{n:04d} could not sign in")
        while time.monotonic() < stop_at[0] and budget.acquire(blocking=False):
            _status, acked = client.answer(rng.choice(problems),
                                           str(rng.randrange(-10**6, -1)))  # never right
            if acked:
                with tally.lock:
                    tally.acknowledged += 1
    except Exception as exc:  # counted and reported, never hidden
        with tally.lock:
            tally.errors.append(f"student{n:04d}: {exc!r}")
    finally:
        client.close()


def drive(port: int, students: int, problems: list[str], duration: float,
          max_requests: int) -> tuple[Tally, float]:
    tally, budget = Tally(), threading.Semaphore(max_requests)
    barrier = threading.Barrier(students + 1)
    stop_at = [float("inf")]
    threads = [threading.Thread(target=student, args=(port, n, problems, stop_at, budget, tally,
                                                      barrier), daemon=True)
               for n in range(students)]
    for thread in threads:
        thread.start()
    barrier.wait()  # everyone signs in from here; submitting stops `duration` s later
    stop_at[0] = time.monotonic() + duration
    started = time.perf_counter()
    for thread in threads:
        thread.join(timeout=duration + 120)
    return tally, time.perf_counter() - started


def stored_submissions(database_url: str) -> int:
    from sqlalchemy import func, select
    from sqlalchemy.orm import Session

    from web.db import make_engine
    from web.models import Submission

    engine = make_engine(database_url)
    with Session(engine) as session:
        count = session.scalar(select(func.count(Submission.id)).where(Submission.set_id == SET_ID))
    engine.dispose()
    return int(count or 0)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def report(label: str, tally: Tally, elapsed: float, stored: int) -> bool:
    requests = len(tally.latencies)
    fivexx = sum(n for status, n in tally.statuses.items() if status >= 500)
    ok = stored == tally.acknowledged and fivexx == 0 and not tally.errors
    print(f"{label}: {requests} requests in {elapsed:.1f} s = {requests / elapsed:.0f} req/s; "
          f"p50 {percentile(tally.latencies, 0.5) * 1000:.1f} ms, "
          f"p99 {percentile(tally.latencies, 0.99) * 1000:.1f} ms; statuses {dict(sorted(tally.statuses.items()))}; "
          f"5xx {fivexx}; client errors {len(tally.errors)}")
    print(f"{label}: answers acknowledged {tally.acknowledged}, rows stored {stored} -> "
          f"{'OK' if ok else 'MISMATCH OR ERRORS'}")
    for line in tally.errors[:5]:
        print("   ", line)
    return ok


def run_backend(backend: str, args) -> bool:
    workdir = Path(tempfile.mkdtemp(prefix=f"stride-load-{backend}-"))
    database = None
    try:
        if backend == "sqlite":
            url = f"sqlite:///{workdir / 'stride.sqlite'}"
        else:
            database = f"stride_load_{secrets.token_hex(4)}"
            url = create_pg_database(database)
        problems = prepare(workdir, url, args.students)
        port = free_port()
        server = start_gunicorn(app_spec(url, workdir / "problems"), port, args.workers,
                                workdir / "gunicorn.log", database_url=url)
        try:
            tally, elapsed = drive(port, args.students, problems, args.duration, args.max_requests)
        finally:
            stop(server)
        return report(f"{backend} ({args.workers} gunicorn workers)", tally, elapsed,
                      stored_submissions(url))
    finally:
        if database:
            drop_pg_database(database)
        shutil.rmtree(workdir, ignore_errors=True)


def create_pg_database(name: str) -> str:
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_pg_database(name: str) -> None:
    from sqlalchemy import create_engine, text

    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=200)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of submitting")
    parser.add_argument("--max-requests", type=int, default=200_000, help="answer POSTs at most")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--backend", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args(argv)
    print(f"Load test on 127.0.0.1: {args.students} students, {args.duration:g} s, at most "
          f"{args.max_requests} answers; rate limits raised to {GENEROUS!r} for the run; "
          f"{os.cpu_count()} CPUs shared by server and clients.")
    backends = ("sqlite", "postgres") if args.backend == "both" else (args.backend,)
    results = [run_backend(backend, args) for backend in backends]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
