"""Creating accounts and courses: shared by the CLI, self-registration and the course
administration pages; the one home of reading a roster (Stride's CSV or Canvas's exports).

These functions add rows to the session but never commit: the caller owns the transaction.
"""

from __future__ import annotations

import csv
import functools
import io
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from web.models import ROLES, Course, Enrollment, User

USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{2,80}$")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # hashing a megabyte-long password would only burn CPU
MAX_DISPLAY_NAME = 200  # User.display_name's column


class AccountError(ValueError):
    """An account or roster row cannot be created; the message says why, for the person typing."""


@dataclass(frozen=True)
class RosterEntry:
    username: str
    password: str | None  # the generated password, when the roster gave none; else None
    created: bool


def _shown(text: str, limit: int = 40) -> str:
    """`text` quoted for a message, shortened: a 10,000-character name is not echoed back."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


# LMS launches make accounts named "lti-" + a hash of (issuer, sub) (`web.lti.accounts`); a sub
# may be guessable (Moodle's are small numbers), so nobody else may take such a name first.
RESERVED_PREFIX = "lti-"


def validate_username(username: str) -> str:
    username = username.strip()
    if not USERNAME_RE.match(username):
        raise AccountError(f"The username {_shown(username)} is not allowed: use 2 to 80 "
                           "letters, digits or . _ @ -.")
    if username.lower().startswith(RESERVED_PREFIX):
        raise AccountError(f"The username {_shown(username)} is not allowed: names starting "
                           f"with {RESERVED_PREFIX!r} are reserved for accounts made by LMS "
                           "launches. Please choose another.")
    return username


def validate_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"Please choose a password of at least {MIN_PASSWORD} characters.")
    if len(password) > MAX_PASSWORD or "\x00" in password:
        raise AccountError(f"Please choose a password of at most {MAX_PASSWORD} characters, "
                           "without NUL characters.")
    return password


def validate_display_name(display_name: str) -> str:
    display_name = display_name.strip()
    if len(display_name) > MAX_DISPLAY_NAME:
        raise AccountError(f"Your name is {len(display_name)} characters long; please shorten "
                           f"it to at most {MAX_DISPLAY_NAME}.")
    if any(ord(c) < 32 for c in display_name):
        raise AccountError("Your name contains control characters (such as NUL or a line "
                           "break); please type it on one line without them.")
    return display_name


def get_user_by_username(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username.strip()))


def create_user(session: Session, username: str, password: str, *, role: str = "student",
                display_name: str = "", course: Course | None = None) -> User:
    """Add a user (password hashed with werkzeug's default, scrypt) and enroll them in `course`."""
    username = validate_username(username)
    validate_password(password)
    display_name = validate_display_name(display_name)
    if role not in ROLES:
        raise AccountError(f"The role {role!r} is unknown: use one of {', '.join(ROLES)}.")
    if get_user_by_username(session, username) is not None:
        raise AccountError(f"The username {username!r} is already taken.")
    user = User(username=username, password_hash=generate_password_hash(password), role=role,
                display_name=display_name, session_version=1)
    session.add(user)
    if course is not None:
        session.add(Enrollment(user=user, course=course, role=_course_role(role)))
    session.flush()
    return user


def _course_role(account_role: str) -> str:
    """The course role an account gets when it is added to a course without one named."""
    return "instructor" if account_role == "instructor" else "student"


@functools.cache
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_hex(8))


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this username and password, else None (same answer for both faults)."""
    user = get_user_by_username(session, username)
    if user is None or not user.active:
        check_password_hash(_dummy_hash(), password)  # about the same time either way
        return None
    return user if check_password_hash(user.password_hash, password) else None


def end_sessions(session: Session, user_id: int) -> int:
    """Void every session of the user (all browsers, copied cookies); the new version."""
    session.execute(update(User).where(User.id == user_id)
                    .values(session_version=User.session_version + 1))
    return session.scalar(select(User.session_version).where(User.id == user_id))


def password_matches(user: User, password: str) -> bool:
    """True when `password` is `user`'s current password."""
    return check_password_hash(user.password_hash, password)


def change_password(session: Session, user: User, current: str, new: str, confirm: str) -> None:
    """Set a new password after checking the current one; ends the user's other sessions.

    Raises AccountError with what to fix. The caller commits and signs this browser in again.
    """
    if not check_password_hash(user.password_hash, current):
        raise AccountError("Your current password is not right. Please type it again.")
    if new != confirm:
        raise AccountError("The two new passwords differ. Please type the same password twice.")
    user.password_hash = generate_password_hash(validate_password(new))
    session.flush()
    user.session_version = end_sessions(session, user.id)


def get_or_create_course(session: Session, name: str, join_code: str | None = None) -> Course:
    course = session.scalar(select(Course).where(Course.name == name))
    if course is None:
        course = Course(name=name, join_code=join_code or secrets.token_urlsafe(6))
        session.add(course)
        session.flush()
    return course


def course_by_join_code(session: Session, code: str) -> Course | None:
    return session.scalar(select(Course).where(Course.join_code == code.strip()))


def enroll(session: Session, user: User, course: Course, role: str | None = None) -> None:
    """Make `user` a member of `course` (as `role`, default from the account's kind)."""
    exists = session.scalar(select(Enrollment).where(
        Enrollment.user_id == user.id, Enrollment.course_id == course.id))
    if exists is None:
        session.add(Enrollment(user=user, course=course, role=role or _course_role(user.role)))
        session.flush()


# --- rosters from the course administration page -------------------------------------------------

