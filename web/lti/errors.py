"""The LTI errors, each turned into a clear page (4xx) by the blueprint's error handler."""

from __future__ import annotations


class LtiError(Exception):
    """Something about an LTI request Stride refuses; `str()` is the message for the page."""

    status = 400
    title = "This LTI launch could not be completed"


class LaunchRefused(LtiError):
    """The launch token or its browser session failed a check."""


class NotConfigured(LtiError):
    """The platform, deployment or link is not (yet) set up in Stride."""

    status = 403
    title = "This LMS link is not set up in Stride"


class RegistrationInvalid(LtiError):
    """A registration form with a field that cannot work."""

    status = 422
    title = "The registration was not saved"


class OtherRegistration(LtiError):
    """The LMS user's Stride account was made through another registration, whose keys are not
    this one's: this registration cannot vouch for them."""

    status = 403
    title = "This LMS user belongs to another registration"


class UrlRefused(LtiError):
    """An outgoing LTI request Stride will not send: its URL or the address its host resolves
    to is outside the policy of `web.lti.urls` (https, public addresses)."""

    status = 422
    title = "Stride will not call this address"
