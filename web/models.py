"""SQLAlchemy 2.0 models: data and relationships only (no grading, no URLs, no queue calls).

Problem sets and problems live in the YAML bank (`grader.bank`), not here: rows refer to them by
their string ids. What a student was shown is frozen in `VariantRecord` the first time it is shown,
so editing the YAML later never changes history silently.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Role(StrEnum):
    """An account's kind; "admin" is site-wide and explicit. Stored as its value."""

    STUDENT = "student"
    INSTRUCTOR = "instructor"
    ADMIN = "admin"


class CodeStatus(StrEnum):
    """Where a code submission is in its life (see `web.code.task`). Stored as its value."""

    QUEUED = "queued"
    GRADING = "grading"
    DONE = "done"
    FAILED = "failed"


ROLES = tuple(role.value for role in Role)
COURSE_ROLES = ("student", "ta", "instructor")  # what a member is in one course
STAFF_ROLES = ("ta", "instructor")  # course roles that see and change that course's records
CODE_STATUSES = tuple(status.value for status in CodeStatus)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (the default of every timestamp column)."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator):
    """Stores naive UTC and always returns aware UTC, the same on SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class Course(Base):
    __tablename__ = "course"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    join_code: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    enrollments: Mapped[list[Enrollment]] = relationship(back_populates="course")


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default=Role.STUDENT.value)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped by signing out and by a password change: sessions carrying an older one are void.
    session_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    enrollments: Mapped[list[Enrollment]] = relationship(back_populates="user")

    # Flask-Login's user protocol, spelled out so the model does not import flask_login.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    @property
    def is_instructor(self) -> bool:
        return self.role == Role.INSTRUCTOR

    @property
    def name(self) -> str:
        return self.display_name or self.username


class Enrollment(Base):
    """A membership of one account in one course, with its role there (see COURSE_ROLES)."""

    __tablename__ = "enrollment"
    __table_args__ = (UniqueConstraint("user_id", "course_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(20), default="student", server_default="student")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship(back_populates="enrollments")
    course: Mapped[Course] = relationship(back_populates="enrollments")


class VariantRecord(Base):
    """The variant of one problem a student was shown, frozen when first shown."""

    __tablename__ = "variant_record"
    __table_args__ = (UniqueConstraint("user_id", "set_id", "problem_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    set_id: Mapped[str] = mapped_column(String(120))
    problem_id: Mapped[str] = mapped_column(String(120))
    seed: Mapped[int] = mapped_column(BigInteger)
    variant_json: Mapped[str] = mapped_column(Text)  # Variant.to_json(): params, prompt, answer
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    user: Mapped[User] = relationship()
    submissions: Mapped[list[Submission]] = relationship(back_populates="variant")


class Submission(Base):
    """One graded answer. Format errors are never stored: they cost no attempt.

    `request_token` is the answer form's idempotency token: the same form posted twice is one
    attempt (NULL for rows stored before tokens existed; NULLs never collide).
    """

    __tablename__ = "submission"
    __table_args__ = (UniqueConstraint("user_id", "set_id", "problem_id", "attempt"),
                      UniqueConstraint("user_id", "request_token", name="uq_submission_request_token"))

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    set_id: Mapped[str] = mapped_column(String(120), index=True)
    problem_id: Mapped[str] = mapped_column(String(120))
    variant_id: Mapped[int] = mapped_column(ForeignKey("variant_record.id", ondelete="CASCADE"))
    seed: Mapped[int] = mapped_column(BigInteger)
    attempt: Mapped[int] = mapped_column(Integer)
    raw: Mapped[str] = mapped_column(Text)
    parsed_json: Mapped[str] = mapped_column(Text)
    read_as: Mapped[str] = mapped_column(Text, default="")
    correct: Mapped[bool] = mapped_column(Boolean)
    score: Mapped[float] = mapped_column(Float)  # fraction of the item's points, 0..1
    mistake: Mapped[str | None] = mapped_column(String(120), nullable=True)
    feedback: Mapped[str] = mapped_column(Text, default="")
    request_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    regraded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    user: Mapped[User] = relationship()
    variant: Mapped[VariantRecord] = relationship(back_populates="submissions")
    score_changes: Mapped[list[ScoreChange]] = relationship(back_populates="submission")


class ScoreChange(Base):
    """Audit trail of a submission's score changing after the fact (an explicit regrade)."""

    __tablename__ = "score_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id", ondelete="CASCADE"), index=True)
    old_score: Mapped[float] = mapped_column(Float)
    new_score: Mapped[float] = mapped_column(Float)
    old_correct: Mapped[bool] = mapped_column(Boolean)
    new_correct: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text, default="")
    changed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    submission: Mapped[Submission] = relationship(back_populates="score_changes")


class CodeSubmission(Base):
    """An uploaded or pasted implementation, graded in the background.

    While grading, the grader refreshes `heartbeat_at`; a row whose heartbeat is stale lost its
    worker and is requeued (`tries` counts the starts) or failed with a message.
    """

    __tablename__ = "code_submission"
    __table_args__ = (UniqueConstraint("user_id", "request_token", name="uq_code_submission_request_token"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    exercise: Mapped[str] = mapped_column(String(120))
    filename: Mapped[str | None] = mapped_column(String(255), nullable=True)
    source: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default=CodeStatus.QUEUED.value)
    report_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    request_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    tries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    user: Mapped[User] = relationship()


# --- Bank changes: recorded regrades (with what undoes them), re-issued variants, the published
# bank version ---------------------------------------------------------------------------------


class RegradeRun(Base):
    """One applied regrade (or re-issue) of one problem: who, when, which courses, what changed.

    `undo_json` holds what each touched row was before (submission results, stored variants), so
    the run can be undone; `undone_at` is set when it was.
    """

    __tablename__ = "regrade_run"

    id: Mapped[int] = mapped_column(primary_key=True)
    problem_id: Mapped[str] = mapped_column(String(120), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="regrade")  # "regrade" or "reissue"
    course_ids_json: Mapped[str] = mapped_column(Text, default="[]")
    summary: Mapped[str] = mapped_column(Text, default="")
    undo_json: Mapped[str] = mapped_column(Text, default="{}")
    changed_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    undone_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)

    changed_by: Mapped[User | None] = relationship(foreign_keys=[changed_by_id])


class RetiredVariant(Base):
    """A variant taken back by a re-issue, with the attempts made on it (kept as history)."""

    __tablename__ = "retired_variant"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("regrade_run.id", ondelete="CASCADE"),
                                        index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"),
                                         index=True)
    set_id: Mapped[str] = mapped_column(String(120))
    problem_id: Mapped[str] = mapped_column(String(120))
    seed: Mapped[int] = mapped_column(BigInteger)
    variant_json: Mapped[str] = mapped_column(Text)
    submissions_json: Mapped[str] = mapped_column(Text, default="[]")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class BankVersion(Base):
    """A published problem bank: its content hash and files; the newest row is what every
    worker of every host serves."""

    __tablename__ = "bank_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), index=True)
    files_json: Mapped[str] = mapped_column(Text)  # {relative path: text}
    published_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class BankIncident(Base):
    """A bank error a student met (a variant that failed to generate), for the instructor."""

    __tablename__ = "bank_incident"

    id: Mapped[int] = mapped_column(primary_key=True)
    problem_id: Mapped[str] = mapped_column(String(120), index=True)
    set_id: Mapped[str] = mapped_column(String(120), default="")
    seed: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
