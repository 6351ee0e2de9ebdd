"""LMS users as Stride accounts: the one home of mapping (issuer, sub) to a `User`.

An LMS user is found by the issuer and `sub` of the launch, never by email or name (both can be
changed or reused in an LMS). The first launch makes a Stride account with an unusable random
password (the LMS signs them in), and every launch sets their role in the platform's course to
the one the launch carries. Functions never commit.

An issuer is only a name: any instructor may register an LMS under any issuer, with a key set of
their own. So an existing account is reached only through the registration it was made by, or
one of the same issuer and key set URL (the same LMS, under another client id); another
registration is refused (`OtherRegistration`), or it could sign launches and rosters for every
user of that issuer and open their accounts.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from web.lti.errors import OtherRegistration
from web.lti.launch import Launch
from web.models import Enrollment, LtiIdentity, LtiPlatform, User


def lti_username(issuer: str, sub: str, digits: int = 16) -> str:
    """A stable, unique username for an LMS user (shown to staff; the display name is theirs).

    Other accounts may not take names of this form (`web.auth.accounts.RESERVED_PREFIX`)."""
    return "lti-" + hashlib.sha256(f"{issuer}\n{sub}".encode()).hexdigest()[:digits]


def _free_username(session: Session, issuer: str, sub: str) -> str:
    """`lti_username`, or a longer form of it if an account made before names starting with
    "lti-" were reserved already has it."""
    for digits in (16, 24, 32, 64):
        name = lti_username(issuer, sub, digits)
        if session.scalar(select(User.id).where(User.username == name)) is None:
            return name
    return f"{lti_username(issuer, sub, 64)[:66]}-{secrets.token_hex(6)}"


def user_for_launch(session: Session, platform: LtiPlatform, launch: Launch) -> User:
    """The Stride account of the launch's user (made on the first launch), enrolled in the
    platform's course with the launch's role."""
    return account_for(session, platform, launch.sub, launch.name, launch.role)


def account_for(session: Session, platform: LtiPlatform, sub: str, name: str, role: str) -> User:
    """The Stride account of the platform's user `sub` (made now if new), enrolled in the
    platform's course as `role`."""
    issuer = platform.issuer
    identity = session.scalar(select(LtiIdentity).where(
        LtiIdentity.issuer == issuer, LtiIdentity.sub == sub))
    if identity is None:
        # Cheap hashing is fine: the password is 256 random bits nobody knows.
        unusable = generate_password_hash(secrets.token_hex(32), method="pbkdf2:sha256:1000")
        user = User(username=_free_username(session, issuer, sub), password_hash=unusable,
                    role="student", display_name=name, session_version=1)
        session.add(user)
        session.flush()
        session.add(LtiIdentity(issuer=issuer, sub=sub, platform_id=platform.id,
                                user_id=user.id))
    else:
        _check_vouches(session, platform, identity)
        user = session.get(User, identity.user_id)
        if name and user.display_name != name:
            user.display_name = name
    enrollment = session.scalar(select(Enrollment).where(
        Enrollment.user_id == user.id, Enrollment.course_id == platform.course_id))
    if enrollment is None:
        session.add(Enrollment(user_id=user.id, course_id=platform.course_id, role=role))
    else:
        enrollment.role = role
    session.flush()
    return user


def _check_vouches(session: Session, platform: LtiPlatform, identity: LtiIdentity) -> None:
    """Refuse `platform` for an LMS user whose account another registration's keys made, unless
    both registrations are the same LMS (issuer and key set URL)."""
    if identity.platform_id == platform.id:
        return
    made_by = session.get(LtiPlatform, identity.platform_id)
    if made_by is not None and made_by.issuer == platform.issuer \
            and made_by.key_set_url == platform.key_set_url:
        return
    raise OtherRegistration(
        "This LMS user already has a Stride account through another LMS registration of the "
        f"issuer {platform.issuer[:120]!r}, signed by other keys, so this registration cannot "
        "sign them in or enroll them. If both registrations are the same LMS, give this one the "
        "same key set URL; otherwise ask a site administrator.")
