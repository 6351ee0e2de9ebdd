"""What lets Stride's pages work inside an LMS's iframe, for LTI sessions only.

A session started by an LTI launch is marked (`LTI_SESSION_KEY`, holding the platform's origins).
Its session cookie is sent `SameSite=None; Secure` (a browser only sends a cookie into a
cross-site iframe so), and only over HTTPS; every other session keeps the app's own settings
(`Lax`). Its pages allow the platform's origins in CSP `frame-ancestors` and `form-action` (the
deep linking answer is a form posted to the LMS); every other page keeps `frame-ancestors 'none'`. CSRF protection is unchanged: the token lives in that session.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, current_app, g, request, session
from flask.sessions import SecureCookieSessionInterface

from web.security import CONTENT_SECURITY_POLICY

LTI_SESSION_KEY = "_lti"


class LtiSessionInterface(SecureCookieSessionInterface):
    """Flask's cookie session, sent `SameSite=None; Secure` for LTI sessions over HTTPS."""

    def save_session(self, app, session, response):
        g._lti_cookie = bool(session.get(LTI_SESSION_KEY)) and request.is_secure
        return super().save_session(app, session, response)

    def get_cookie_samesite(self, app):
        return "None" if g.get("_lti_cookie") else super().get_cookie_samesite(app)

    def get_cookie_secure(self, app):
        return True if g.get("_lti_cookie") else super().get_cookie_secure(app)


def origin_of(url: str) -> str | None:
    """The scheme://host[:port] of an http(s) URL, or None."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def mark_lti_session(origins) -> None:
    """Mark this session as an LTI one, framable by `origins`."""
    session[LTI_SESSION_KEY] = sorted({o for o in origins if o})


def _frame_ancestors(response):
    if not session.accessed and current_app.config["SESSION_COOKIE_NAME"] not in request.cookies:
        return response  # no session in this request: not an LTI one
    origins = session.get(LTI_SESSION_KEY)
    if origins and "Content-Security-Policy" not in response.headers:
        allowed = " ".join(["'self'", *origins])
        response.headers["Content-Security-Policy"] = (
            CONTENT_SECURITY_POLICY.replace("frame-ancestors 'none'", f"frame-ancestors {allowed}")
            .replace("form-action 'self'", f"form-action {allowed}"))
    return response


def init_app(app: Flask) -> None:
    app.session_interface = LtiSessionInterface()
    app.after_request(_frame_ancestors)
