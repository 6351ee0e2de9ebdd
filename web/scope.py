"""Course walls: the one place that decides which courses and students a staff member may see.

An account is staff of a course when its enrollment there has a role in `STAFF_ROLES` ("ta" or
"instructor"). Every instructor query takes its course ids from `staff_course_ids`, and every
view that shows one student's records first asks `can_see_student`; anything outside the walls
is answered 404, as if it did not exist. An account whose own role is "admin" is a site-wide
administrator and sees every course: that is the only way past the walls, and it is explicit.

Functions take a session and never commit.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from web.models import STAFF_ROLES, Course, Enrollment, User

ADMIN_ROLE = "admin"


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


def is_staff(session: Session, user) -> bool:
    """True when `user` is staff of at least one course, or an admin."""
    return is_admin(user) or bool(staff_course_ids(session, user))


def student_ids_in(course_ids: Sequence[int]) -> Select:
    """A SELECT of the ids of the students enrolled in any of `course_ids` (as students)."""
    return (select(Enrollment.user_id)
            .where(Enrollment.course_id.in_(list(course_ids)), Enrollment.role == "student")
            .distinct())


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
    ids = staff_course_ids(session, user)
    if not ids:
        return False
    return session.scalar(student_ids_in(ids).where(Enrollment.user_id == student_id)) is not None
