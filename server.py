"""Stride's web server: `create_app()` and a command line to run it.

`python server.py --setup-demo [--port N] [--host H]` migrates the SQLite database under
`instance/` (or `STRIDE_INSTANCE_PATH`), creates the demo course and its accounts, and serves http://127.0.0.1:5000.
`python server.py --migrate` is the production start-up step (`make serve`): it migrates the
database and checks the configuration, creates no accounts, and exits. Under gunicorn use
`server:create_app()` (see docs/deploy.md).
"""

from __future__ import annotations

import argparse
import gc
import os
import secrets
import sys
from pathlib import Path

import click
from flask import Config, Flask, render_template
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from werkzeug.middleware.proxy_fix import ProxyFix

import web.auth.views
import web.code.kit
import web.code.views
import web.instructor.admin
import web.instructor.views
import web.lti.views
import web.quiz.practice
import web.quiz.views
from grader.data_root import data_root
from grader.errors import ProblemSpecError
from grader.sandbox import IsolationUnavailable
from web import cli, db, render, security
from web.bank import get_bank, reload_bank
from web.cli import DEMO_JOIN_CODE, setup_demo
from web.code import backend
from web.db import (
    SchemaOutOfDate,
    check_schema_current,
    default_database_url,
    normalize_url,
    session_factory,
    upgrade_database,
)
from web.security import InsecureConfiguration
from web.settings import Settings, from_environment

ROOT = Path(__file__).resolve().parent
INSTANCE = ROOT / "instance"
KB = 1024
# Files this process creates (the SQLite database and its WAL/SHM, the secret key) are readable by
# its own user only. Set at process start (`python server.py`; gunicorn.conf.py's `on_starting`
# for served workers), never on import or in `main()`, so that importing the app or calling main
# in-process (tests, the CLI) leaves the caller's umask alone.
PRIVATE_UMASK = 0o077


def default_instance_path() -> Path:
    """The instance folder: `STRIDE_INSTANCE_PATH` if set, else `instance/` in the repository."""
    return Path(os.environ.get("STRIDE_INSTANCE_PATH") or INSTANCE)


def _database_url(instance: Path | None = None) -> str:
    default = default_database_url(instance or default_instance_path())
    return normalize_url(from_environment().get("DATABASE_URL") or default)


def _secret_key(instance_path: Path, read_instance: bool) -> str | None:
    """STRIDE_SECRET_KEY, else the instance's `secret_key` file (never read under a test config)."""
    if from_environment().get("SECRET_KEY"):
        return from_environment()["SECRET_KEY"]
    key_file = instance_path / "secret_key"
    return key_file.read_text().strip() if read_instance and key_file.exists() else None


def _defaults(app: Flask, read_instance: bool) -> dict:
    """The built-in defaults with the environment's settings over them (`web.settings`)."""
    instance, environment = Path(app.instance_path), from_environment()
    return dict(
        SECRET_KEY=_secret_key(instance, read_instance), DATABASE_URL=_database_url(instance),
        PROBLEMS_DIR=environment.get("PROBLEMS_DIR") or str(data_root() / "problems"),
        EXERCISES_DIR=str(data_root() / "exercises"),
        MAX_CONTENT_LENGTH=256 * KB,
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_HTTPONLY=True, REMEMBER_COOKIE_SAMESITE="Lax",
        COOKIE_SECURE=None,  # None: secure unless debugging or testing
        LOGIN_FAILURES_PER_USERNAME="10 per 15 minutes",
        LOGIN_FAILURES_PER_ADDRESS="300 per 15 minutes",  # a whole class may share one address
        REGISTER_RATE_LIMIT="300 per 15 minutes", SUBMIT_RATE_LIMIT="30 per minute",
        CODE_RATE_LIMIT="10 per minute",
        LTI_LOGIN_RATE_LIMIT="300 per 5 minutes",  # per address: a lab launching at once fits
        RATELIMIT_STORAGE_URI=None,  # None: REDIS_URL when set (shared by all workers), else memory
        RATELIMIT_KEY_PREFIX="stride",
        GRADING_WORKERS=2, CHECK_SCHEMA=True, WTF_CSRF_TIME_LIMIT=None,
        TRUSTED_PROXIES=int(environment.get("TRUSTED_PROXIES", "0")),
        REDIS_URL=environment.get("REDIS_URL"),
        GRADING_QUEUE=environment.get("GRADING_QUEUE"),
        GRADING_HEARTBEAT_S=environment.get("GRADING_HEARTBEAT_S"),
        GRADING_STALE_S=environment.get("GRADING_STALE_S"),
        GRADING_MAX_TRIES=environment.get("GRADING_MAX_TRIES"),
        # Outgoing LTI requests to loopback/private addresses (and plain http to them): off.
        LTI_ALLOW_PRIVATE_URLS=environment.get("LTI_ALLOW_PRIVATE_URLS", False),
    )


