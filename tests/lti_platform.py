"""A small LTI 1.3 platform (an LMS stand-in) for the tests, served by werkzeug in a thread on a
free port of 127.0.0.1: its own RSA key and JWKS, an OIDC authorization endpoint answering the
tool's login redirect with a signed id_token (as a form to post back), an OAuth2
client-credentials token endpoint checking the tool's signed assertion against the tool's JWKS,
and AGS line items and scores. It shares no code with the tool side (web/lti).
"""

from __future__ import annotations

import html
import json
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlencode

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership"
ROLES = {"student": [f"{MEMBERSHIP}#Learner"], "instructor": [f"{MEMBERSHIP}#Instructor"],
         "ta": [f"{MEMBERSHIP}/Instructor#TeachingAssistant"]}
AGS_SCOPES = ["https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
              "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
              "https://purl.imsglobal.org/spec/lti-ags/scope/score"]


def new_private_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


_KEYS: list = []


def platform_key():
    """The platforms' signing key, made once per run (RSA generation is the slow part)."""
    if not _KEYS:
        _KEYS.append(new_private_key())
    return _KEYS[0]


def pem(private_key) -> str:
    return private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                     serialization.NoEncryption()).decode()


@dataclass
class FakePlatform:
    client_id: str = "stride-client"
    deployment_id: str = "deployment-1"
    context_id: str = "lms-course-1"
    tool_jwks: dict = field(default_factory=dict)  # what the LMS admin pasted from Stride
    redirect_uris: tuple[str, ...] = ()
    scores: list = field(default_factory=list)
    lineitems: dict = field(default_factory=dict)
    members: list = field(default_factory=list)  # NRPS roster entries

    def __post_init__(self):
        self.key = platform_key()
        self.kid = "platform-key-1"
        self.tokens: set[str] = set()
        self.pending: dict[str, dict] = {}  # login_hint -> claims of the next launch
        self._server = None
        self.port = None

    # --- serving ---------------------------------------------------------------------------
    def start(self) -> FakePlatform:
        self._server = make_server("127.0.0.1", self.port or 0, self._wsgi, threaded=True)
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
        return f"http://127.0.0.1:{self.port}"

    @property
    def issuer(self) -> str:
        return self.url

    def registration_form(self, course_id: int) -> dict:
        """What an LMS administrator types into Stride's registration page."""
        return {"course": str(course_id), "name": "Test LMS", "issuer": self.issuer,
                "client_id": self.client_id, "deployment_ids": self.deployment_id,
                "auth_login_url": f"{self.url}/auth", "auth_token_url": f"{self.url}/token",
                "key_set_url": f"{self.url}/jwks", "auth_audience": "", "frame_origins": ""}

    # --- tokens ----------------------------------------------------------------------------
    def jwks(self) -> dict:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.key.public_key()))
        jwk.update(kid=self.kid, alg="RS256", use="sig")
        return {"keys": [jwk]}

    def sign(self, claims: dict, key=None, kid: str | None = None) -> str:
        return jwt.encode(claims, pem(key or self.key), algorithm="RS256",
                          headers={"kid": kid or self.kid})

    def launch_claims(self, sub: str, role: str = "student", *, target: str = "set:open-set",
                      link_id: str = "link-1", deep_link: bool = False, name: str = "",
                      nonce: str = "", with_lineitem: bool = False) -> dict:
        now = int(time.time())
        claims = {
            "iss": self.issuer, "aud": self.client_id, "sub": sub, "iat": now, "exp": now + 300,
            "nonce": nonce, "name": name or f"User {sub}",
            CLAIM + "deployment_id": self.deployment_id, CLAIM + "version": "1.3.0",
            CLAIM + "roles": ROLES[role],
            CLAIM + "context": {"id": self.context_id, "title": "CNN 101"},
        }
        if deep_link:
            claims[CLAIM + "message_type"] = "LtiDeepLinkingRequest"
            claims["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"] = {
                "deep_link_return_url": f"{self.url}/deep-link-return",
                "accept_types": ["ltiResourceLink"], "accept_presentation_document_targets":
                ["iframe"]}
        else:
            claims[CLAIM + "message_type"] = "LtiResourceLinkRequest"
            claims[CLAIM + "target_link_uri"] = "https://stride.test/lti/launch"
            claims[CLAIM + "resource_link"] = {"id": link_id, "title": f"Stride {target}"}
            claims[CLAIM + "custom"] = {"stride_target": target}
            endpoint = {"scope": AGS_SCOPES, "lineitems": f"{self.url}/{self.context_id}/lineitems"}
            if with_lineitem:
                endpoint["lineitem"] = self.add_lineitem({"label": target, "scoreMaximum": 10})
            claims["https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"] = endpoint
            claims["https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice"] = {
                "context_memberships_url": f"{self.url}/{self.context_id}/memberships",
                "service_versions": ["2.0"]}
        return claims

    def add_lineitem(self, item: dict) -> str:
        number = len(self.lineitems) + 1
        item = {**item, "id": f"{self.url}/{self.context_id}/lineitems/{number}"}
        self.lineitems[str(number)] = item
        return item["id"]

    def scores_of(self, sub: str) -> list[dict]:
        return [s for s in self.scores if s["userId"] == sub]

    # --- the endpoints -----------------------------------------------------------------------
    def _wsgi(self, environ, start_response):
        request = Request(environ)
        try:
            response = self._route(request)
        except PermissionError as exc:
            response = Response(str(exc), status=401)
        return response(environ, start_response)

    def _route(self, request: Request) -> Response:
        path = request.path
        if path == "/jwks":
            return Response(json.dumps(self.jwks()), mimetype="application/json")
        if path == "/auth":
            return self._authorize(request)
        if path == "/token":
            return self._token(request)
        if path == f"/{self.context_id}/memberships":
            self._bearer(request)
            return Response(json.dumps({"id": request.url, "context": {"id": self.context_id},
                                        "members": self.members}),
                            mimetype="application/vnd.ims.lti-nrps.v2.membershipcontainer+json")
        match = re.fullmatch(rf"/{re.escape(self.context_id)}/lineitems(?:/(\d+))?(/scores)?",
                             path)
        if match:
            self._bearer(request)
            return self._lineitems(request, match.group(1), bool(match.group(2)))
        return Response("not found", status=404)

    def _authorize(self, request: Request) -> Response:
        args = request.args
        if args.get("client_id") != self.client_id:
            return Response("unknown client_id", status=400)
        if self.redirect_uris and args.get("redirect_uri") not in self.redirect_uris:
            return Response("redirect_uri not registered", status=400)
        if args.get("response_type") != "id_token" or args.get("scope") != "openid":
            return Response("bad OIDC request", status=400)
        claims = self.pending.pop(args.get("login_hint", ""), None)
        if claims is None:
            return Response("no launch pending for this login_hint", status=400)
        claims["nonce"] = args["nonce"]
        token = self.sign(claims)
        page = (f'<form method="post" action="{html.escape(args["redirect_uri"])}">'
                f'<input type="hidden" name="id_token" value="{token}">'
                f'<input type="hidden" name="state" value="{html.escape(args["state"])}">'
                "</form>")
        return Response(page, mimetype="text/html")

    def _token(self, request: Request) -> Response:
        form = request.form
        if form.get("grant_type") != "client_credentials":
            return Response(json.dumps({"error": "unsupported_grant_type"}), status=400)
        assertion = form.get("client_assertion", "")
        kid = jwt.get_unverified_header(assertion).get("kid")
        keys = [k for k in self.tool_jwks.get("keys", []) if k.get("kid") == kid]
        if not keys:
            return Response(json.dumps({"error": "invalid_client"}), status=401)
        public = RSAAlgorithm.from_jwk(json.dumps(keys[0]))
        try:
            claims = jwt.decode(assertion, public, algorithms=["RS256"],
                                audience=f"{self.url}/token")
        except jwt.InvalidTokenError:
            return Response(json.dumps({"error": "invalid_client"}), status=401)
        if claims.get("sub") != self.client_id:
            return Response(json.dumps({"error": "invalid_client"}), status=401)
        token = secrets.token_hex(16)
        self.tokens.add(token)
        return Response(json.dumps({"access_token": token, "token_type": "Bearer",
                                    "expires_in": 3600, "scope": form.get("scope", "")}),
                        mimetype="application/json")

    def _bearer(self, request: Request) -> None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Bearer ") or header[7:] not in self.tokens:
            raise PermissionError("no valid access token")

    def _lineitems(self, request: Request, number: str | None, scores: bool) -> Response:
        if scores:
            if number not in self.lineitems:
                return Response("no such line item", status=404)
            score = json.loads(request.get_data())
            self.scores.append({**score, "lineitem": self.lineitems[number]["id"]})
            return Response("", status=204)
        if number:
            return Response(json.dumps(self.lineitems[number]), mimetype="application/json")
        if request.method == "POST":
            item_id = self.add_lineitem(json.loads(request.get_data()))
            return Response(json.dumps(self.lineitems[item_id.rsplit("/", 1)[1]]), status=201,
                            mimetype="application/json")
        return Response(json.dumps(list(self.lineitems.values())), mimetype="application/json")

    def expect_launch(self, login_hint: str, claims: dict) -> dict:
        self.pending[login_hint] = claims
        return {"iss": self.issuer, "login_hint": login_hint, "client_id": self.client_id,
                "target_link_uri": "https://stride.test/lti/launch",
                "lti_deployment_id": self.deployment_id, "lti_message_hint": uuid.uuid4().hex}

    def oidc_query(self, login_hint: str, claims: dict) -> str:
        return urlencode(self.expect_launch(login_hint, claims))