# Canvas's gradebook export (also what its "roster" downloads give): Student ("Last, First"), ID,
# SIS User ID, SIS Login ID, Section. Canvas's SIS users.csv: login_id, full_name or first_name
# and last_name. The login becomes the Stride username.
CANVAS_GRADEBOOK = ("Student", "SIS Login ID")
CANVAS_SIS = ("login_id",)
_CANVAS_SKIP = ("points possible", "student, test", "test student")
MAX_ROSTER_ROWS = 5000


@dataclass(frozen=True)
class RosterRow:
    line: int
    username: str
    display_name: str = ""
    password: str = ""


@dataclass(frozen=True)
class RosterRowError:
    line: int
    username: str
    message: str


@dataclass(frozen=True)
class RosterReport:
    """What a roster upload did: `layout` read ("Stride", "Canvas gradebook", "Canvas SIS"),
    the rows imported and the rows refused with why. With `all_or_nothing`, one refused row
    means nothing was imported (`entries` is empty)."""

    layout: str
    entries: tuple[RosterEntry, ...]
    errors: tuple[RosterRowError, ...]
    all_or_nothing: bool = False


def read_roster(csv_text: str) -> tuple[str, list[RosterRow]]:
    """The layout and rows of a roster CSV: Stride's (`username`, optional `display_name`,
    `password`) or Canvas's gradebook or SIS export. Raises AccountError when the header fits
    none of them. Blank rows, Canvas's "Points Possible" row and its test student are skipped."""
    reader = csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff")))
    fields = [(f or "").strip() for f in reader.fieldnames or ()]
    if "username" in fields:
        layout = "Stride"
    elif all(f in fields for f in CANVAS_GRADEBOOK):
        layout = "Canvas gradebook"
    elif all(f in fields for f in CANVAS_SIS):
        layout = "Canvas SIS"
    else:
        raise AccountError("This roster's header is not one Stride reads. Use a 'username' column "
                           "(optionally 'display_name' and 'password'), or Canvas's gradebook "
                           "export (with 'Student' and 'SIS Login ID') or SIS users.csv (with "
                           "'login_id').")
    rows = []
    for line, raw in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if isinstance(v, str)}
        parsed = _roster_fields(layout, row, line)
        if parsed is not None:
            rows.append(parsed)
        if len(rows) > MAX_ROSTER_ROWS:
            raise AccountError(f"This roster has more than {MAX_ROSTER_ROWS} rows; please split "
                               "it into smaller files.")
    return layout, rows


def _roster_fields(layout: str, row: dict[str, str], line: int) -> RosterRow | None:
    if not any(row.values()):
        return None
    if layout == "Stride":
        return RosterRow(line, row.get("username", ""), row.get("display_name", ""),
                         row.get("password", ""))
    if layout == "Canvas gradebook":
        student = row.get("Student", "")
        if student.lower() in _CANVAS_SKIP:
            return None
        return RosterRow(line, row.get("SIS Login ID", ""), _first_last(student))
    name = row.get("full_name") or " ".join(
        p for p in (row.get("first_name", ""), row.get("last_name", "")) if p)
    return RosterRow(line, row.get("login_id", ""), name)


def _first_last(name: str) -> str:
    """Canvas's "Last, First" as "First Last"."""
    last, comma, first = name.partition(",")
    return f"{first.strip()} {last.strip()}".strip() if comma else name


def import_roster_report(session: Session, csv_text: str, course: Course, *,
                         all_or_nothing: bool = False,
                         existing_refused: Callable[[User], str | None] | None = None
                         ) -> RosterReport:
    """Enroll a roster's students in `course`, creating the accounts that do not exist yet.

    Every row is checked first; a refused row is reported with its line and why, and the good
    rows are imported (or, with `all_or_nothing`, none when any is refused). Existing student
    accounts are enrolled unchanged, unless `existing_refused` gives a reason not to for one
    (the browser's import: a student of a course the importer does not teach); an existing staff
    or admin account is refused (add staff with `add-staff`). Raises AccountError only when the
    file as a whole cannot be read.
    """
    layout, rows = read_roster(csv_text)
    errors, good, seen = [], [], set()
    for row in rows:
        problem = _row_problem(session, row, seen, existing_refused)
        if problem:
            errors.append(RosterRowError(row.line, row.username, problem))
        else:
            seen.add(row.username.strip().lower())
            good.append(row)
    if errors and all_or_nothing:
        return RosterReport(layout, (), tuple(errors), all_or_nothing)
    entries = tuple(_import_row(session, row, course) for row in good)
    return RosterReport(layout, entries, tuple(errors), all_or_nothing)


def _row_problem(session: Session, row: RosterRow, seen: set[str],
                 existing_refused: Callable[[User], str | None] | None = None) -> str | None:
    """Why a roster row cannot be imported, or None."""
    if not row.username:
        return "The row has no username (for Canvas files: no SIS Login ID)."
    try:
        username = validate_username(row.username)
        validate_display_name(row.display_name)
        if row.password:
            validate_password(row.password)
    except AccountError as exc:
        return str(exc)
    if username.lower() in seen:
        return f"The username {username!r} is on an earlier line of this file too."
    existing = get_user_by_username(session, username)
    if existing is not None and existing.role != "student":
        return (f"{username!r} is an instructor or admin account; add course staff with the "
                "add-staff command instead.")
    if existing is not None and existing_refused is not None:
        return existing_refused(existing)
    return None


def _import_row(session: Session, row: RosterRow, course: Course) -> RosterEntry:
    existing = get_user_by_username(session, row.username)
    if existing is not None:
        enroll(session, existing, course, "student")
        return RosterEntry(existing.username, None, created=False)
    generated = None if row.password else secrets.token_urlsafe(9)
    user = create_user(session, row.username, row.password or generated,
                       display_name=row.display_name, course=course)
    return RosterEntry(user.username, generated, created=True)
