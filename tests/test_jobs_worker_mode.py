"""With the Redis queue, grading happens in separate worker processes: each records its isolation
mode in Redis while it lives, and staff see the unsafe-sandbox banner when any live worker of the
app's queue grades without isolation, whatever the web app's own setting.

Needs Redis (tests/services.py, or 127.0.0.1:6379); skips or fails like tests/test_queue.py.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import web.code.rq as rq_module
from grader.sandbox import Isolation
from tests.test_queue import REDIS_URL, delete_queue_keys, login, redis_or_skip
from web.code.backend import get_pool
from web.code.rq import WORKER_MODE_PREFIX, forget_worker_mode, worker_modes
from web.code.worker import build_worker

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.services
UNSAFE = Isolation("limits-only", reason="STRIDE_SANDBOX=unsafe-no-isolation",
                   unsafe_opt_out=True)
SAFE = Isolation("bwrap")
BANNER = "Student code runs without a sandbox."


@pytest.fixture
def connection():
    connection = redis_or_skip()
    yield connection
    connection.close()


@pytest.fixture
def queue_name(connection):
    name = f"stride-test-{secrets.token_hex(6)}"
    yield name
    delete_queue_keys(connection, name)
    for key in connection.scan_iter(match=f"{WORKER_MODE_PREFIX}*{name}*"):
        connection.delete(key)


@pytest.fixture
def redis_app(make_app, queue_name, monkeypatch):
    monkeypatch.setattr(rq_module, "MODE_CACHE_S", 0.0)  # every page reads Redis afresh
    return make_app(REDIS_URL=REDIS_URL, GRADING_QUEUE=queue_name)


def _worker(app, isolation: Isolation, suffix: str = ""):
    """An RQ worker of the app's queue, as `python -m web.code.worker` builds it, born in Redis."""
    reaper = get_pool(app)
    worker = build_worker(reaper, isolation)
    if suffix:
        worker.name += suffix
    worker.register_birth()
    return worker


def _page(app) -> str:
    client = app.test_client()
    login(client, "ines")
    return client.get("/practice/").get_data(as_text=True)


def test_a_worker_records_its_mode_refreshes_it_with_its_heartbeat_and_forgets_it_at_death(
        redis_app, connection):
    worker = _worker(redis_app, UNSAFE)
    key = WORKER_MODE_PREFIX + worker.name
    assert 0 < connection.ttl(key) <= worker.worker_ttl + 60
    mine = [m for m in worker_modes(connection) if m.name == worker.name]
    assert [(m.queue, m.mode, m.unsafe) for m in mine] == [
        (get_pool(redis_app).name, "limits-only", True)]
    connection.expire(key, 5)
    worker.heartbeat()
    assert connection.ttl(key) > 5
    worker.register_death()
    assert not connection.exists(key)
    assert get_pool(redis_app).unsafe_workers() == ()


def test_staff_see_the_banner_while_an_unsafe_worker_lives_and_not_after(redis_app):
    assert BANNER not in _page(redis_app)
    safe = _worker(redis_app, SAFE, "-safe")
    assert BANNER not in _page(redis_app)
    unsafe = _worker(redis_app, UNSAFE, "-unsafe")
    page = _page(redis_app)
    assert BANNER in page
    assert f"The grading worker {unsafe.name} was started with STRIDE_SANDBOX=" in page
    assert "Code runs without isolation (STRIDE_SANDBOX=unsafe-no-isolation)" in page
    assert safe.name not in page
    unsafe.register_death()
    assert BANNER not in _page(redis_app)
    safe.register_death()


def test_students_never_see_it(redis_app):
    worker = _worker(redis_app, UNSAFE)
    client = redis_app.test_client()
    login(client, "alice")
    assert BANNER not in client.get("/practice/").get_data(as_text=True)
    worker.register_death()


def test_the_web_apps_own_opt_out_does_not_show_it_when_its_workers_are_isolated(
        redis_app, monkeypatch):
    monkeypatch.setenv("STRIDE_SANDBOX", "unsafe-no-isolation")
    worker = _worker(redis_app, SAFE)
    assert BANNER not in _page(redis_app)
    worker.register_death()


def test_an_unsafe_worker_of_another_queue_is_not_this_apps_concern(redis_app, make_app,
                                                                   queue_name):
    other = make_app(REDIS_URL=REDIS_URL, GRADING_QUEUE=f"{queue_name}-other")
    worker = _worker(other, UNSAFE)
    assert BANNER not in _page(redis_app)
    worker.register_death()
    delete_queue_keys(redis_or_skip(), f"{queue_name}-other")


def test_several_unsafe_workers_are_counted_and_named(redis_app):
    workers = [_worker(redis_app, UNSAFE, f"-{i}") for i in range(7)]
    page = _page(redis_app)
    assert "7 grading workers (" in page and " and 2 more) were started" in page
    for worker in workers:
        worker.register_death()


def test_what_was_read_is_kept_for_a_few_seconds(redis_app, connection, monkeypatch):
    monkeypatch.setattr(rq_module, "MODE_CACHE_S", 3600.0)
    backend = get_pool(redis_app)
    worker = _worker(redis_app, UNSAFE)
    assert backend.unsafe_workers() == (worker.name,)
    forget_worker_mode(connection, worker.name)
    assert backend.unsafe_workers() == (worker.name,)  # not read again yet
    assert backend.unsafe_workers(max_age=0.0) == ()
    worker.register_death()


def test_a_real_unsafe_worker_process_shows_the_banner_until_it_stops(redis_app, queue_name,
                                                                    connection):
    env = {**os.environ, "DATABASE_URL": redis_app.config["DATABASE_URL"], "REDIS_URL": REDIS_URL,
           "STRIDE_SANDBOX": "unsafe-no-isolation", "STRIDE_BWRAP": "/nonexistent"}
    proc = subprocess.Popen([sys.executable, "-m", "web.code.worker", "--queue", queue_name],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        seen = []
        for line in proc.stderr:  # RQ logs this right after the worker registered its birth
            seen.append(line)
            if "started with PID" in line:
                break
        assert any("started with PID" in line for line in seen), "".join(seen)[-2000:]
        page = _page(redis_app)
        assert BANNER in page and f"-{proc.pid}-{queue_name} was started with" in page
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
    assert proc.returncode == 0
    assert [m for m in worker_modes(connection) if m.queue == queue_name] == []
    assert BANNER not in _page(redis_app)


def test_an_unreachable_redis_shows_no_banner_and_breaks_no_page(make_app, caplog):
    app = make_app(REDIS_URL="redis://127.0.0.1:1/0", GRADING_QUEUE="stride-test-unreachable")
    client = app.test_client()
    login(client, "ines")
    with caplog.at_level("WARNING", logger="web.code.rq"):
        response = client.get("/practice/")
        client.get("/practice/")  # within the cache window: not tried again
    assert response.status_code == 200 and BANNER not in response.get_data(as_text=True)
    assert caplog.text.count("could not read the grading workers' isolation") == 1
