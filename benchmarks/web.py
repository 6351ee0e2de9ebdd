"""Web benchmark: answer submissions under gunicorn (2 workers) against a bare-Flask floor.

    .venv/bin/python benchmarks/web.py                 # 64 clients, 20 s + 20 s of load per side
    .venv/bin/python benchmarks/web.py --clients 8 --duration 4 --latency-duration 2   # quick
    .venv/bin/python benchmarks/web.py --postgres      # also Stride on PostgreSQL (information)

Stride: 64 signed-in students each open 4 problems of the set (not measured: opening a problem
stores the student's variant, as in the app), then POST answers to them (every POST checks the
session, CSRF and rate limit, parses, grades and stores one submission; SQLite; production
settings except rate limits, which are raised to 1,000,000/minute and said so). Floor: a bare
Flask endpoint that inserts one row with SQLAlchemy into SQLite (same engine settings: WAL, busy
timeout), also under gunicorn with 2 workers, driven by the same client. Both servers run at once
and the driver (one process, a thread per client) takes turns on them, so a slow spell of this
shared machine hits both sides. Loopback only; bounded by time and by requests.

Two measurements per side:

- Throughput (closed loop): each client POSTs its next answer as soon as the last one returns.
  The load alternates floor, Stride, Stride, floor, ... in `--rounds` rounds, `--duration`
  seconds per side in all. Requests/s = requests / seconds of that side's rounds.
- Latency (open loop, a bounded load): the 64 clients together offer `--rate` answers per second
  (each on its own fixed schedule, evenly phased), for `--latency-duration` seconds per side.
  Run it at several rates (docs/benchmarks.md) to see where the queue starts to grow.
  Latency runs from the moment a request was due, so a late request counts its wait
  (no coordinated omission). In the closed loop, latency is set by the queue: with 64 clients
  mean latency = 64 / throughput (Little's law), so it is reported there for information only.

Targets: Stride >= 50% of the floor's requests/s, Stride's p99 under the bounded load < 100 ms,
zero errors, rows stored == answers acknowledged (over both measurements).
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
from dataclasses import dataclass
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


def floor_table():
    from sqlalchemy import Column, Integer, MetaData, Table, Text

    return Table("floor_row", MetaData(), Column("id", Integer, primary_key=True),
                 Column("raw", Text, nullable=False))


def prepare_floor(database_url: str) -> None:
    """Create the floor's table before gunicorn starts (two workers creating it at once race)."""
    sys.path.insert(0, str(ROOT))
    from web.db import make_engine

    engine = make_engine(database_url)
    floor_table().metadata.create_all(engine)
    engine.dispose()


def floor_app(database_url: str):
    """The floor: POST /floor inserts one row with SQLAlchemy and says "recorded"."""
    from flask import Flask, request
    from sqlalchemy import insert

    sys.path.insert(0, str(ROOT))
    from web.db import make_engine

    engine = make_engine(database_url)
    rows = floor_table()
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


# --- the sides -------------------------------------------------------------------------------

def stride_post(problems: list[str], set_id: str, per_student: int = 4):
    """Each student opens `per_student` problems of the set (setup), then answers among them.

    Opening a problem is what stores the student's variant (as in the app: the page is seen before
    it is answered), so the measured requests are answer submissions only.
    """
    counter = iter(range(10**9))
    lock = threading.Lock()

    def post(client, rng, state):
        if state is None:
            with lock:
                n = next(counter)
            if client.login(f"student{n:04d}") != 302:
                raise RuntimeError(f"student{n:04d} could not sign in")
            mine = rng.sample(problems, min(per_student, len(problems)))
            tokens = [client.csrf(f"/sets/{set_id}/{pid}") for pid in mine]
            return tokens[0], mine  # one CSRF token per session
        token, mine = state
        problem = rng.choice(mine)
        status, headers, _ = client.request("POST", f"/sets/{set_id}/{problem}", {
            "csrf_token": token, "answer": str(rng.randrange(-10**6, -1)),
            "request_token": f"{rng.getrandbits(128):032x}"})
        return status, status == 302 and headers.get("location", "").endswith("#result")

    return post


def floor_post(client, rng, state):
    if state is None:
        return {}
    status, _headers, body = client.request("POST", "/floor", {"answer": str(rng.random())})
    return status, status == 200 and body == "recorded"


@dataclass
class Side:
    """One server under test and its signed-in clients."""

    label: str
    url: str
    table: str
    post: object
    server: object
    log: Path
    clients: list  # (client, rng, state) per client thread
    throughput: object  # load.Tally of the closed-loop rounds
    latency: object  # load.Tally of the open-loop run
    seconds: float = 0.0  # measured closed-loop seconds


