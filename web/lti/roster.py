"""Names and Role Provisioning Services: the roster of an LMS course, synced into Stride on an
instructor's request, so students who never launched yet appear in the gradebook."""

from __future__ import annotations

from dataclasses import dataclass

from pylti1p3.names_roles import NamesRolesProvisioningService
from pylti1p3.service_connector import ServiceConnector
from sqlalchemy import select
from sqlalchemy.orm import Session

from web.lti import keys
from web.lti.accounts import account_for
from web.lti.config import http_session, registration_for
from web.lti.errors import NotConfigured, OtherRegistration
from web.lti.launch import course_role
from web.lti.urls import UrlPolicy
from web.models import LtiLinkUser, LtiResourceLink


@dataclass(frozen=True)
class RosterSync:
    members: int  # active members read from the LMS
    added: int  # members not linked to this link before
    refused: int = 0  # members whose accounts another LMS registration made

    def message(self) -> str:
        synced = self.members - self.refused
        text = (f"{synced} member{'s' if synced != 1 else ''} of the LMS course synced into "
                f"Stride, {self.added} of them new.")
        if self.refused:
            text += (f" {self.refused} member{'s were' if self.refused != 1 else ' was'} left "
                     "out: they already have Stride accounts through another LMS registration, "
                     "signed by other keys, which this one cannot enroll.")
        return text


def sync_roster(session: Session, link: LtiResourceLink, policy: UrlPolicy) -> RosterSync:
    """Read the LMS course's members (NRPS) and make or update their accounts and enrollments;
    never commits. Raises NotConfigured when the LMS gave no roster service for this link, and
    UrlRefused when `policy` refuses a URL it would request."""
    if not link.memberships_url:
        raise NotConfigured("The LMS did not offer its roster (Names and Role Provisioning "
                            "Services) for this link; enable that service for Stride in the LMS "
                            "and launch the link once more.")
    platform = link.platform
    connector = ServiceConnector(registration_for(platform, keys.signing_key(session)),
                                 requests_session=http_session(policy))
    service = NamesRolesProvisioningService(
        connector, {"context_memberships_url": link.memberships_url})
    members = [m for m in service.get_members() if m.get("status", "Active") == "Active"]
    known = set(session.scalars(select(LtiLinkUser.sub).where(LtiLinkUser.link_id == link.id)))
    new = refused = 0
    for member in members:
        sub = str(member.get("user_id", ""))
        if not sub:
            continue
        name = member.get("name") or " ".join(
            p for p in (member.get("given_name"), member.get("family_name")) if p)
        try:
            user = account_for(session, platform, sub, str(name or "")[:200],
                               course_role(list(member.get("roles") or [])))
        except OtherRegistration:
            refused += 1
            continue
        if sub not in known:
            session.add(LtiLinkUser(link_id=link.id, user_id=user.id, sub=sub))
            new += 1
    session.flush()
    return RosterSync(len(members), new, refused)
