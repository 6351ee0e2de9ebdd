"""The one home of the `flask --app server ...` commands: migrate the database, create users, make course staff,
import a roster, export scores, publish the problem bank."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session

from grader.variants import generate
from web.auth.accounts import (
    AccountError,
    create_user,
    enroll,
    get_or_create_course,
    get_user_by_username,
    import_roster_report,
)
from web.bank import exercises, get_bank
from web.db import session_factory, upgrade_database
from web.instructor.exports import export
from web.models import (
    COURSE_ROLES,
    ROLES,
    STAFF_ROLES,
    CodeStatus,
    CodeSubmission,
    Course,
    Enrollment,
    Submission,
    User,
    VariantRecord,
)
from web.scope import COURSE_ROLE_NAMES

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
# Classmates whose answers fill the demo's gradebook and statistics (they cannot sign in: their
# passwords are random). alice keeps a clean slate for trying the problems herself.
DEMO_CLASSMATES = {"carol": "Carol Demo", "dan": "Dan Demo", "erin": "Erin Demo"}
DEMO_SEEDED_PROBLEMS = 10


def setup_demo(app: Flask) -> tuple[DemoLogin, ...]:
    """Create the demo course and its accounts, idempotently; returns the demo logins.

    The demo instructor is (and, on an older demo database, becomes again) instructor of the
    demo course, so the instructor pages show its students.
    """
    with session_factory(app)() as session:
        course = get_or_create_course(session, DEMO_COURSE, DEMO_JOIN_CODE)
        for login in DEMO_LOGINS:
            user = get_user_by_username(session, login.username)
            if user is None:
                user = create_user(session, login.username, login.password, role=login.role,
                                   display_name=DEMO_NAMES[login.username])
            enroll(session, user, course)
            if login.role == "instructor":
                set_course_role(session, user, course, "instructor")
        classmates = []
        for username, name in DEMO_CLASSMATES.items():
            user = get_user_by_username(session, username)
            if user is None:
                user = create_user(session, username, secrets.token_urlsafe(16),
                                   display_name=name)
            enroll(session, user, course)
            classmates.append(user)
        with app.app_context():
            _seed_demo_work(session, [get_user_by_username(session, "bob"), *classmates])
        session.commit()
    return DEMO_LOGINS


def _seed_demo_work(session: Session, students: list[User]) -> None:
    """Answers to the demo set and graded code submissions for `students`, once (a student who
    has any answer already is left alone), so every instructor page has content on first run."""
    from grader.answers import format_value
    from grader.errors import FormatError, ProblemSpecError
    from web.quiz import forms
    from web.quiz.store import seed_for

    bank = get_bank()
    demo = bank.sets.get("demo")
    if demo is None:
        return
    for i, student in enumerate(students):
        if session.scalar(select(Submission.id).where(Submission.user_id == student.id).limit(1)):
            continue
        for j, item in enumerate(demo.items[:DEMO_SEEDED_PROBLEMS]):
            outcome = (i + j) % 4  # 0 right at once, 1 wrong then right, 2 wrong, 3 not tried
            if outcome == 3:
                continue
            seed = seed_for(student.id, demo.id, item.problem_id)
            try:
                variant = generate(bank.problems[item.problem_id], seed)
            except ProblemSpecError:
                continue
            record = VariantRecord(user_id=student.id, set_id=demo.id,
                                   problem_id=item.problem_id, seed=seed,
                                   variant_json=json.dumps(variant.to_json()))
            session.add(record)
            session.flush()
            right = format_value(variant.answer_type, variant.answer, variant.options)
            wrong = [format_value(variant.answer_type, m.value, variant.options)
                     for m in variant.mistakes[:1]]
            raws = {0: [right], 1: [*wrong, right], 2: wrong * 2}[outcome] or [right]
            for attempt, raw in enumerate(raws[: item.attempts], start=1):
                try:
                    parsed, result = forms.check(variant, raw)
                except FormatError:
                    break
                session.add(Submission(
                    user_id=student.id, set_id=demo.id, problem_id=item.problem_id,
                    variant_id=record.id, seed=seed, attempt=attempt, raw=raw,
                    parsed_json=forms.to_json_text(parsed.value), read_as=result.read_as,
                    correct=result.correct, score=result.score, mistake=result.mistake,
                    feedback=result.feedback))
                if result.correct:
                    break
        for k, exercise in enumerate(exercises()):
            score = [32.0, 19.0, 26.0, 8.0][(i + k) % 4]
            session.add(CodeSubmission(
                user_id=student.id, exercise=exercise, filename=f"{exercise}.py",
                source="# a demo submission\n", status=CodeStatus.DONE.value, score=score,
                max_score=32.0, report_json=json.dumps(
                    {"score": score, "max_score": 32.0, "functions": [], "warnings": []})))
    session.flush()


def set_course_role(session: Session, user: User, course: Course, role: str) -> str | None:
    """Make `user` a member of `course` as `role` (one of COURSE_ROLES), changing the role of
    an existing membership. Returns the role they had there before (None: not a member)."""
    if role not in COURSE_ROLES:
        raise AccountError(f"The course role {role!r} is unknown: use one of "
                           f"{', '.join(COURSE_ROLES)}.")
    enrollment = session.scalar(select(Enrollment).where(
        Enrollment.user_id == user.id, Enrollment.course_id == course.id))
    if enrollment is None:
        session.add(Enrollment(user=user, course=course, role=role))
        session.flush()
        return None
    before, enrollment.role = enrollment.role, role
    return before


def _course_named(session: Session, name: str) -> Course:
    course = session.scalar(select(Course).where(Course.name == name))
    if course is None:
        raise click.ClickException(f"There is no course called {name!r}. Check the spelling; "
                                   "`create-user --course` and `import-roster` create courses.")
    return course


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
@click.option("--role", type=click.Choice(ROLES), default="student",
              help="The account's kind; admin sees every course.")
@click.option("--display-name", default="")
@click.option("--course", "course_name", default=None,
              help="Course name to enroll in (created if new).")
@click.option("--course-role", type=click.Choice(COURSE_ROLES), default=None,
              help="Their role in --course (default: instructor for an instructor account, "
                   "else student); instructors and TAs are the course's staff.")
@click.password_option(help="Prompted for when not given.")
def create_user_command(username, role, display_name, course_name, course_role,
                        password) -> None:
    """Create a user account, optionally a member (or staff) of a course."""
    if course_role and not course_name:
        raise click.UsageError("--course-role needs --course: the course they have that role in.")
    with session_factory(current_app)() as session:
        course = get_or_create_course(session, course_name) if course_name else None
        try:
            user = create_user(session, username, password, role=role,
                               display_name=display_name, course=course)
            if course is not None and course_role:
                set_course_role(session, user, course, course_role)
        except AccountError as exc:
            raise click.ClickException(str(exc)) from exc
        session.commit()
        where = f" ({_role_name(course_role or _enrolled_role(user))} of {course_name!r})" \
            if course is not None else ""
        click.echo(f"Created {user.role} {user.username!r}{where}.")


def _enrolled_role(user: User) -> str:
    return user.enrollments[0].role if user.enrollments else "student"


def _role_name(role: str) -> str:
    return COURSE_ROLE_NAMES.get(role, role)


@click.command("add-staff")
@with_appcontext
@click.argument("username")
@click.argument("course_name", metavar="COURSE")
@click.option("--role", type=click.Choice(STAFF_ROLES), default="instructor",
              help="instructor (default) or ta; both see and change only this course's records.")
def add_staff_command(username, course_name, role) -> None:
    """Make an existing account staff (instructor or TA) of an existing course."""
    with session_factory(current_app)() as session:
        user = get_user_by_username(session, username)
        if user is None:
            raise click.ClickException(f"There is no account called {username!r}. Create it "
                                       "first with `create-user`.")
        course = _course_named(session, course_name)
        before = set_course_role(session, user, course, role)
        session.commit()
    was = "" if before is None else f" (was {_role_name(before)})"
    click.echo(f"{username!r} is now {_role_name(role)} of {course_name!r}{was}.")


@click.command("import-roster")
@with_appcontext
@click.argument("csv_file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--course", "course_name", required=True, help="Course name (created if new).")
@click.option("--all-or-nothing", is_flag=True,
              help="Import nothing when any row is refused (default: import the good rows).")
def import_roster_command(csv_file, course_name, all_or_nothing) -> None:
    """Enroll students from a roster CSV: Stride's (username[,display_name][,password]) or
    Canvas's gradebook or SIS export. Prints new passwords and every refused row with its line;
    exits with 1 when some row was refused."""
    with session_factory(current_app)() as session:
        course = get_or_create_course(session, course_name)
        try:
            report = import_roster_report(session, csv_file.read(), course,
                                          all_or_nothing=all_or_nothing)
        except AccountError as exc:
            raise click.ClickException(str(exc)) from exc
        session.commit()
    entries = report.entries
    created = [e for e in entries if e.created]
    click.echo(f"Read as a {report.layout} roster: {len(created)} new, "
               f"{len(entries) - len(created)} already had accounts; all enrolled in "
               f"{course_name!r}.")
    generated = [e for e in created if e.password]
    if generated:
        click.echo("username,password")
        for entry in generated:
            click.echo(f"{entry.username},{entry.password}")
    for error in report.errors:
        click.echo(f"Roster line {error.line} ({error.username or 'no username'}): "
                   f"{error.message}", err=True)
    if report.errors:
        kept = "nothing was imported" if all_or_nothing else "the other rows were imported"
        click.echo(f"{len(report.errors)} row(s) refused; {kept}.", err=True)
        raise SystemExit(1)


@click.command("export-scores")
@click.option("--kind", type=click.Choice(["scores", "canvas", "submissions"]), default="scores",
              help="scores: a column per problem set; canvas: Canvas's gradebook import layout; "
                   "submissions: one row per graded answer.")
@click.option("--output", "-o", type=click.File("w", encoding="utf-8", lazy=True), default="-",
              help="File to write (default: standard output).")
@click.option("--course", "course_name", default=None,
              help="Only the students enrolled in this course (default: the students of every "
                   "course).")
@with_appcontext
def export_scores_command(kind, output, course_name) -> None:
    """Export scores as CSV."""

    with session_factory(current_app)() as session:
        if course_name is None:  # the operator's own export: every course, named as such
            ids, section = list(session.scalars(select(Course.id))), ""
        else:
            ids, section = [_course_named(session, course_name).id], course_name
        text = export(session, get_bank().sets.values(), kind, ids, section=section)
    output.write(text)


@click.command("bank-reload")
@with_appcontext
def bank_reload_command() -> None:
    """Check the YAML problem bank (the changed templates are linted) and publish it to every
    server; exit 1 with every finding (file, line, seed) and nothing published otherwise."""
    from grader.bank import BankError
    from web.bank import reload_bank, served_digest

    try:
        reloaded = reload_bank()
    except BankError as exc:
        click.echo(f"Not published: {len(exc.errors)} finding(s).", err=True)
        for line in exc.errors:
            click.echo(f"  {line}", err=True)
        raise SystemExit(1) from exc
    bank = reloaded.bank
    click.echo(f"Published bank version {served_digest()[:12]}: {len(bank.problems)} problems "
               f"in {len(bank.sets)} sets; every server follows within about a second.")
    if reloaded.warnings:
        click.echo(f"{len(reloaded.warnings)} warning(s), worth a look (not a reason to refuse):",
                   err=True)
        for warning in reloaded.warnings:
            click.echo(f"  {warning}", err=True)


def init_app(app: Flask) -> None:
    for command in (db_upgrade_command, init_db_command, create_user_command, add_staff_command,
                    import_roster_command, export_scores_command, bank_reload_command):
        app.cli.add_command(command)