def start_side(label, spec, url, table, post, args, workdir: Path) -> Side:
    load = _load()
    port = load.free_port()
    log = workdir / f"{label.split()[0]}-{port}.log"
    server = load.start_gunicorn(spec, port, 2, log, database_url=url)
    side = Side(label, url, table, post, server, log, [], load.Tally(), load.Tally())
    errors: list[str] = []

    def setup(n: int) -> None:
        client, rng = load.Client(port), random.Random(n)
        try:
            side.clients.append((client, rng, post(client, rng, None)))
        except Exception as exc:  # noqa: BLE001 - reported below with the client's number
            errors.append(f"client {n}: {exc!r}")

    run_threads([lambda n=n: setup(n) for n in range(args.clients)], timeout=120)
    if errors:
        load.stop(server)
        raise RuntimeError(f"{label}: {len(errors)} clients failed to set up: {errors[:3]}")
    return side


def run_threads(jobs, timeout: float) -> None:
    threads = [threading.Thread(target=job, daemon=True) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)


def drive(side: Side, tally, duration: float, budget: threading.Semaphore,
          interval: float | None = None) -> float:
    """Load `side` for `duration` s: closed loop, or each client every `interval` s (open loop).

    Returns the elapsed seconds. Latency is measured from when a request was due: in the open
    loop that is its slot on the schedule, so waiting behind a slow answer counts.
    """
    start = time.perf_counter() + 0.05
    stop_at = start + duration
    count = len(side.clients)

    def run(n: int) -> None:
        client, rng, state = side.clients[n]
        client.close()  # a fresh connection: the server drops keep-alives idle between rounds
        due = start + (n * interval / count if interval else 0.0)
        try:
            while budget.acquire(blocking=False):
                now = time.perf_counter()
                if not interval:
                    due = max(now, start)
                if due >= stop_at:
                    budget.release()
                    break
                if due > now:
                    time.sleep(due - now)
                status, acknowledged = side.post(client, rng, state)
                tally.add(time.perf_counter() - due, status)
                if acknowledged:
                    with tally.lock:
                        tally.acknowledged += 1
                if interval:
                    due += interval
        except Exception as exc:  # noqa: BLE001 - a failed request is counted, not fatal
            with tally.lock:
                tally.errors.append(f"client {n}: {exc!r}")
            client.close()

    run_threads([lambda n=n: run(n) for n in range(count)], timeout=duration + 120)
    return time.perf_counter() - start


def count_rows(url: str, table: str, set_id: str) -> int:
    from sqlalchemy import text

    from web.db import make_engine

    engine = make_engine(url)
    with engine.connect() as connection:
        where = f" WHERE set_id = '{set_id}'" if table == "submission" else ""
        count = connection.execute(text(f"SELECT count(*) FROM {table}{where}")).scalar()
    engine.dispose()
    return int(count)


# --- reporting -------------------------------------------------------------------------------

def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def summarize(side: Side, set_id: str) -> dict:
    """Stop the server, count rows and print both measurements; the figures as a dict."""
    load = _load()
    exited = side.server.poll()
    load.stop(side.server)
    if exited is not None:
        tail = side.log.read_text(errors="replace")[-2000:]
        print(f"{side.label}: the server exited early (code {exited}); its log ends:\n{tail}")
    for client, _rng, _state in side.clients:
        client.close()
    stored = count_rows(side.url, side.table, set_id)
    both = [side.throughput, side.latency]
    acknowledged = sum(t.acknowledged for t in both)
    fivexx = sum(n for t in both for status, n in t.statuses.items() if status >= 500)
    errors = [e for t in both for e in t.errors]
    rate = closed_loop_rate(side)
    t, lat = side.throughput, side.latency
    print(f"{side.label}:")
    print(f"  throughput: {len(t.latencies)} requests in {side.seconds:.1f} s = {rate:.0f} req/s "
          f"(closed loop; p50 {ms(load.percentile(t.latencies, 0.5))}, "
          f"p99 {ms(load.percentile(t.latencies, 0.99))})")
    print(f"  bounded load: {len(lat.latencies)} requests, p50 {ms(load.percentile(lat.latencies, 0.5))}, "
          f"p99 {ms(load.percentile(lat.latencies, 0.99))}, "
          f"max {ms(max(lat.latencies, default=float('nan')))}")
    statuses = {}
    for tally in both:
        for status, n in tally.statuses.items():
            statuses[status] = statuses.get(status, 0) + n
    ok = stored == acknowledged and fivexx == 0 and not errors and exited is None
    print(f"  statuses {dict(sorted(statuses.items()))}; 5xx {fivexx}; client errors {len(errors)}; "
          f"acknowledged {acknowledged}, stored {stored} -> {'OK' if ok else 'MISMATCH OR ERRORS'}")
    for line in errors[:5]:
        print("   ", line)
    return {"rate": rate, "p99": load.percentile(lat.latencies, 0.99), "ok": ok}


