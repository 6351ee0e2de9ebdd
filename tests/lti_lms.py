"""An LMS for the end-to-end LTI tests, built on `lti1p3platform` (an independent LTI 1.3
platform implementation): its registration, JWKS, OIDC login initiation, signed launches, deep
linking claims and response check, token endpoint and AGS/NRPS handlers, hosted in a small Flask
app (the package ships Django and FastAPI adapters only) served by werkzeug in a thread on a
free port of 127.0.0.1. Storage (line items, scores, the roster, links) and the checks the
package leaves to its host (the redirect URI, the login hint) live here, in plain dicts.
The LMS has its own session cookie name: cookies on 127.0.0.1 are shared across ports.
"""

from __future__ import annotations

import json
import threading
import typing as t
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Flask, abort, make_response, redirect, request, session
from lti1p3platform.ltiplatform import LTI1P3PlatformConfAbstract
from lti1p3platform.membership import Context
from lti1p3platform.message_launch import LTIAdvantageMessageLaunchAbstract
from lti1p3platform.oidc_login import OIDCLoginAbstract
from lti1p3platform.registration import Registration
from lti1p3platform.request import Request, TRequest
from lti1p3platform.response import Response
from lti1p3platform.service_connector import (
    AssignmentsGradesService,
    NamesRoleProvisioningService,
)
from werkzeug.serving import make_server

MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership"
ROLES = {"student": [f"{MEMBERSHIP}#Learner"], "instructor": [f"{MEMBERSHIP}#Instructor"],
         "ta": [f"{MEMBERSHIP}/Instructor#TeachingAssistant"]}
TOOL = "https://localhost"  # where the tool (Stride's test client) answers
_KEYS: list[str] = []


def new_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def lms_key() -> str:
    """The LMS's signing key, made once per run (RSA generation is the slow part)."""
    if not _KEYS:
        _KEYS.append(new_pem())
    return _KEYS[0]


def public_pem(private_pem: str) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), None)
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


class FlaskLtiRequest(Request):
    """lti1p3platform's request, read from Flask's."""

    def build_metadata(self, req) -> TRequest:
        return {"method": req.method, "form_data": req.form.to_dict(),
                "get_data": req.args.to_dict(), "headers": req.headers,
                "content_type": req.content_type, "path": req.path,
                "json": req.get_json(force=True, silent=True)}


def json_response(resp: Response):
    """lti1p3platform's service answer as a Flask response (as its Django adapter does)."""
    if 200 <= resp.code < 300:
        data = resp.result
        if isinstance(data, dict) and "content" in data:
            data = data["content"]
        answer = make_response(json.dumps(data) if data is not None else "", resp.code)
    else:
        answer = make_response(json.dumps({"error": resp.message}), resp.code)
    answer.headers["Content-Type"] = resp.media_type
    return answer


@dataclass
class Link:
    """A placement of the tool in the LMS course (a resource link)."""

    id: str
    title: str
    custom: dict
    lineitem: str | None = None


