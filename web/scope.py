"""Course walls: the one place that decides which courses and students a staff member may see.

An account is staff of a course when its enrollment there has a role in `STAFF_ROLES` ("ta" or
"instructor"). Every instructor query takes its course ids from `staff_course_ids` (through
`walls_for` in the views), and every view that shows one student's records first asks
`can_see_student` (or `student_in_courses` with the request's course ids); anything outside the
walls is answered 404, as if it did not exist. An account whose own role is "admin" is a site-wide
administrator and sees every course: that is the only way past the walls, and it is explicit.

Functions take a session and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from web.models import STAFF_ROLES, Course, Enrollment, User

ADMIN_ROLE = "admin"
MAX_COURSE_ID = 2**63 - 1  # the largest id a BIGINT (and SQLite's INTEGER) can hold
_MAX_DIGITS = len(str(MAX_COURSE_ID))
COURSE_ROLE_NAMES = {"instructor": "instructor", "ta": "teaching assistant", ADMIN_ROLE: "admin"}


class OutsideWalls(LookupError):
    """A course or student the staff member may not see (answered 404: it may not exist)."""


@dataclass(frozen=True)
class Walls:
    """What one staff member's request covers: their courses and, optionally, one chosen.

    `courses` are every course the member is staff of (the course picker lists these); `course`
    is the one picked with `?course=`, or None for all of them. `course_ids` is what every
    instructor query is given.
    """

    courses: tuple[Course, ...]
    course: Course | None = None

    @property
    def course_ids(self) -> tuple[int, ...]:
        if self.course is not None:
            return (self.course.id,)
        return tuple(sorted(c.id for c in self.courses))


def is_admin(user) -> bool:
    """True for a site-wide administrator (account role "admin")."""
    return getattr(user, "role", None) == ADMIN_ROLE


def staff_course_ids(session: Session, user) -> list[int]:
    """The ids of the courses `user` may see as staff, in id order (every course for an admin)."""
    if is_admin(user):
        return list(session.scalars(select(Course.id).order_by(Course.id)))
    return list(session.scalars(
        select(Enrollment.course_id)
        .where(Enrollment.user_id == user.id, Enrollment.role.in_(STAFF_ROLES))
        .order_by(Enrollment.course_id)))


def staff_courses(session: Session, user) -> Sequence[Course]:
    """The courses `user` may see as staff, by name."""
    ids = staff_course_ids(session, user)
    if not ids:
        return []
    return session.scalars(select(Course).where(Course.id.in_(ids)).order_by(Course.name)).all()


def staff_roles(session: Session, user) -> dict[int, str]:
    """Course id -> the role `user` has there as staff ("instructor", "ta"; "admin" for an
    administrator where they hold no staff role of their own)."""
    roles = dict(session.execute(
        select(Enrollment.course_id, Enrollment.role)
        .where(Enrollment.user_id == user.id, Enrollment.role.in_(STAFF_ROLES))).all())
    if is_admin(user):
        return {cid: roles.get(cid, ADMIN_ROLE) for cid in staff_course_ids(session, user)}
    return roles


def is_staff(session: Session, user) -> bool:
    """True when `user` is staff of at least one course, or an admin."""
    return is_admin(user) or bool(staff_course_ids(session, user))


def student_ids_in(course_ids: Sequence[int]) -> Select:
    """A SELECT of the ids of the students enrolled in any of `course_ids` (as students)."""
    return (select(Enrollment.user_id)
            .where(Enrollment.course_id.in_(list(course_ids)), Enrollment.role == "student")
            .distinct())


def student_in_courses(session: Session, course_ids: Sequence[int], student_id: int) -> bool:
    """True when `student_id` is enrolled as a student in one of `course_ids`."""
    if not course_ids:
        return False
    query = student_ids_in(course_ids).where(Enrollment.user_id == student_id)
    return session.scalar(query) is not None


def visible_course_ids(session: Session, user, course_id: int | None = None) -> list[int]:
    """The courses a staff view covers: `course_id` alone when given and visible, else all of
    the user's. An invisible `course_id` gives an empty list (the caller answers 404)."""
    mine = staff_course_ids(session, user)
    if course_id is None:
        return mine
    return [course_id] if course_id in mine else []


def can_see_student(session: Session, user, student_id: int) -> bool:
    """True when `student_id` is a student of a course `user` is staff of (or `user` is admin)."""
    if is_admin(user):
        return session.get(User, student_id) is not None
    return student_in_courses(session, staff_course_ids(session, user), student_id)


def parse_course_id(text: str) -> int:
    """The course id written in `text`: ASCII digits only, from 1 to 2**63 - 1.

    Raises OutsideWalls for anything else (signs, spaces, Unicode digits such as '²' or '٣',
    control characters, numbers too large for the database), with the text quoted and cut short.
    """
    if (not text.isascii() or not text.isdigit() or len(text) > _MAX_DIGITS
            or not 1 <= int(text) <= MAX_COURSE_ID):
        raise _no_such_course(text)
    return int(text)


def walls_for(session: Session, user, course_text: str = "") -> Walls:
    """The walls of one request: every staff course of `user`, narrowed to the course written
    in `course_text` when it is not empty. A course outside them raises OutsideWalls."""
    courses = tuple(staff_courses(session, user))
    if not course_text:
        return Walls(courses)
    wanted = parse_course_id(course_text)
    chosen = next((c for c in courses if c.id == wanted), None)
    if chosen is None:
        raise _no_such_course(course_text)
    return Walls(courses, chosen)


def _no_such_course(text: str) -> OutsideWalls:
    return OutsideWalls(f"There is no course with the number {text[:40]!r} among your courses. "
                        "Pick one from the course list instead.")