# --- the run ---------------------------------------------------------------------------------

def measure_throughput(sides: list[Side], args, budget: threading.Semaphore) -> None:
    """Closed-loop rounds in the order A B B A A B ...: `args.duration` seconds per side in all."""
    per_round = args.duration / args.rounds
    for r in range(args.rounds):
        for side in sides if r % 2 == 0 else sides[::-1]:
            side.seconds += drive(side, side.throughput, per_round, budget)


def measure_latency(sides: list[Side], args, rate: float, budget: threading.Semaphore) -> None:
    """The open-loop run of each side: the clients together offer `rate` answers/s."""
    for side in sides:
        drive(side, side.latency, args.latency_duration, budget, interval=args.clients / rate)


def closed_loop_rate(side: Side) -> float:
    return len(side.throughput.latencies) / side.seconds if side.seconds else 0.0


def run_postgres(args, workdir: Path, set_id: str, rate: float) -> None:
    import secrets

    load = _load()
    name = f"stride_load_{secrets.token_hex(4)}"
    url = load.create_pg_database(name)
    try:
        pg_dir = workdir / "pg"
        pg_dir.mkdir()
        problems = load.prepare(pg_dir, url, args.clients)
        side = start_side("Stride on PostgreSQL (information)", load.app_spec(url, pg_dir / "problems"),
                          url, "submission", stride_post(problems, set_id), args, pg_dir)
        try:
            budget = threading.Semaphore(args.max_requests)
            measure_throughput([side], args, budget)
            measure_latency([side], args, rate, budget)
        finally:
            summarize(side, set_id)
    finally:
        load.drop_pg_database(name)


def main(argv: list[str] | None = None) -> int:
    load = _load()
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--duration", type=float, default=20.0,
                        help="closed-loop seconds per side, split into rounds (default 20)")
    parser.add_argument("--rounds", type=int, default=4, help="alternating rounds (default 4)")
    parser.add_argument("--rate", type=float, default=256.0,
                        help="answers/s offered by all clients together in the bounded load "
                             "(default 256: 4 per client per second)")
    parser.add_argument("--latency-duration", type=float, default=20.0,
                        help="seconds of bounded load per side (default 20)")
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--postgres", action="store_true",
                        help="also run Stride on PostgreSQL (for information; not the target)")
    args = parser.parse_args(argv)
    if args.clients < 1 or args.rounds < 1 or args.duration <= 0 or args.rate <= 0:
        parser.error("--clients, --rounds, --rate and --duration must be positive")
    print(f"Web benchmark on 127.0.0.1: {args.clients} clients; throughput {args.duration:g} s "
          f"per side in {args.rounds} alternating rounds; bounded load of {args.rate:g} answers/s for "
          f"{args.latency_duration:g} s per side; gunicorn with 2 workers; Stride's rate limits "
          f"raised to {load.GENEROUS!r}.")
    workdir = Path(tempfile.mkdtemp(prefix="stride-web-bench-"))
    sides: list[Side] = []
    try:
        url = f"sqlite:///{workdir / 'stride.sqlite'}"
        problems = load.prepare(workdir, url, args.clients)
        floor_url = f"sqlite:///{workdir / 'floor.sqlite'}"
        prepare_floor(floor_url)
        sides.append(start_side("floor (bare Flask + SQLAlchemy insert)",
                                f"benchmarks.web:floor_app({floor_url!r})", floor_url, "floor_row",
                                floor_post, args, workdir))
        sides.append(start_side("Stride (answer submissions, SQLite)",
                                load.app_spec(url, workdir / "problems"), url, "submission",
                                stride_post(problems, load.SET_ID), args, workdir))
        budget = threading.Semaphore(args.max_requests)
        measure_throughput(sides, args, budget)
        measure_latency(sides, args, args.rate, budget)
        floor, stride = (summarize(side, load.SET_ID) for side in sides)
        sides = []
        if args.postgres:
            run_postgres(args, workdir, load.SET_ID, args.rate)
    finally:
        for side in sides:
            load.stop(side.server)
        shutil.rmtree(workdir, ignore_errors=True)
    ratio = stride["rate"] / floor["rate"] if floor["rate"] else 0.0
    targets = ratio >= 0.5 and stride["p99"] < 0.100 and stride["ok"] and floor["ok"]
    print(f"Stride / floor = {ratio:.0%} of the floor's requests/s (target >= 50%); Stride p99 under "
          f"the bounded load {ms(stride['p99'])} (target < 100 ms) -> "
          f"{'targets met' if targets else 'targets NOT met'}")
    return 0 if targets else 1


if __name__ == "__main__":
    sys.exit(main())
