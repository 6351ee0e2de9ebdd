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


# --- LTI 1.3 (web.lti): platforms, Stride's keys, LMS identities, links and the score outbox ---

class LtiKey(Base):
    """One of Stride's RSA key pairs for LTI: the newest unretired one signs, every unretired one
    is published in the JWKS (so tokens signed just before a rotation still verify)."""

    __tablename__ = "lti_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    kid: Mapped[str] = mapped_column(String(100), unique=True)
    private_pem: Mapped[str] = mapped_column(Text)
    public_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class LtiPlatform(Base):
    """A platform (LMS) registration: what its administrator gave, and the Stride course its
    launches enroll into."""

    __tablename__ = "lti_platform"
    __table_args__ = (UniqueConstraint("issuer", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    issuer: Mapped[str] = mapped_column(String(255))
    client_id: Mapped[str] = mapped_column(String(255))
    auth_login_url: Mapped[str] = mapped_column(String(1000))
    auth_token_url: Mapped[str] = mapped_column(String(1000))
    key_set_url: Mapped[str] = mapped_column(String(1000))
    auth_audience: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    frame_origins: Mapped[str] = mapped_column(Text, default="")  # space-separated, for CSP
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    course: Mapped[Course] = relationship()
    deployments: Mapped[list[LtiDeployment]] = relationship(
        back_populates="platform", cascade="all, delete-orphan")


class LtiDeployment(Base):
    __tablename__ = "lti_deployment"
    __table_args__ = (UniqueConstraint("platform_id", "deployment_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platform.id", ondelete="CASCADE"))
    deployment_id: Mapped[str] = mapped_column(String(255))

    platform: Mapped[LtiPlatform] = relationship(back_populates="deployments")


class LtiIdentity(Base):
    """An LMS user (issuer, sub) and the Stride account made for them on their first launch."""

    __tablename__ = "lti_identity"
    __table_args__ = (UniqueConstraint("issuer", "sub"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(255))
    sub: Mapped[str] = mapped_column(String(255))
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platform.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"),
                                         index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LtiNonce(Base):
    """A launch nonce already used (kept until the token it came in expires): replays fail."""

    __tablename__ = "lti_nonce"

    nonce: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class LtiLaunchValue(Base):
    """PyLTI1p3's short-lived launch data (nonces saved at login, launch claims), by key."""

    __tablename__ = "lti_launch_value"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    value_json: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)


class LtiResourceLink(Base):
    """A resource link in an LMS course, the problem set or exercise it launches, and the line
    item its scores go to."""

    __tablename__ = "lti_resource_link"
    __table_args__ = (UniqueConstraint("platform_id", "resource_link_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    platform_id: Mapped[int] = mapped_column(ForeignKey("lti_platform.id", ondelete="CASCADE"))
    deployment_id: Mapped[str] = mapped_column(String(255))
    resource_link_id: Mapped[str] = mapped_column(String(255))
    context_id: Mapped[str] = mapped_column(String(255), default="")
    kind: Mapped[str] = mapped_column(String(20))  # "set" or "exercise"
    target: Mapped[str] = mapped_column(String(120))  # the set id or exercise name
    title: Mapped[str] = mapped_column(String(255), default="")
    score_policy: Mapped[str] = mapped_column(String(10), default="best", server_default="best")
    lineitems_url: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    lineitem_url: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    ags_scopes: Mapped[str] = mapped_column(Text, default="")  # space-separated
    memberships_url: Mapped[str | None] = mapped_column(String(1000), nullable=True)  # NRPS
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    platform: Mapped[LtiPlatform] = relationship()


class LtiLinkUser(Base):
    """A Stride account that launched a resource link, as the LMS user `sub`."""

    __tablename__ = "lti_link_user"
    __table_args__ = (UniqueConstraint("link_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("lti_resource_link.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"),
                                         index=True)
    sub: Mapped[str] = mapped_column(String(255))


class LtiScoreOutbox(Base):
    """A score to send: one row per (link, user) while unsent; the score itself is read when it
    is sent, so the newest always goes. Kept after sending (sent_at) as a record.

    ``generation`` counts the score changes the pending row stands for: a drain marks the row
    sent only if it is unchanged since the drain claimed it, so a score recorded while an older
    one was on its way is sent too."""

    __tablename__ = "lti_score_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    link_id: Mapped[int] = mapped_column(ForeignKey("lti_resource_link.id", ondelete="CASCADE"),
                                         index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    tries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_try_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    score_given: Mapped[float | None] = mapped_column(Float, nullable=True)
    score_maximum: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


# --- Course administration (#16): per-student allowances and password reset links ---------------


class Allowance(Base):
    """One student's exception on one problem set, granted by course staff: a later due date
    (`due`, None: the set's own) and `extra_attempts` on each of the set's problems."""

    __tablename__ = "allowance"
    __table_args__ = (UniqueConstraint("user_id", "set_id", name="uq_allowance_user_set"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    set_id: Mapped[str] = mapped_column(String(120))
    due: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    extra_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    granted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PasswordReset(Base):
    """A one-time password reset link: only the SHA-256 of its token is stored; it is void once
    used, once `expires_at` passes, or once a newer link is made for the same account."""

    __tablename__ = "password_reset"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CanvasAssignment(Base):
    """A course's Canvas assignment for one problem set or code exercise (`item` is
    "set:<id>" or "code:<exercise>"), so its Canvas CSV fills that assignment."""

    __tablename__ = "canvas_assignment"
    __table_args__ = (UniqueConstraint("course_id", "item", name="uq_canvas_assignment_item"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id", ondelete="CASCADE"), index=True)
    item: Mapped[str] = mapped_column(String(200))
    assignment_id: Mapped[str] = mapped_column(String(20))


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