def _finish_config(app: Flask) -> Settings:
    """Normalize the final config and read it, once, into the typed `Settings`."""
    app.config["DATABASE_URL"] = normalize_url(app.config["DATABASE_URL"])
    if not app.config["SECRET_KEY"] and (app.debug or app.testing):
        app.config["SECRET_KEY"] = "dev"
    secure = app.config["COOKIE_SECURE"]
    if secure is None:
        secure = not (app.debug or app.testing)
    app.config["SESSION_COOKIE_SECURE"] = app.config["REMEMBER_COOKIE_SECURE"] = bool(secure)
    settings = Settings.from_config(app.config)
    app.extensions["stride_settings"] = settings
    return settings


# Our own sentence for each error page, where the code gives none of its own (never the web
# framework's default text).
ERROR_SENTENCES = {
    400: "Something in that request could not be used. Go back, reload the page and try again.",
    403: "Your account may not open this page. If you think it should, ask your instructor.",
    404: "There is no such page here. Check the address, or start again from your problem sets.",
    405: "This page cannot be used that way. Go back and use the page's own buttons and links.",
    413: ("The limit is 256 KB per upload. A notebook's saved outputs (plots, printed "
          "arrays) count towards the limit too: clear them (Edit > Clear All Outputs, or Kernel "
          "> Restart & Clear Output), save, and upload it again. Only the code cells are "
          "graded."),
    500: "Nothing you did caused this; it has been logged. Please try again in a minute.",
}


def _register_error_pages(app: Flask) -> None:
    def page(error, status: int, title: str):
        description = getattr(error, "description", None)
        if not description or description == getattr(type(error), "description", None):
            description = ERROR_SENTENCES.get(status, title)
        return render_template("error.html", title=title, description=description,
                               status=status), status

    for status, title in ((400, "Bad request"), (403, "Not allowed"), (404, "Not found"),
                          (405, "Method not allowed"),
                          (413, "That upload is too large"),
                          (429, "Too many requests: please wait a minute and try again"),
                          (500, "Something went wrong on our side")):
        app.register_error_handler(status, lambda e, s=status, t=title: page(e, s, t))
    app.register_error_handler(CSRFError, lambda e: page(
        e, 400, "This form has expired or was not sent by Stride. Reload the page and try again."))
    app.register_error_handler(ProblemSpecError, _bank_error_page)


def _bank_error_page(error):
    """A broken problem bank: instructors see every finding, students a kind sentence."""
    if current_user.is_authenticated and current_user.is_instructor:
        findings = getattr(error, "errors", None) or (str(error),)
        description = "Fix these and reload: " + " | ".join(findings)
    else:
        description = ("The problems cannot be shown right now because the problem bank has an "
                       "error. Your instructor has been told; please try again later.")
    app_title = "The problem bank could not be loaded"
    return render_template("error.html", title=app_title, description=description), 503


def _trust_proxies(app: Flask, settings: Settings) -> None:
    """Behind N reverse proxies, read the client address and scheme from their headers.

    Rate limits key on the client address, so without this every user would share the proxy's.
    """
    proxies = settings.trusted_proxies
    if proxies > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)


def _check_schema(app: Flask) -> None:
    """Refuse to start on an unmigrated database (the `flask` CLI itself may still migrate)."""
    engine, url = app.extensions["stride_engine"], app.config["DATABASE_URL"]
    if click.get_current_context(silent=True) is None:
        check_schema_current(engine, url)
        return
    state = {"ok": False}

    @app.before_request
    def _guard():
        if not state["ok"]:
            try:
                check_schema_current(engine, url)
            except SchemaOutOfDate as exc:
                return render_template("error.html", title="Database not migrated",
                                       description=str(exc)), 503
            state["ok"] = True


def create_app(test_config: dict | None = None, instance_path: str | Path | None = None
               ) -> Flask:
    """Build the Flask application (see the module docstring).

    Settings come from the built-in defaults with the environment over them, then `config.py` in
    the instance folder (`instance_path`, else `STRIDE_INSTANCE_PATH`, else `instance/`) or,
    instead of it, from `test_config` (as Flask's tutorial app does, so tests never read a
    developer's instance: neither its config.py nor its secret_key), read once into the typed
    `web.settings.Settings` (`app.extensions["stride_settings"]`).
    """
    folder = Path(instance_path) if instance_path else default_instance_path()
    app = Flask(__name__, instance_path=str(folder), instance_relative_config=True,
                template_folder=str(ROOT / "web/templates"), static_folder=str(ROOT / "web/static"))
    app.config.from_mapping(_defaults(app, read_instance=test_config is None))
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
    else:
        app.config.update(test_config)
    settings = _finish_config(app)
    security.check_secret_key(app)
    security.init_converters(app)
    db.init_app(app)
    security.init_app(app)
    backend.init_app(app, settings)
    cli.init_app(app)
    for blueprint in (web.auth.views.bp, web.quiz.views.bp, web.quiz.practice.bp,
                      web.code.views.bp, web.code.kit.bp, web.instructor.views.bp,
                      web.instructor.admin.bp):
        app.register_blueprint(blueprint)
    web.lti.views.init_app(app)
    render.init_app(app)
    _register_error_pages(app)
    _trust_proxies(app, settings)
    if app.config["CHECK_SCHEMA"]:
        _check_schema(app)
    return app


