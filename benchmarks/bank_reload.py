"""Benchmark of publishing a bank change: reload of one changed file (lint included), side by side
with a cold load of the whole bank, and the time until every gunicorn worker serves the new
version.

Run with ``.venv/bin/python benchmarks/bank_reload.py [--rounds 5] [--workers 4]``. Targets:
reload of one changed file (lint of its templates included) within about 1 s; every worker
serving the new version within 2 s of the reload.

Everything runs on loopback in a temporary folder: a copy of the shipped bank, a migrated SQLite
database and one instructor account.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from grader.bank import load as bank_load  # noqa: E402
from grader.bank import load_bank  # noqa: E402
from grader.bank.version import bank_files, content_digest  # noqa: E402

PASSWORD = "reload-bench-1"
VERSION = re.compile(r'data-version="([0-9a-f]{64})" data-process="(\d+)"')


def _load_module():
    spec = importlib.util.spec_from_file_location("stride_load", ROOT / "benchmarks" / "load.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["stride_load"] = module
    spec.loader.exec_module(module)
    return module


def prepare(workdir: Path) -> tuple[str, Path]:
    from sqlalchemy.orm import Session
    from werkzeug.security import generate_password_hash

    from web.auth.accounts import get_or_create_course
    from web.db import make_engine, upgrade_database
    from web.models import Enrollment, User

    problems = workdir / "problems"
    shutil.copytree(ROOT / "problems", problems)
    url = f"sqlite:///{workdir / 'stride.sqlite'}"
    upgrade_database(url)
    engine = make_engine(url)
    with Session(engine) as session:
        course = get_or_create_course(session, "Bench course", "bench-join")
        user = User(username="ines", role="instructor", display_name="",
                    password_hash=generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000"))
        session.add_all([user, Enrollment(user=user, course=course, role="instructor")])
        session.commit()
    engine.dispose()
    return url, problems


def touch(problems: Path, n: int) -> None:
    """Change one file (a comment at its end), as an author's edit would."""
    path = problems / "conv2d.yaml"
    path.write_text(re.sub(r"\n# edit \d+\n$", "\n", path.read_text()) + f"# edit {n}\n")


def in_process(url: str, problems: Path, rounds: int) -> tuple[list[float], list[float]]:
    """Seconds of `reload_bank()` after one file changed, and of a bare `load_bank()`."""
    from server import create_app
    from web.bank import reload_bank

    app = create_app({"DATABASE_URL": url, "PROBLEMS_DIR": str(problems),
                      "SECRET_KEY": "bench", "GRADING_WORKERS": 1})
    try:
        with app.app_context():
            reload_bank()  # the first publish lints every template
        reloads, loads = [], []
        for n in range(rounds):
            touch(problems, n)
            with app.app_context():
                started = time.perf_counter()
                reload_bank()
                reloads.append(time.perf_counter() - started)
            bank_load._COMPILED.clear()  # a cold load: every file parsed and compiled again
            started = time.perf_counter()
            load_bank(problems)
            loads.append(time.perf_counter() - started)
        return reloads, loads
    finally:
        app.extensions["stride_pool"].shutdown()
        app.extensions["stride_engine"].dispose()


def across_workers(load, url: str, problems: Path, workers: int, rounds: int,
                   log: Path) -> list[float]:
    """Seconds from the reload POST until `workers` distinct workers served the new version."""
    port = load.free_port()
    server = load.start_gunicorn(load.app_spec(url, problems), port, workers, log)
    try:
        client = load.Client(port)
        assert client.login("ines", PASSWORD) == 302
        times = []
        for n in range(rounds):
            touch(problems, 100 + n)
            new = content_digest(bank_files(problems))
            token = client.csrf("/instructor/")
            started = time.perf_counter()
            status = client.request("POST", "/instructor/bank/reload", {"csrf_token": token})[0]
            assert status == 302, status
            served: dict[str, str] = {}
            while not (len(served) == workers and set(served.values()) == {new}):
                probe = load.Client(port)
                probe.cookies = dict(client.cookies)
                version, pid = VERSION.search(probe.request("GET", "/instructor/")[2]).groups()
                probe.close()
                served[pid] = version
                if time.perf_counter() - started > 60:
                    raise RuntimeError("the workers did not agree within 60 s")
            times.append(time.perf_counter() - started)
        return times
    finally:
        load.stop(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    load = _load_module()
    print(f"machine: {os.cpu_count()} CPU(s), load average "
          f"{', '.join(f'{x:.1f}' for x in os.getloadavg())}, Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory(prefix="stride-reload-") as tmp:
        url, problems = prepare(Path(tmp))
        reloads, loads = in_process(url, problems, args.rounds)
        med_reload, med_load = statistics.median(reloads), statistics.median(loads)
        print(f"reload of one changed file (load + lint of its templates + publish): median "
              f"{med_reload:.3f} s (runs: {', '.join(f'{t:.3f}' for t in reloads)}); "
              f"target ~1 s: {'ok' if med_reload < 1.0 else 'MISSED'}")
        print(f"cold load_bank of the same bank (every file compiled, what each reload and each "
              f"worker paid before): median {med_load:.3f} s; reload / cold load = "
              f"{med_reload / med_load:.2f}x")
        times = across_workers(load, url, problems, args.workers, args.rounds,
                               Path(tmp) / "gunicorn.log")
        print(f"gunicorn, {args.workers} workers: every worker serves the new version "
              f"{statistics.median(times):.2f} s after the reload (median; runs: "
              f"{', '.join(f'{t:.2f}' for t in times)}); target < 2 s: "
              f"{'ok' if max(times) < 2.0 else 'MISSED'}")


if __name__ == "__main__":
    main()
