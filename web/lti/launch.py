"""Checking a launch and reading what it says.

PyLTI1p3 checks the state cookie, the nonce saved at login, the registration (issuer and client
id), the signature against the platform's JWKS, the deployment and the message's claims. It
leaves the rest to the tool, so `StrideMessageLaunch` adds: the signature must be RS256, `aud`
must hold the client id and `iss` be the registration's issuer (verified by PyJWT, not only read),
`exp` and `iat` must be present and `exp` not past, `azp` must be the client id when present
(and is required when `aud` names several parties), and each nonce is accepted once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import jwt
from pylti1p3.contrib.flask import FlaskMessageLaunch
from pylti1p3.exception import LtiException, LtiServiceException

from web.lti.errors import LaunchRefused
from web.lti.storage import consume_nonce

log = logging.getLogger(__name__)
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
AGS_CLAIM = "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
NRPS_CLAIM = "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"
DL_CLAIM = "https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"
MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership"
TA_ROLES = (f"{MEMBERSHIP}/Instructor#TeachingAssistant", f"{MEMBERSHIP}#TeachingAssistant")
INSTRUCTOR_ROLES = (f"{MEMBERSHIP}#Instructor", f"{MEMBERSHIP}#Administrator")
LEEWAY_S = 60  # clock skew allowed between the platform and Stride
TARGET_PARAM = "stride_target"  # custom parameter naming what a link launches: "set:<id>"
SCORE_PARAM = "stride_score"  # custom parameter: "best" (the default) or "latest" score to send
SCORE_POLICIES = ("best", "latest")
# PyLTI1p3's messages about fetching the platform's key set: they quote the URL and the answer.
FETCH_FAILURES = ("Error during fetch URL", "Invalid response from", "Invalid URL")


class StrideMessageLaunch(FlaskMessageLaunch):
    """PyLTI1p3's Flask launch with the checks it leaves to the tool (see the module)."""

    def __init__(self, *args, db_session=None, **kwargs):
        self._db = db_session
        super().__init__(*args, **kwargs)

    def validate_jwt_signature(self):
        public_key, _alg = self.get_public_key()
        registration = self._registration
        try:
            jwt.decode(self._get_id_token(), public_key, algorithms=["RS256"],
                       audience=registration.get_client_id(), issuer=registration.get_issuer(),
                       leeway=LEEWAY_S, options={"require": ["exp", "iat", "aud", "iss", "sub"]})
        except jwt.ExpiredSignatureError as exc:
            raise LtiException("Token expired") from exc
        except jwt.InvalidAudienceError as exc:
            raise LtiException("Wrong audience") from exc
        except jwt.InvalidTokenError as exc:
            raise LtiException(f"Can't decode id_token: {exc}") from exc
        body = self._get_jwt_body()
        aud = body.get("aud")
        azp = body.get("azp")
        if isinstance(aud, list) and len(aud) > 1 and azp is None:
            raise LtiException("Wrong azp")
        if azp is not None and azp != registration.get_client_id():
            raise LtiException("Wrong azp")
        return self

    def validate(self):
        if self._db is None:
            raise LtiException("Can't validate without a database session")
        super().validate()
        body = self._jwt["body"]
        consume_nonce(self._db, body["nonce"], datetime.fromtimestamp(int(body["exp"]), UTC))
        return self


# PyLTI1p3's terse messages, as sentences a student or instructor can act on.
EXPLAINED = {
    "State not found": "Your browser did not bring back the cookie Stride set when this launch "
                       "started (a blocked third-party cookie, or a launch opened in another "
                       "browser). Open the link from your LMS again, or in a new tab.",
    "Missing id_token": "The launch carried no id_token: open the link from your LMS again.",
    "Missing state param": "The launch did not carry its state. Open the link from your LMS again.",
    "Invalid Nonce": "This launch does not match one started in this browser (its nonce is "
                     "unknown here). Open the link from your LMS again.",
    "Registration not found.": "No LMS with this issuer and client id is registered in Stride. "
                               "An instructor must register the LMS first (Stride's LTI "
                               "registration page).",
    "Client id not registered for this issuer": "The token's client id is not registered for its "
                                                "issuer in Stride.",
    "Unable to find deployment": "This LMS deployment is not registered in Stride: an instructor "
                                 "must add its deployment id on Stride's LTI registration page.",
    "Unable to find public key": "The token was signed with a key the LMS does not publish (an "
                                 "unknown kid), so Stride cannot trust it.",
    "Token expired": "This launch token has expired. Open the link from your LMS again.",
    "Wrong audience": "This launch token was issued for another tool (its audience is not "
                      "Stride's client id), so Stride refuses it.",
    "Wrong azp": "This launch token names another authorized party (azp) than Stride's client id.",
}