@dataclass
class Lms:
    client_id: str = "stride-client"
    deployment_id: str = "deployment-1"
    context_id: str = "cnn-101"
    tool_jwks: dict = field(default_factory=dict)  # what the LMS admin pasted from Stride
    users: dict = field(default_factory=dict)  # sub -> (name, role)
    links: dict = field(default_factory=dict)  # id -> Link
    lineitems: dict = field(default_factory=dict)  # number -> line item
    scores: list = field(default_factory=list)
    deep_linked: list = field(default_factory=list)  # content items the tool sent back
    id_token_expiration: int = 300  # seconds; negative makes expired tokens
    signing_pem: str | None = None  # a key the LMS does not publish (unknown kid) when set
    tool: str = TOOL  # the tool's URL as registered (what Stride shows, https)
    post_to: str | None = None  # where the browser reaches it, when a TLS proxy is stood in for
    host: str = "127.0.0.1"  # the name the LMS is reached by (it always listens on 127.0.0.1)

    def __post_init__(self):
        self.key_pem = lms_key()
        self.pending: dict[str, dict] = {}  # lti_message_hint -> what to launch
        self.issued: list[str] = []  # access tokens given to the tool (secrets it must keep)
        self.app = self._make_app()
        self._server = None
        self.port = 0

    # --- serving ---------------------------------------------------------------------------
    def start(self) -> Lms:
        self._server = make_server("127.0.0.1", self.port, self.app, threaded=True)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def registration_form(self, course_id: int) -> dict:
        """What the LMS shows its administrator to type into Stride's registration page."""
        return {"course": str(course_id), "name": "Test LMS", "issuer": self.url,
                "client_id": self.client_id, "deployment_ids": self.deployment_id,
                "auth_login_url": f"{self.url}/oidc/auth", "auth_token_url": f"{self.url}/token",
                "key_set_url": f"{self.url}/jwks", "auth_audience": "", "frame_origins": ""}

    def registration(self, client_id: str | None = None) -> Registration:
        """lti1p3platform's registration of the tool (`client_id`: another tool's)."""
        signing = self.signing_pem or self.key_pem
        return (Registration().set_iss(self.url).set_client_id(client_id or self.client_id)
                .set_deployment_id(self.deployment_id)
                .set_oidc_login_url(f"{self.reachable}/lti/login")
                .set_launch_url(f"{self.tool}/lti/launch")
                .set_deeplink_launch_url(f"{self.tool}/lti/launch")
                .set_platform_public_key(public_pem(signing)).set_platform_private_key(signing)
                .set_tool_key_set(self.tool_jwks))

    @property
    def reachable(self) -> str:
        return self.post_to or self.tool

    def config(self, client_id: str | None = None) -> LTI1P3PlatformConfAbstract:
        lms = self

        class Conf(LTI1P3PlatformConfAbstract):
            def init_platform_config(self, **kwargs):
                pass

            def get_registration_by_params(self, **kwargs):
                return lms.registration(client_id)

        conf = Conf()
        conf.get_registration()
        return conf

    def add_link(self, link_id: str, target: str, title: str = "", **custom) -> Link:
        self.links[link_id] = Link(link_id, title or f"Stride {target}",
                                   {"stride_target": target, **custom})
        return self.links[link_id]

    def add_lineitem(self, item: dict) -> dict:
        number = str(len(self.lineitems) + 1)
        item = {**item, "id": f"{self.url}/{self.context_id}/lineitems/{number}"}
        self.lineitems[number] = item
        return item

    def scores_of(self, sub: str) -> list[dict]:
        return [s for s in self.scores if s["userId"] == sub]

    def launch_start(self, sub: str, link_id: str | None = None, deep_link: bool = False) -> str:
        """The LMS's OIDC login initiation for `sub` opening a link: the URL on the tool."""
        hint = f"{len(self.pending) + 1}"
        self.pending[hint] = {"link": link_id, "deep_link": deep_link}
        login = OidcLogin(None, self.config())
        login.set_lti_message_hint(hint=hint)
        if deep_link:
            login.set_deeplinking_launch_url()
        return login.prepare_preflight_url(sub)

    # --- the endpoints -----------------------------------------------------------------------
    def _make_app(self) -> Flask:
        app = Flask("test-lms")
        app.config.update(SECRET_KEY="lms-test-secret", SESSION_COOKIE_NAME="lms_session")
        lms = self

        @app.get("/jwks")
        def jwks():
            return {"keys": [Registration.get_jwk(public_pem(lms.key_pem))]}

        @app.get("/course/<link_id>")
        def course_page(link_id):
            """The LMS page showing a link: the tool in an iframe (its login started there)."""
            sub = request.args["user"]
            session["user"] = sub
            return (f'<h1>CNN 101</h1><iframe id="tool" name="tool" width="900" height="600" '
                    f'src="{lms.url}/start/{link_id}"></iframe>')

        @app.get("/start/<link_id>")
        def start(link_id):
            sub = request.args.get("user") or session.get("user")
            if not sub:
                abort(403)
            return redirect(lms.launch_start(sub, link_id, request.args.get("dl") == "1"))

        @app.get("/oidc/auth")
        def authorize():
            args = request.args
            client_id = args.get("client_id", "")
            if args.get("redirect_uri") != f"{lms.tool}/lti/launch":
                return "redirect_uri not registered", 400
            what = lms.pending.get(args.get("lti_message_hint", ""))
            sub = args.get("login_hint", "")
            if what is None or sub not in lms.users:
                return "no such launch or user", 400
            name, role = lms.users[sub]
            message = MessageLaunch(FlaskLtiRequest(request), lms.config(client_id))
            message.set_id_token_expiration(lms.id_token_expiration)
            message.set_user_data(sub, ROLES[role], full_name=name)
            message.set_launch_context_claim(lms.context_id, context_title="CNN 101")
            message.set_nrps(f"{lms.url}/{lms.context_id}/memberships")
            if what["deep_link"]:
                message.set_dl(f"{lms.url}/deep-link-return", accept_types={"ltiResourceLink"})
            else:
                link = lms.links[what["link"]]
                message.set_resource_link_claim(link.id, title=link.title)
                message.set_custom_parameters_claim(link.custom)
                message.set_ags(f"{lms.url}/{lms.context_id}/lineitems", link.lineitem)
            page = message.lti_launch()
            return page.replace(f'action="{lms.tool}/', f'action="{lms.reachable}/')

        @app.post("/token")
        def token():
            try:
                answer = lms.config().get_access_token(request.form.to_dict())
                lms.issued.append(answer["access_token"])
                return answer
            except Exception as exc:  # the package raises on every bad assertion
                return {"error": "invalid_client", "why": type(exc).__name__}, 401

        @app.post("/deep-link-return")
        def deep_link_return():
            items = lms.config().validate_deeplinking_resp(request.form.to_dict())
            for item in items:
                link = lms.add_link(f"dl-{len(lms.links) + 1}", "", item.get("title", ""))
                link.custom = dict(item.get("custom") or {})
                if item.get("lineItem"):
                    link.lineitem = lms.add_lineitem(
                        {**item["lineItem"], "resourceLinkId": link.id})["id"]
                lms.deep_linked.append(item)
            return "saved"

        def ags(line_item: str | None = None) -> Ags:
            base = f"{lms.url}/{lms.context_id}/lineitems"
            return Ags(FlaskLtiRequest(request), lms.config(), base,
                       f"{base}/{line_item}" if line_item else None, lms=lms)

        @app.route(f"/{self.context_id}/lineitems", methods=["GET", "POST"])
        def lineitems():
            service = ags()
            handler = (service.handle_get_lineitems if request.method == "GET"
                       else service.handle_create_lineitem)
            return json_response(service.handle_resp(handler))

        @app.get(f"/{self.context_id}/lineitems/<number>")
        def lineitem(number):
            service = ags(number)
            return json_response(service.handle_resp(service.handle_get_lineitem,
                                                     line_item_id=number))

        @app.post(f"/{self.context_id}/lineitems/<number>/scores")
        def scores(number):
            service = ags(number)
            return json_response(service.handle_resp(service.handle_update_score,
                                                     line_item_id=number))

        @app.get(f"/{self.context_id}/memberships")
        def memberships():
            service = Nrps(FlaskLtiRequest(request), lms.config(),
                           f"{lms.url}/{lms.context_id}/memberships", lms=lms)
            return json_response(service.handle_resp(service.handle_get_members))

        return app

    def members(self) -> list[dict]:
        return [{"user_id": sub, "name": name, "roles": ROLES[role], "status": "Active"}
                for sub, (name, role) in self.users.items()]


