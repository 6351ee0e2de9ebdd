"""Web benchmark: answer submissions under gunicorn (2 workers) against a bare-Flask floor.

    .venv/bin/python benchmarks/web.py                       # 64 clients, 20 s each side
    .venv/bin/python benchmarks/web.py --clients 8 --duration 3   # quick

Stride: 64 signed-in students each open 4 problems of the set (not measured: opening a problem
stores the student's variant, as in the app), then POST answers to them as fast as answers come
back (every POST parses, grades and stores one submission, SQLite, production settings except
rate limits, which are raised to 1,000,000/minute and said so). Floor: a bare Flask endpoint that
inserts one row with SQLAlchemy into SQLite (same engine settings: WAL, busy timeout), also under
gunicorn with 2 workers, driven by the same client. Loopback only; bounded by time and requests.
Targets: Stride >= 50% of the floor's requests/s, p99 < 100 ms, zero errors, stored == acknowledged.
"""

from __future__ import annotations

import argparse
import importlib.util
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _load():
    if "stride_load" in sys.modules:
        return sys.modules["stride_load"]
    spec = importlib.util.spec_from_file_location("stride_load", ROOT / "benchmarks" / "load.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["stride_load"] = module
    spec.loader.exec_module(module)
    return module


def floor_app(database_url: str):
    """The floor: POST /floor inserts one row with SQLAlchemy and says "recorded"."""
    from flask import Flask, request
    from sqlalchemy import Column, Integer, MetaData, Table, Text, insert

    sys.path.insert(0, str(ROOT))
    from web.db import make_engine

    engine = make_engine(database_url)
    metadata = MetaData()
    rows = Table("floor_row", metadata, Column("id", Integer, primary_key=True),
                 Column("raw", Text, nullable=False))
    metadata.create_all(engine)
    app = Flask(__name__)

    @app.post("/floor")
    def floor():
        with engine.begin() as connection:
            connection.execute(insert(rows).values(raw=request.form.get("answer", "")))
        return "recorded"

    @app.get("/auth/login")  # readiness probe used by load.wait_ready
    def ready():
        return "ok"

    return app


def drive(port: int, clients: int, duration: float, max_requests: int, post) -> tuple:
    """Run `clients` threads calling `post(client, rng)` -> acknowledged? until time or budget."""
    load = _load()
    tally, budget = load.Tally(), threading.Semaphore(max_requests)
    barrier, stop_at = threading.Barrier(clients + 1), [float("inf")]

    def run(n: int) -> None:
        client, rng = load.Client(port), random.Random(n)
        try:
            state = post(client, rng, None)  # setup (sign in, token), not measured
            barrier.wait()
            client.tally = tally
            while time.monotonic() < stop_at[0] and budget.acquire(blocking=False):
                if post(client, rng, state):
                    with tally.lock:
                        tally.acknowledged += 1
        except Exception as exc:
            with tally.lock:
                tally.errors.append(f"client {n}: {exc!r}")
            if barrier.n_waiting and not barrier.broken:
                barrier.abort()
        finally:
            client.close()

    threads = [threading.Thread(target=run, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    barrier.wait()
    stop_at[0] = time.monotonic() + duration
    started = time.perf_counter()
    for thread in threads:
        thread.join(timeout=duration + 120)
    return tally, time.perf_counter() - started


def stride_post(problems: list[str], per_student: int = 4):
    """Each student opens `per_student` problems of the set (setup), then answers among them.

    Opening a problem is what stores the student's variant (as in the app: the page is seen before
    it is answered), so the measured requests are answer submissions only.
    """
    load = _load()
    counter = iter(range(10**9))
    lock = threading.Lock()

    def post(client, rng, state):
        if state is None:
            with lock:
                n = next(counter)
            if client.login(f"student{n:04d}") != 302:
                raise RuntimeError(f"student{n:04d} could not sign in")
            mine = rng.sample(problems, min(per_student, len(problems)))
            tokens = [client.csrf(f"/sets/{load.SET_ID}/{pid}") for pid in mine]
            return tokens[0], mine  # one CSRF token per session
        token, mine = state
        problem = rng.choice(mine)
        status, headers, _ = client.request("POST", f"/sets/{load.SET_ID}/{problem}", {
            "csrf_token": token, "answer": str(rng.randrange(-10**6, -1))})
        return status == 302 and headers.get("location", "").endswith("#result")

    return post


def floor_post(client, rng, state):
    if state is None:
        return {}
    status, _headers, body = client.request("POST", "/floor", {"answer": str(rng.random())})
    return status == 200 and body == "recorded"


def count_rows(url: str, table: str) -> int:
    from sqlalchemy import text

    from web.db import make_engine

    engine = make_engine(url)
    with engine.connect() as connection:
        where = f" WHERE set_id = '{_load().SET_ID}'" if table == "submission" else ""
        count = connection.execute(text(f"SELECT count(*) FROM {table}{where}")).scalar()
    engine.dispose()
    return int(count)


def run_side(label: str, spec: str, url: str, table: str, post, args, workdir: Path):
    load = _load()
    port = load.free_port()
    server = load.start_gunicorn(spec, port, 2, workdir / f"{label}.log")
    try:
        tally, elapsed = drive(port, args.clients, args.duration, args.max_requests, post)
    finally:
        load.stop(server)
    stored = count_rows(url, table)
    ok = load.report(label, tally, elapsed, stored)
    p99 = load.percentile(tally.latencies, 0.99)
    return len(tally.latencies) / elapsed, p99, ok


def run_postgres(args, workdir: Path) -> None:
    import secrets

    load = _load()
    name = f"stride_load_{secrets.token_hex(4)}"
    url = load.create_pg_database(name)
    try:
        pg_dir = workdir / "pg"
        pg_dir.mkdir()
        problems = load.prepare(pg_dir, url, args.clients)
        run_side("stride on PostgreSQL (information)", load.app_spec(url, pg_dir / "problems"),
                 url, "submission", stride_post(problems), args, pg_dir)
    finally:
        load.drop_pg_database(name)


def main(argv: list[str] | None = None) -> int:
    load = _load()
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--max-requests", type=int, default=100_000)
    parser.add_argument("--postgres", action="store_true",
                        help="also run Stride on PostgreSQL (for information; not the target)")
    args = parser.parse_args(argv)
    print(f"Web benchmark on 127.0.0.1: {args.clients} clients, {args.duration:g} s per side, "
          f"gunicorn with 2 workers; Stride's rate limits raised to {load.GENEROUS!r}.")
    workdir = Path(tempfile.mkdtemp(prefix="stride-web-bench-"))
    try:
        url = f"sqlite:///{workdir / 'stride.sqlite'}"
        problems = load.prepare(workdir, url, args.clients)
        floor_url = f"sqlite:///{workdir / 'floor.sqlite'}"
        floor = run_side("floor (bare Flask + SQLAlchemy insert)", f"benchmarks.web:floor_app({floor_url!r})",
                         floor_url, "floor_row", floor_post, args, workdir)
        stride = run_side("stride (answer submissions)", load.app_spec(url, workdir / "problems"),
                          url, "submission", stride_post(problems), args, workdir)
        if args.postgres:
            run_postgres(args, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    ratio = stride[0] / floor[0]
    targets = ratio >= 0.5 and stride[1] < 0.100 and stride[2] and floor[2]
    print(f"stride / floor = {ratio:.0%} of the floor's requests/s (target >= 50%); "
          f"stride p99 {stride[1] * 1000:.1f} ms (target < 100 ms) -> "
          f"{'targets met' if targets else 'targets NOT met'}")
    return 0 if targets else 1


if __name__ == "__main__":
    sys.exit(main())