def refusal(exc: Exception) -> LaunchRefused:
    """A LaunchRefused with a clear message for PyLTI1p3's exception `exc`."""
    text = str(exc)
    for known, explained in EXPLAINED.items():
        if text.startswith(known):
            return LaunchRefused(explained)
    if text.startswith("Can't decode id_token"):
        return LaunchRefused("The launch token's signature or claims do not verify against the "
                             f"LMS's published keys ({text.split(': ', 1)[-1][:200]}), so Stride "
                             "refuses it.")
    if text.startswith("Missing %s cookie") or text.startswith("Missing"):
        return LaunchRefused("Your browser did not send the cookie Stride set when this launch "
                             "started (third-party cookies blocked?). Open the link in a new tab.")
    if not isinstance(exc, LtiException):
        log.warning("a launch could not be checked: %r", exc)
        return LaunchRefused(f"The launch could not be checked ({type(exc).__name__}). Open the "
                             "link from your LMS again.")
    if text.startswith(FETCH_FAILURES) or isinstance(exc, LtiServiceException):
        # Text about an outgoing request (its URL, the answer's body) is for the log only.
        log.warning("a launch was refused: %s", text[:500])
        return LaunchRefused("Stride could not read the LMS's public keys from the key set "
                             "URL registered for it. Try again in a minute; if it goes on, an "
                             "instructor should check that URL on Stride's LTI registration page.")
    return LaunchRefused(f"The launch was refused: {text.splitlines()[0][:120] if text else ''}")


def course_role(roles: list[str]) -> str:
    """The Stride course role for the LTI roles of a launch: "ta", "instructor" or "student"."""
    roles = [r if "/" in r else f"{MEMBERSHIP}#{r}" for r in roles]  # NRPS may send short names
    if any(r in TA_ROLES for r in roles):
        return "ta"
    if any(r in INSTRUCTOR_ROLES for r in roles):
        return "instructor"
    return "student"


@dataclass(frozen=True)
class Launch:
    """What a validated launch says, as Stride uses it."""

    issuer: str
    client_id: str
    deployment_id: str
    sub: str
    name: str
    role: str
    message_type: str
    resource_link_id: str
    resource_title: str
    context_id: str
    target: str  # "set:<id>", "exercise:<name>" or "" when the link does not say
    ags: dict  # the AGS endpoint claim ({} without AGS)
    score_policy: str  # "best" or "latest"
    memberships_url: str  # NRPS's context memberships URL ("" without NRPS)
    deep_link_settings: dict

    @classmethod
    def from_claims(cls, body: dict, client_id: str) -> Launch:
        link = body.get(CLAIM + "resource_link") or {}
        custom = body.get(CLAIM + "custom") or {}
        name = body.get("name") or " ".join(
            p for p in (body.get("given_name"), body.get("family_name")) if p)
        return cls(
            issuer=body["iss"], client_id=client_id,
            deployment_id=body.get(CLAIM + "deployment_id", ""), sub=str(body.get("sub", "")),
            name=str(name or "")[:200], role=course_role(list(body.get(CLAIM + "roles") or [])),
            message_type=body.get(CLAIM + "message_type", ""),
            resource_link_id=str(link.get("id", "")), resource_title=str(link.get("title", "")),
            context_id=str((body.get(CLAIM + "context") or {}).get("id", "")),
            target=str(custom.get(TARGET_PARAM, "")), ags=body.get(AGS_CLAIM) or {},
            score_policy="latest" if custom.get(SCORE_PARAM) == "latest" else "best",
            memberships_url=str((body.get(NRPS_CLAIM) or {}).get("context_memberships_url", "")),
            deep_link_settings=body.get(DL_CLAIM) or {})

    @property
    def is_staff(self) -> bool:
        return self.role in ("ta", "instructor")