class OidcLogin(OIDCLoginAbstract):
    def set_lti_message_hint(self, **kwargs):
        self._lti_message_hint = kwargs["hint"]

    def get_redirect(self, url: str):
        return redirect(url)


class MessageLaunch(LTIAdvantageMessageLaunchAbstract):
    def render_launch_form(self, launch_data: dict, **kwargs):
        from lti1p3platform.framework.templates import template  # needs pkg_resources

        return template.render(launch_data)


class Ags(AssignmentsGradesService):
    def __init__(self, *args, lms: Lms, **kwargs):
        super().__init__(*args, **kwargs)
        self.lms = lms

    def find_lineitems(self, page=1, limit=None, line_item_id=None, resource_link_id=None,
                       resource_id=None, tag=None, **_ignored) -> dict:
        items = [i for i in self.lms.lineitems.values()
                 if (tag is None or i.get("tag") == tag)
                 and (resource_id is None or i.get("resourceId") == resource_id)
                 and (resource_link_id is None or i.get("resourceLinkId") == resource_link_id)]
        return {"content": items, "has_next": False, "next": None}

    def find_lineitem(self, line_item_id: str) -> dict:
        from lti1p3platform.exceptions import LineItemNotFoundException

        if line_item_id not in self.lms.lineitems:
            raise LineItemNotFoundException()
        return self.lms.lineitems[line_item_id]

    def create_lineitem(self, creation_data) -> dict:
        return self.lms.add_lineitem(dict(creation_data))

    def update_lineitem(self, update_data) -> dict:
        raise NotImplementedError

    def delete_lineitem(self, line_item_id: str) -> None:
        raise NotImplementedError

    def update_score(self, line_item_id: str, score: t.Any):
        from lti1p3platform.score import UpdateScoreStatus

        item = self.find_lineitem(line_item_id)
        self.lms.scores.append({**score, "lineitem": item["id"]})
        return UpdateScoreStatus.SUCCESS

    def get_results(self, line_item_id, page=1, limit=None, user_id=None) -> dict:
        return {"content": [], "has_next": False, "next": None}


class Nrps(NamesRoleProvisioningService):
    def __init__(self, *args, lms: Lms, **kwargs):
        super().__init__(*args, **kwargs)
        self.lms = lms

    def get_member_data_page(self, page=1, limit=None, role=None, since=None, **_ignored):
        return {"content": self.lms.members(), "has_next": False, "next": None}

    def get_context_by_id(self) -> Context:
        return Context(id=self.lms.context_id, label="CNN101", title="CNN 101")
