"""One bank version for every worker and host: a reload publishes the bank's content hash and files
in the database; every worker looks at most once a second and swaps to it. Tested with two apps in
one process, gunicorn with 4 workers, and two gunicorn servers (each with its own copy of the
files, as two hosts) sharing one database: each polls, with a deadline, until all agree."""

from __future__ import annotations

import importlib.util
import re
import sys
import time
from pathlib import Path

import pytest

from grader.bank.version import bank_files, content_digest, write_files
from tests.conftest import WEB_PASSWORD

ROOT = Path(__file__).resolve().parents[1]
NEW_PROBLEM = """\
id: brand-new
title: A problem published by a reload
topic: conv-output-volume
answer_type: integer
params:
  n: {int: [4, 9]}
prompt: "What is {{ n }} minus one?"
answer: n - 1
"""
ONE = """\
id: first
title: The first problem
topic: conv-output-volume
answer_type: integer
params:
  n: {int: [4, 9]}
prompt: "What is {{ n }} plus one?"
answer: n + 1
"""
VERSION = re.compile(r'data-version="([0-9a-f]{64})" data-process="(\d+)"')


def _load_benchmark():
    spec = importlib.util.spec_from_file_location("stride_load", ROOT / "benchmarks" / "load.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["stride_load"] = module
    spec.loader.exec_module(module)
    return module


def poll(condition, timeout: float, what: str):
    """condition()'s first truthy value, trying until `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout} s waiting for {what}")
        time.sleep(0.05)


# --- the pure part ----------------------------------------------------------------------------

def test_the_digest_covers_paths_and_texts_in_any_order_and_subfolders_count(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / ".hidden").mkdir()
    (tmp_path / "a.yaml").write_text("x: 1\n")
    (tmp_path / "sub" / "b.yml").write_text("y: 2\n")
    (tmp_path / ".hidden" / "c.yaml").write_text("z: 3\n")
    (tmp_path / "notes.txt").write_text("not a bank file")
    files = bank_files(tmp_path)
    assert files == {"a.yaml": "x: 1\n", "sub/b.yml": "y: 2\n"}
    assert content_digest(files) == content_digest(dict(reversed(list(files.items()))))
    assert content_digest(files) != content_digest({**files, "a.yaml": "x: 2\n"})
    assert content_digest({"ab": "c"}) != content_digest({"a": "bc"})
    copy = write_files(files, tmp_path / "copy")
    assert bank_files(copy) == files
    with pytest.raises(ValueError, match="leaves the bank"):
        write_files({"../evil.yaml": "x"}, tmp_path / "other")


# --- two apps in one process ------------------------------------------------------------------

def _bank_copy(tmp_path, name) -> Path:
    folder = tmp_path / name / "problems"
    (folder / "sets").mkdir(parents=True)
    (folder / "first.yaml").write_text(ONE)
    return folder


def test_a_reload_in_one_app_reaches_another_app_on_the_same_database(make_app, tmp_path,
                                                                        monkeypatch):
    from web import bank as web_bank

    host_a, host_b = _bank_copy(tmp_path, "a"), _bank_copy(tmp_path, "b")
    app_a, app_b = make_app(PROBLEMS_DIR=str(host_a)), make_app(PROBLEMS_DIR=str(host_b))
    for app in (app_a, app_b):
        app.extensions.pop("stride_bank")
        with app.app_context():
            assert sorted(web_bank.get_bank().problems) == ["first"]
    (host_a / "brand-new.yaml").write_text(NEW_PROBLEM)  # only host A's files have it
    with app_a.app_context():
        web_bank.reload_bank()
        digest = web_bank.served_digest()
    monkeypatch.setattr(web_bank, "CHECK_INTERVAL", 0.0)

    def b_serves():
        with app_b.app_context():
            bank = web_bank.get_bank()
            return web_bank.served_digest() == digest and bank

    bank_b = poll(b_serves, 5, "app B to follow the published version")
    assert sorted(bank_b.problems) == ["brand-new", "first"]
    assert not (host_b / "brand-new.yaml").exists()  # B loaded the published texts


def test_a_worker_looks_at_most_once_a_second(make_app, tmp_path, monkeypatch):
    from web import bank as web_bank

    app = make_app(PROBLEMS_DIR=str(_bank_copy(tmp_path, "a")))
    app.extensions.pop("stride_bank")
    looks = []
    with app.app_context():
        web_bank.get_bank()
    original = web_bank.published

    def counted(app_=None):
        looks.append(1)
        return original(app_)

    web_bank.published = counted
    try:
        for _ in range(50):
            with app.app_context():
                web_bank.get_bank()
    finally:
        web_bank.published = original
    assert len(looks) <= 2  # none after the first load, one if a second went by
    monkeypatch.setattr(web_bank, "CHECK_INTERVAL", 0.0)
    web_bank.published = counted
    try:
        with app.app_context():
            web_bank.get_bank()
    finally:
        web_bank.published = original
    assert len(looks) >= 1  # the counter does see looks


# --- real servers -----------------------------------------------------------------------------

def _prepare_database(url: str) -> None:
    from sqlalchemy.orm import Session
    from werkzeug.security import generate_password_hash

    from web.auth.accounts import get_or_create_course
    from web.db import make_engine, upgrade_database
    from web.models import Enrollment, User

    upgrade_database(url)
    engine = make_engine(url)
    with Session(engine) as session:
        course = get_or_create_course(session, "Version course", "version-join")
        user = User(username="ines", role="instructor", display_name="",
                    password_hash=generate_password_hash(WEB_PASSWORD, method="pbkdf2:sha256:1000"))
        session.add_all([user, Enrollment(user=user, course=course, role="instructor")])
        session.commit()
    engine.dispose()


def _signed_in(load, port):
    client = load.Client(port)
    assert client.login("ines", WEB_PASSWORD) == 302
    return client


def _look(load, port, cookies) -> tuple[str, str]:
    """(bank version, worker pid) of the worker a fresh connection reaches."""
    client = load.Client(port)
    client.cookies = dict(cookies)
    status, _headers, text = client.request("GET", "/instructor/")
    client.close()
    assert status == 200, text[:300]
    version, pid = VERSION.search(text).groups()
    return version, pid


def _reload(client) -> None:
    token = client.csrf("/instructor/")
    status, headers, text = client.request("POST", "/instructor/bank/reload",
                                           {"csrf_token": token})
    assert status == 302, text[:500]


@pytest.mark.slow
def test_gunicorn_4_workers_and_a_second_server_serve_the_reloaded_version(tmp_path):
    load = _load_benchmark()
    url = f"sqlite:///{tmp_path / 'stride.sqlite'}"
    _prepare_database(url)
    host_a, host_b = _bank_copy(tmp_path, "a"), _bank_copy(tmp_path, "b")
    port_a, port_b = load.free_port(), load.free_port()
    server_a = load.start_gunicorn(load.app_spec(url, host_a), port_a, workers=4,
                                   log_path=tmp_path / "a.log")
    try:
        server_b = load.start_gunicorn(load.app_spec(url, host_b), port_b, workers=1,
                                       log_path=tmp_path / "b.log")
        try:
            _check_servers(load, tmp_path, host_a, host_b, port_a, port_b)
        finally:
            load.stop(server_b)
    finally:
        load.stop(server_a)


def _check_servers(load, tmp_path, host_a, host_b, port_a, port_b) -> None:
    client_a, client_b = _signed_in(load, port_a), _signed_in(load, port_b)
    seen: dict[str, str] = {}

    def four_workers_seen():
        version, pid = _look(load, port_a, client_a.cookies)
        seen[pid] = version
        return len(seen) == 4

    poll(four_workers_seen, 30, "requests to reach all 4 workers")
    old = set(seen.values())
    assert len(old) == 1
    (host_a / "brand-new.yaml").write_text(NEW_PROBLEM)
    new = content_digest(bank_files(host_a))
    started = time.monotonic()
    _reload(client_a)
    agreed: dict[str, str] = {}

    def all_agree():
        version, pid = _look(load, port_a, client_a.cookies)
        agreed[pid] = version
        return len(agreed) == 4 and set(agreed.values()) == {new}

    poll(all_agree, 30, "all 4 workers to serve the new version")
    poll(lambda: _look(load, port_b, client_b.cookies)[0] == new, 10,
         "the second server to serve the new version")
    elapsed = time.monotonic() - started
    # The new problem is there on every worker and on the other server (whose files lack it).
    for _ in range(12):
        status = load.Client(port_a)
        status.cookies = dict(client_a.cookies)
        assert status.request("GET", "/instructor/preview/brand-new")[0] == 200
        status.close()
    assert client_b.request("GET", "/instructor/preview/brand-new")[0] == 200
    assert not (host_b / "brand-new.yaml").exists()
    print(f"every worker of both servers served the new version {elapsed:.2f} s after the reload")


@pytest.mark.services
def test_with_redis_a_reload_wakes_the_other_workers_before_their_next_look(
        make_app, tmp_path, monkeypatch):
    from tests.test_queue import REDIS_URL, redis_or_skip
    from web import bank as web_bank

    redis = redis_or_skip()
    monkeypatch.setattr(web_bank, "CHECK_INTERVAL", 3600.0)  # only a notification can wake B
    host_a, host_b = _bank_copy(tmp_path, "a"), _bank_copy(tmp_path, "b")
    app_a = make_app(PROBLEMS_DIR=str(host_a), REDIS_URL=REDIS_URL)
    app_b = make_app(PROBLEMS_DIR=str(host_b), REDIS_URL=REDIS_URL)
    app_b.extensions.pop("stride_bank")
    before = redis.pubsub_numsub(web_bank.CHANNEL)[0][1]
    with app_b.app_context():
        web_bank.get_bank()
    poll(lambda: redis.pubsub_numsub(web_bank.CHANNEL)[0][1] > before, 5,
         "app B to listen for new versions")
    (host_a / "brand-new.yaml").write_text(NEW_PROBLEM)
    with app_a.app_context():
        web_bank.reload_bank()

    def b_has_it():
        with app_b.app_context():
            return "brand-new" in web_bank.get_bank().problems

    poll(b_has_it, 5, "app B to follow the announced version")
