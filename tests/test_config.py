"""Configuration: the environment, then `config.py` in the instance folder; private files."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from server import create_app
from web.ratelimit import rate_limit_storage_uri

ROOT = Path(__file__).resolve().parents[1]
UNUSED_REDIS = "redis://127.0.0.1:1/5"  # never connected to: the pool and limits connect lazily


@pytest.fixture
def instance(tmp_path, web_template, monkeypatch):
    """An instance folder with a migrated database, and an environment that names none."""
    for name in ("DATABASE_URL", "STRIDE_SECRET_KEY", "REDIS_URL", "STRIDE_TRUSTED_PROXIES",
                 "STRIDE_INSTANCE_PATH"):
        monkeypatch.delenv(name, raising=False)
    folder = tmp_path / "instance"
    folder.mkdir()
    shutil.copy(web_template / "stride.sqlite", folder / "elsewhere.sqlite")
    return folder


def _write_config(folder: Path, **settings) -> None:
    lines = [f"{key} = {value!r}" for key, value in settings.items()]
    (folder / "config.py").write_text("\n".join(lines) + "\n")


@pytest.fixture
def built(web_template):
    apps = []

    def build(*args, **kwargs):
        app = create_app(*args, **kwargs)
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["stride_pool"].shutdown()
        app.extensions["stride_engine"].dispose()


def _every_documented_setting(folder: Path, web_template: Path) -> dict:
    return dict(
        SECRET_KEY="from-the-instance-config", DATABASE_URL=f"sqlite:///{folder / 'elsewhere.sqlite'}",
        REDIS_URL=UNUSED_REDIS, RATELIMIT_KEY_PREFIX="stride-from-config",
        SUBMIT_RATE_LIMIT="7 per minute", CODE_RATE_LIMIT="3 per hour",
        REGISTER_RATE_LIMIT="11 per hour", LOGIN_FAILURES_PER_USERNAME="4 per 10 minutes",
        LOGIN_FAILURES_PER_ADDRESS="99 per 15 minutes", TRUSTED_PROXIES=1, COOKIE_SECURE=False,
        GRADING_WORKERS=3, PROBLEMS_DIR=str(web_template / "problems"),
    )


def test_every_documented_setting_takes_effect_from_the_instance_config(instance, built,
                                                                        web_template):
    from web.code.rq import RedisQueue

    _write_config(instance, **_every_documented_setting(instance, web_template))
    app = built(instance_path=instance)
    assert app.instance_path == str(instance) and not app.testing
    assert app.config["SECRET_KEY"] == "from-the-instance-config"
    assert str(app.extensions["stride_engine"].url).endswith("elsewhere.sqlite")
    assert isinstance(app.extensions["stride_pool"], RedisQueue)
    assert rate_limit_storage_uri(app) == UNUSED_REDIS
    limits = app.extensions["stride_rate_limits"][1]
    assert (limits["SUBMIT_RATE_LIMIT"].amount, limits["CODE_RATE_LIMIT"].amount,
            limits["REGISTER_RATE_LIMIT"].amount) == (7, 3, 11)
    assert str(limits["LOGIN_FAILURES_PER_USERNAME"]) == "4 per 10 minute"
    assert limits["LOGIN_FAILURES_PER_ADDRESS"].amount == 99
    assert not app.config["SESSION_COOKIE_SECURE"] and not app.config["REMEMBER_COOKIE_SECURE"]
    assert app.config["RATELIMIT_KEY_PREFIX"] == "stride-from-config"

    @app.get("/_addr")
    def _addr():
        from flask import request

        return request.remote_addr

    forwarded = app.test_client().get("/_addr", headers={"X-Forwarded-For": "203.0.113.9"})
    assert forwarded.text == "203.0.113.9"  # TRUSTED_PROXIES = 1


def test_the_grading_pool_size_comes_from_the_instance_config(instance, built, web_template):
    settings = _every_documented_setting(instance, web_template)
    del settings["REDIS_URL"]
    _write_config(instance, **settings)
    app = built(instance_path=instance)
    assert app.config["GRADING_WORKERS"] == 3
    assert rate_limit_storage_uri(app) == "memory://"


def test_the_instance_folder_can_come_from_the_environment(instance, built, monkeypatch):
    _write_config(instance, SECRET_KEY="via-the-environment",
                  DATABASE_URL=f"sqlite:///{instance / 'elsewhere.sqlite'}")
    monkeypatch.setenv("STRIDE_INSTANCE_PATH", str(instance))
    app = built()
    assert app.instance_path == str(instance)
    assert app.config["SECRET_KEY"] == "via-the-environment"


def test_a_test_config_replaces_the_instance_config(instance, built, web_config):
    _write_config(instance, SECRET_KEY="must-not-be-read", SUBMIT_RATE_LIMIT="1 per day")
    app = built(web_config, instance_path=instance)
    assert app.config["SECRET_KEY"] == "test-secret"
    assert app.extensions["stride_rate_limits"][1]["SUBMIT_RATE_LIMIT"].amount == 30


def test_the_environment_gives_the_defaults_and_the_instance_config_wins(instance, built,
                                                                          monkeypatch):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{instance / 'elsewhere.sqlite'}")
    monkeypatch.setenv("STRIDE_SECRET_KEY", "secret-from-the-environment")
    monkeypatch.setenv("REDIS_URL", UNUSED_REDIS)
    monkeypatch.setenv("STRIDE_TRUSTED_PROXIES", "2")
    (instance / "config.py").write_text("")
    app = built(instance_path=instance)
    assert app.config["SECRET_KEY"] == "secret-from-the-environment"
    assert str(app.extensions["stride_engine"].url).endswith("elsewhere.sqlite")
    assert rate_limit_storage_uri(app) == UNUSED_REDIS and app.config["TRUSTED_PROXIES"] == 2
    _write_config(instance, SECRET_KEY="the-file-wins", TRUSTED_PROXIES=0)
    again = built(instance_path=instance)
    assert again.config["SECRET_KEY"] == "the-file-wins" and again.config["TRUSTED_PROXIES"] == 0


def test_the_secret_key_file_in_the_instance_folder_is_read(instance, built):
    _write_config(instance, DATABASE_URL=f"sqlite:///{instance / 'elsewhere.sqlite'}")
    (instance / "secret_key").write_text("k" * 64 + "\n")
    assert built(instance_path=instance).config["SECRET_KEY"] == "k" * 64


def _run(argv: list[str], env: dict) -> subprocess.CompletedProcess:
    """Run `argv` in a fresh process started with the usual umask 022 (so 0600 is earned)."""
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                          preexec_fn=lambda: os.umask(0o022))


def test_files_created_under_the_instance_folder_are_private(tmp_path):
    from web.db import make_engine

    instance = tmp_path / "instance"
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "STRIDE_SECRET_KEY", "REDIS_URL")}
    env["STRIDE_INSTANCE_PATH"] = str(instance)
    done = _run([sys.executable, "server.py", "--setup-demo", "--check-only"], env)
    assert done.returncode == 0, done.stderr
    for name in ("secret_key", "stride.sqlite"):
        assert stat.S_IMODE((instance / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE(instance.stat().st_mode) == 0o700
    # SQLite gives its -wal and -shm files the database's mode, whoever opens it later.
    engine = make_engine(f"sqlite:///{instance / 'stride.sqlite'}")
    try:
        with engine.connect() as connection:  # both exist while a connection is open
            connection.exec_driver_sql("UPDATE user_account SET display_name = 'x'")
            connection.commit()
            for suffix in ("-wal", "-shm"):
                mode = (instance / f"stride.sqlite{suffix}").stat().st_mode
                assert stat.S_IMODE(mode) == 0o600, suffix
    finally:
        engine.dispose()


def test_gunicorn_workers_start_with_a_private_umask():
    done = _run([sys.executable, "-c", textwrap.dedent("""
        import os
        settings = {}
        exec(open("gunicorn.conf.py").read(), settings)
        before = os.umask(0o022)
        settings["on_starting"](None)  # the master, before it forks the workers
        print(oct(before), oct(os.umask(0)))
    """)], dict(os.environ))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0o22", "0o77"]


def test_a_replaced_rate_limit_setting_is_refused_at_start_up(web_config):
    from server import create_app

    with pytest.raises(ValueError, match="LOGIN_RATE_LIMIT is no longer a setting: it was "
                                         "replaced by LOGIN_FAILURES_PER_USERNAME"):
        create_app({**web_config, "LOGIN_RATE_LIMIT": "10 per minute"})


@pytest.mark.parametrize(("settings", "message"), [
    ({"GRADING_HEARTBEAT_S": "0"}, "GRADING_HEARTBEAT_S must be a positive number"),
    ({"GRADING_MAX_TRIES": "-1"}, "GRADING_MAX_TRIES must be a positive number"),
    ({"GRADING_STALE_S": "soon"}, "GRADING_STALE_S must be a number, got 'soon'"),
    ({"GRADING_HEARTBEAT_S": "30", "GRADING_STALE_S": "20"}, "must be longer than"),
])
def test_grading_timings_that_would_spin_or_never_reap_are_refused(web_config, settings,
                                                                   message):
    from server import create_app

    with pytest.raises(ValueError, match=message):
        create_app({**web_config, **settings})