def _prepare_instance() -> None:
    """Create the instance folder and a random secret key there, unless one is configured."""
    folder = default_instance_path()
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    key_file = folder / "secret_key"
    if not from_environment().get("SECRET_KEY") and not key_file.exists():
        # Created 0600 in one step: never readable by others, not even for a moment.
        descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as out:
            out.write(secrets.token_hex(32))


def _plain_http_cookies(app: Flask) -> None:
    """The built-in server speaks plain HTTP, where browsers drop Secure cookies."""
    secure = os.environ.get("STRIDE_COOKIE_SECURE") == "1"
    app.config["SESSION_COOKIE_SECURE"] = app.config["REMEMBER_COOKIE_SECURE"] = secure


def _configured_database_url() -> str:
    """DATABASE_URL as the app will see it: the environment, then the instance's config.py."""
    config = Config(str(default_instance_path()))
    config["DATABASE_URL"] = _database_url()
    config.from_pyfile("config.py", silent=True)
    return normalize_url(config["DATABASE_URL"])


def warm_up(app: Flask) -> None:
    """Ready a served worker before its first request (gunicorn.conf.py's post_worker_init).

    Loads the problem bank, then freezes everything loaded so far out of the garbage collector's
    reach (`gc.freeze`). A full collection otherwise walks the ~120,000 objects of the bank,
    templates and modules: about 80 ms with every request in that worker waiting. Frozen, it walks
    only what requests allocate (under 1 ms). See docs/benchmarks.md ("Web").
    """
    with app.app_context():
        try:
            get_bank()
        except ProblemSpecError:
            pass  # pages show the bank's errors; the instructor can reload once it is fixed
    gc.collect()
    gc.freeze()


def _print_bank_status(app: Flask) -> None:
    """Load the bank once and say how many problems and sets it holds (or what is wrong)."""
    with app.app_context():
        try:
            bank = reload_bank().bank
        except ProblemSpecError as exc:
            print("warning: the problem bank has errors; problem pages will fail until fixed:",
                  *getattr(exc, "errors", (str(exc),)), sep="\n  ", file=sys.stderr)
            return
        print(f"Problem bank: {len(bank.problems)} problems in {len(bank.sets)} sets.")


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "5000")))
    first = parser.add_mutually_exclusive_group()
    first.add_argument("--setup-demo", action="store_true",
                       help="migrate the database and create the demo course and logins first")
    first.add_argument("--migrate", action="store_true",
                       help="migrate the database and check the configuration, then exit "
                            "(no demo accounts; for production)")
    parser.add_argument("--check-only", action="store_true",
                        help="prepare and check everything, then exit without serving")
    return parser.parse_args(argv)


def _print_welcome(args: argparse.Namespace, logins) -> None:
    """Where the server listens, the demo logins and the practice link."""
    url = f"http://{args.host}:{args.port}/"
    print(f"Stride is running on {url}", flush=True)
    for login in logins:
        print(f"  {login.role:<10} {login.username:<10} password: {login.password}")
    if logins:
        print(f"  students can also register with the course join code {DEMO_JOIN_CODE!r}")
    print(f"  practice without an account: {url}practice/", flush=True)


def main(argv: list[str] | None = None) -> None:
    """Prepare (with --setup-demo or --migrate), check, and serve with the built-in server."""
    args = _parse_args(argv)
    args.check_only = args.check_only or args.migrate
    if args.setup_demo or args.migrate:
        _prepare_instance()
        upgrade_database(_configured_database_url())
    try:
        app = create_app()
    except (SchemaOutOfDate, InsecureConfiguration, IsolationUnavailable) as exc:
        sys.exit(f"error: {exc}")
    if not args.check_only:
        _plain_http_cookies(app)
    logins = setup_demo(app) if args.setup_demo else ()
    stale = backend.recover_stale_jobs(session_factory(app))
    if stale:
        print(f"Marked {stale} unfinished code submission(s) from the last run as failed.")
    _print_bank_status(app)
    if args.check_only:
        print("Stride is ready to serve.")
        return
    _print_welcome(args, logins)
    app.run(host=args.host, port=args.port, threaded=True)


if __name__ == "__main__":
    os.umask(PRIVATE_UMASK)
    main()
