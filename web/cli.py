"""`flask --app server ...` commands: migrate the database, create users, import a roster."""

from __future__ import annotations

from dataclasses import dataclass

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from web.accounts import (
    AccountError,
    create_user,
    enroll,
    get_or_create_course,
    get_user_by_username,
    import_roster,
)
from web.db import session_factory, upgrade_database

DEMO_COURSE = "Foundations of CNNs (demo)"
DEMO_JOIN_CODE = "demo-cnn"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str


DEMO_LOGINS = (
    DemoLogin("instructor", "password", "instructor"),
    DemoLogin("alice", "password", "student"),
    DemoLogin("bob", "password", "student"),
)
DEMO_NAMES = {"instructor": "Demo Instructor", "alice": "Alice Demo", "bob": "Bob Demo"}


def setup_demo(app: Flask) -> tuple[DemoLogin, ...]:
    """Create the demo course and its accounts, idempotently; returns the demo logins."""
    with session_factory(app)() as session:
        course = get_or_create_course(session, DEMO_COURSE, DEMO_JOIN_CODE)
        for login in DEMO_LOGINS:
            user = get_user_by_username(session, login.username)
            if user is None:
                user = create_user(session, login.username, login.password, role=login.role,
                                   display_name=DEMO_NAMES[login.username])
            enroll(session, user, course)
        session.commit()
    return DEMO_LOGINS


@click.command("db-upgrade")
@with_appcontext
def db_upgrade_command() -> None:
    """Migrate the database to the newest schema (creates it when missing)."""
    upgrade_database(current_app.config["DATABASE_URL"])
    click.echo("The database is up to date.")


@click.command("init-db")
@with_appcontext
def init_db_command() -> None:
    """Create (or migrate) the database; existing data is kept."""
    upgrade_database(current_app.config["DATABASE_URL"])
    click.echo("Initialized the database.")


@click.command("create-user")
@with_appcontext
@click.argument("username")
@click.option("--role", type=click.Choice(["student", "instructor"]), default="student")
@click.option("--display-name", default="")
@click.option("--course", "course_name", default=None, help="Course name to enroll in.")
@click.password_option(help="Prompted for when not given.")
def create_user_command(username, role, display_name, course_name, password) -> None:
    """Create a user account."""
    with session_factory(current_app)() as session:
        course = get_or_create_course(session, course_name) if course_name else None
        try:
            user = create_user(session, username, password, role=role,
                               display_name=display_name, course=course)
        except AccountError as exc:
            raise click.ClickException(str(exc)) from exc
        session.commit()
        click.echo(f"Created {user.role} {user.username!r}.")


@click.command("import-roster")
@with_appcontext
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--course", "course_name", required=True, help="Course name (created if new).")
def import_roster_command(csv_file, course_name) -> None:
    """Create students from a CSV (username[,display_name][,password]); prints new passwords."""
    with session_factory(current_app)() as session:
        course = get_or_create_course(session, course_name)
        try:
            entries = import_roster(session, csv_file.read(), course)
        except AccountError as exc:
            raise click.ClickException(str(exc)) from exc
        session.commit()
    created = [e for e in entries if e.created]
    click.echo(f"{len(created)} new, {len(entries) - len(created)} already had accounts; "
               f"all enrolled in {course_name!r}.")
    generated = [e for e in created if e.password]
    if generated:
        click.echo("username,password")
        for entry in generated:
            click.echo(f"{entry.username},{entry.password}")


@click.command("export-scores")
@click.option("--kind", type=click.Choice(["scores", "canvas", "submissions"]), default="scores",
              help="scores: a column per problem set; canvas: Canvas's gradebook import layout; "
                   "submissions: one row per graded answer.")
@click.option("--output", "-o", type=click.File("w", encoding="utf-8", lazy=True), default="-",
              help="File to write (default: standard output).")
@click.option("--course", "course_name", default=None,
              help="Only the students enrolled in this course (default: every student).")
@with_appcontext
def export_scores_command(kind, output, course_name) -> None:
    """Export scores as CSV."""
    from sqlalchemy import select

    from web.bankaccess import get_bank
    from web.exports import export
    from web.models import Course

    with session_factory(current_app)() as session:
        course = None
        if course_name is not None:
            course = session.scalar(select(Course).where(Course.name == course_name))
            if course is None:
                raise click.ClickException(f"There is no course called {course_name!r}.")
        text = export(session, get_bank().sets.values(), kind, course)
    output.write(text)


def init_app(app: Flask) -> None:
    for command in (db_upgrade_command, init_db_command, create_user_command,
                    import_roster_command, export_scores_command):
        app.cli.add_command(command)
