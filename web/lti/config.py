"""PyLTI1p3's tool configuration built from the registrations stored in the database
(`LtiPlatform`, `LtiDeployment`) and Stride's signing key, plus the HTTP session it uses: every
outgoing LTI request goes through `http_session`, which judges each URL and each address it
connects to by the policy of `web.lti.urls`."""

from __future__ import annotations

import requests
from pylti1p3.deployment import Deployment
from pylti1p3.registration import Registration
from pylti1p3.tool_config import ToolConfAbstract
from sqlalchemy import select
from sqlalchemy.orm import Session

from web.lti import keys
from web.lti.urls import CheckedAdapter, UrlPolicy
from web.models import LtiDeployment, LtiKey, LtiPlatform

HTTP_TIMEOUT_S = 10  # a platform that does not answer is treated as down (scores are retried)
MAX_REDIRECTS = 5  # each hop is judged again by the policy (web.lti.urls)


class TimeoutSession(requests.Session):
    """A requests session whose calls all have a timeout (requests has none by default)."""

    def request(self, *args, **kwargs):
        kwargs.setdefault("timeout", HTTP_TIMEOUT_S)
        return super().request(*args, **kwargs)


def http_session(policy: UrlPolicy) -> requests.Session:
    """The session of Stride's outgoing LTI requests: timeouts, `policy` judging every request
    and redirect hop, no proxies or netrc from the environment (see `web.lti.urls`)."""
    session = TimeoutSession()
    session.headers["User-Agent"] = "Stride-LTI"
    session.trust_env = False
    session.max_redirects = MAX_REDIRECTS
    adapter = CheckedAdapter(policy)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def app_policy(app=None) -> UrlPolicy:
    """The URL policy of `app` (default: the current app), from its settings."""
    from flask import current_app

    from web.settings import Settings

    app = app or current_app
    settings = app.extensions.get("stride_settings") or Settings.from_config(app.config)
    return UrlPolicy.from_settings(settings)


def registration_for(platform: LtiPlatform, key: LtiKey) -> Registration:
    """PyLTI1p3's view of one platform registration, signing with `key`."""
    return (Registration()
            .set_issuer(platform.issuer)
            .set_client_id(platform.client_id)
            .set_auth_login_url(platform.auth_login_url)
            .set_auth_token_url(platform.auth_token_url)
            .set_auth_audience(platform.auth_audience or None)
            .set_key_set_url(platform.key_set_url)
            .set_tool_private_key(key.private_pem)
            .set_tool_public_key(key.public_pem))


def find_platform(session: Session, issuer: str, client_id: str | None) -> LtiPlatform | None:
    """The registration of (issuer, client id); without a client id, the issuer's only one."""
    query = select(LtiPlatform).where(LtiPlatform.issuer == issuer)
    if client_id:
        return session.scalar(query.where(LtiPlatform.client_id == client_id))
    found = session.scalars(query.limit(2)).all()
    return found[0] if len(found) == 1 else None


class DatabaseToolConf(ToolConfAbstract):
    """Every issuer may have many client ids; each (issuer, client id) is one `LtiPlatform`."""

    def __init__(self, session: Session):
        super().__init__()
        self._session = session

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def find_registration_by_issuer(self, iss, *args, **kwargs):
        return self.find_registration_by_params(iss, None)

    def find_registration_by_params(self, iss, client_id, *args, **kwargs):
        platform = find_platform(self._session, iss, client_id)
        if platform is None:
            return None
        return registration_for(platform, keys.signing_key(self._session))

    def find_deployment(self, iss, deployment_id):
        return self.find_deployment_by_params(iss, deployment_id, None)

    def find_deployment_by_params(self, iss, deployment_id, client_id, *args, **kwargs):
        platform = find_platform(self._session, iss, client_id)
        if platform is None:
            return None
        found = self._session.scalar(select(LtiDeployment).where(
            LtiDeployment.platform_id == platform.id,
            LtiDeployment.deployment_id == deployment_id))
        return Deployment().set_deployment_id(deployment_id) if found else None
