"""Outgoing LTI requests (web.lti.urls): the URLs an instructor registers and a launch message
names cannot aim Stride's server at its own network. By default (LTI_ALLOW_PRIVATE_URLS off)
loopback, private, link-local (the metadata service) and other non-public addresses are refused
for every request kind (key set, token, AGS, NRPS, in the web process and a worker's score job),
judged when connecting (so DNS rebinding does not help) and on every redirect hop. The setting
lets the suite's fake platform on 127.0.0.1 through. Also here: the roster upload's size limit."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import requests
from lti_platform import FakePlatform
from pylti1p3.service_connector import ServiceConnector
from sqlalchemy import select
from test_lti import _answer, _authorize, _begin, _course_id, _sign_in, launch
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from web.auth.accounts import MAX_ROSTER_ROWS
from web.db import session_factory
from web.lti import outcomes, urls
from web.lti.config import http_session
from web.lti.errors import UrlRefused
from web.lti.launch import AGS_CLAIM, NRPS_CLAIM
from web.lti.urls import FORBIDDEN, PRIVATE, PUBLIC, UrlPolicy, address_kind, check_url
from web.models import LtiResourceLink, LtiScoreOutbox, utcnow
from web.settings import Settings

STRICT, OPEN = UrlPolicy(), UrlPolicy(allow_private=True)
METADATA = "http://169.254.169.254/latest/meta-data/"


class CountingPlatform(FakePlatform):
    """The fake platform, counting the requests each path got (and, on demand, answering its
    key set URL with a page that is not JSON)."""

    def __post_init__(self):
        super().__post_init__()
        self.hits: list[str] = []
        self.jwks_page: str | None = None

    def _route(self, request):
        self.hits.append(request.path)
        if request.path == "/jwks" and self.jwks_page is not None:
            return Response(self.jwks_page, mimetype="text/html")
        return super()._route(request)


@pytest.fixture
def platform():
    fake = CountingPlatform().start()
    yield fake
    fake.stop()


@pytest.fixture
def open_app(make_app):
    """The test config: LTI_ALLOW_PRIVATE_URLS on (the fake platform is on 127.0.0.1)."""
    return make_app(PREFERRED_URL_SCHEME="https")


@pytest.fixture
def strict_app(make_app, monkeypatch):
    """The same database with the default policy (as in production)."""
    monkeypatch.delenv("STRIDE_LTI_ALLOW_PRIVATE_URLS", raising=False)
    return make_app(PREFERRED_URL_SCHEME="https", LTI_ALLOW_PRIVATE_URLS=False)


@pytest.fixture
def registered(open_app, platform):
    staff = open_app.test_client()
    _sign_in(staff)
    response = staff.post("/lti/registrations",
                          data=platform.registration_form(_course_id(open_app)))
    assert response.status_code == 302, response.get_data(as_text=True)
    platform.tool_jwks = staff.get("/lti/jwks.json").get_json()
    platform.redirect_uris = ("https://localhost/lti/launch",)
    return platform


def _resolver(monkeypatch, table: dict[str, list[str]]):
    """Names resolve as `table` says (each lookup pops the first answer when several lists are
    given as a list of lists); IP literals resolve to themselves."""
    real = urls.resolve_host

    def resolve(host, port):
        answer = table.get(host)
        if answer is None:
            return real(host, port)
        if answer and isinstance(answer[0], list):
            return answer.pop(0) if len(answer) > 1 else answer[0]
        return answer

    monkeypatch.setattr(urls, "resolve_host", resolve)


@pytest.fixture
def no_connections(monkeypatch):
    """Every socket connection urllib3 would open, recorded and refused."""
    import urllib3.util.connection as connection

    opened = []

    def refuse(address, *args, **kwargs):
        opened.append(address)
        raise OSError("no connection in this test")

    monkeypatch.setattr(connection, "create_connection", refuse)
    return opened


# --- the policy --------------------------------------------------------------------------------

@pytest.mark.parametrize("address, kind", [
    ("93.184.216.34", PUBLIC), ("2606:4700:4700::1111", PUBLIC),
    ("127.0.0.1", PRIVATE), ("127.8.9.10", PRIVATE), ("10.1.2.3", PRIVATE),
    ("172.16.0.9", PRIVATE), ("192.168.1.1", PRIVATE), ("100.64.0.1", PRIVATE),
    ("::1", PRIVATE), ("fc00::5", PRIVATE), ("::ffff:10.0.0.1", PRIVATE),
    ("::ffff:127.0.0.1", PRIVATE), ("2002:7f00:1::", PRIVATE), ("64:ff9b::a00:1", PRIVATE),
    ("169.254.169.254", FORBIDDEN), ("::ffff:169.254.169.254", FORBIDDEN),
    ("fd00:ec2::254", FORBIDDEN), ("fe80::1%eth0", FORBIDDEN), ("0.0.0.0", FORBIDDEN),
    ("0.1.2.3", FORBIDDEN), ("::", FORBIDDEN), ("224.0.0.1", FORBIDDEN), ("ff02::1", FORBIDDEN),
    ("240.0.0.1", FORBIDDEN), ("255.255.255.255", FORBIDDEN), ("not-an-ip", FORBIDDEN),
])
def test_addresses_are_judged_in_ipv4_and_ipv6_and_by_the_ipv4_they_carry(address, kind):
    assert address_kind(address) == kind
    assert (STRICT.judge(address, "https") is None) == (kind == PUBLIC)
    assert (OPEN.judge(address, "https") is None) == (kind != FORBIDDEN)
    assert (OPEN.judge(address, "http") is None) == (kind == PRIVATE)  # http: private only


@pytest.mark.parametrize("url", [
    "https://127.0.0.1/jwks", "https://10.0.0.8:8443/token", "https://[::1]/jwks",
    "https://[::ffff:7f00:1]/jwks", "https://169.254.169.254/latest/meta-data/",
    "https://2130706433/jwks", "http://93.184.216.34/jwks", "ftp://lms.example.edu/jwks",
    "https:///no-host",
])
def test_the_default_refuses_non_public_addresses_plain_http_and_non_http_urls(url):
    with pytest.raises(UrlRefused):
        check_url(url, STRICT)


def test_a_name_is_refused_when_any_address_it_resolves_to_is_private(monkeypatch):
    _resolver(monkeypatch, {"lms.example.edu": ["93.184.216.34"],
                            "intranet.example.edu": ["10.20.30.40"],
                            "mixed.example.edu": ["93.184.216.34", "192.168.0.7"]})
    assert check_url("https://lms.example.edu/jwks", STRICT) == "https://lms.example.edu/jwks"
    for host in ("intranet.example.edu", "mixed.example.edu"):
        with pytest.raises(UrlRefused, match="private or local network"):
            check_url(f"https://{host}/jwks", STRICT)
    assert check_url("https://intranet.example.edu/jwks", OPEN)


def test_dns_rebinding_is_refused_at_connection_time(monkeypatch, no_connections):
    # Public when the URL is checked, loopback when the request connects.
    _resolver(monkeypatch, {"rebind.example.edu": [["93.184.216.34"], ["127.0.0.1"]]})
    check_url("https://rebind.example.edu/jwks", STRICT)
    with pytest.raises(UrlRefused, match="private or local network"):
        http_session(STRICT).get("https://rebind.example.edu/jwks")
    assert no_connections == []


def test_a_connection_goes_to_the_address_judged_with_the_host_name_kept(monkeypatch, platform):
    _resolver(monkeypatch, {"lms.campus.test": ["127.0.0.1"]})  # not in any real DNS
    response = http_session(OPEN).get(f"http://lms.campus.test:{platform.port}/jwks")
    assert response.json() == platform.jwks()
    assert platform.hits == ["/jwks"]


def _tls_files(tmp_path, host: str):
    """A CA and a certificate for `host` signed by it (files: ca.pem, cert.pem, key.pem)."""
    from datetime import UTC, datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def name(text):
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])

    now = datetime.now(UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("Test CA")).issuer_name(name("Test CA"))
          .public_key(ca_key.public_key()).serial_number(1).not_valid_before(now)
          .not_valid_after(now + timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(name(host)).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(2).not_valid_before(now)
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(host)]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(pem))
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(pem))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return tmp_path / "ca.pem", tmp_path / "cert.pem", tmp_path / "key.pem"


def test_tls_still_verifies_the_host_name_of_a_connection_made_to_the_judged_address(
        tmp_path, monkeypatch):
    ca, cert, key = _tls_files(tmp_path, "lms.campus.test")
    app = Response('{"keys": []}', mimetype="application/json")
    server = make_server("127.0.0.1", 0, lambda env, start: app(env, start),
                         ssl_context=(str(cert), str(key)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        _resolver(monkeypatch, {"lms.campus.test": ["127.0.0.1"],
                                "other.campus.test": ["127.0.0.1"]})
        session = http_session(OPEN)
        session.verify = str(ca)
        port = server.server_port
        assert session.get(f"https://lms.campus.test:{port}/jwks").json() == {"keys": []}
        with pytest.raises(requests.exceptions.SSLError):  # same address, another name
            session.get(f"https://other.campus.test:{port}/jwks")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.fixture
def redirector():
    """A server on 127.0.0.1 answering every request with a redirect to ?to=."""
    def app(environ, start_response):
        from werkzeug.wrappers import Request

        target = Request(environ).args.get("to", METADATA)
        return Response("", status=302, headers={"Location": target})(environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()


def test_a_redirect_to_the_metadata_service_or_a_private_name_is_refused(redirector,
                                                                          monkeypatch):
    _resolver(monkeypatch, {"metadata.google.internal": ["169.254.169.254"],
                            "intranet.example.edu": ["10.9.8.7"]})
    session = http_session(OPEN)  # the first hop (127.0.0.1) is allowed; each next is judged
    with pytest.raises(UrlRefused, match="link-local"):
        session.get(f"{redirector}/jwks")
    with pytest.raises(UrlRefused, match="link-local"):
        session.get(f"{redirector}/jwks?to=http://metadata.google.internal/computeMetadata/v1/")
    with pytest.raises(UrlRefused, match="link-local"):  # in its IPv4-mapped IPv6 form
        session.get(f"{redirector}/jwks?to=http://[::ffff:a9fe:a9fe]/latest/")


def test_the_session_ignores_proxies_from_the_environment(monkeypatch, platform):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    assert http_session(OPEN).get(f"{platform.url}/jwks").status_code == 200


def test_the_setting_is_read_from_the_environment_and_checked():
    assert Settings.from_environ({}).lti_allow_private_urls is False
    assert Settings.from_environ({"STRIDE_LTI_ALLOW_PRIVATE_URLS": "1"}).lti_allow_private_urls
    assert not Settings.from_environ({"STRIDE_LTI_ALLOW_PRIVATE_URLS": "off"}) \
        .lti_allow_private_urls
    with pytest.raises(ValueError, match="LTI_ALLOW_PRIVATE_URLS must be true or false"):
        Settings.from_environ({"STRIDE_LTI_ALLOW_PRIVATE_URLS": "perhaps"})


def test_the_default_app_refuses_private_urls(make_app, monkeypatch):
    monkeypatch.delenv("STRIDE_LTI_ALLOW_PRIVATE_URLS", raising=False)
    from server import create_app

    config = {k: v for k, v in make_app().config.items()
              if k in ("TESTING", "SECRET_KEY", "DATABASE_URL", "PROBLEMS_DIR")}
    app = create_app(config)
    assert app.extensions["stride_settings"].lti_allow_private_urls is False


# --- where URLs enter: the registration form and launch claims -------------------------------

def _register(app, form):
    staff = app.test_client()
    _sign_in(staff)
    return staff.post("/lti/registrations", data=form)


def test_the_registration_form_refuses_urls_stride_may_not_call(strict_app, platform,
                                                                 monkeypatch):
    _resolver(monkeypatch, {"lms.example.edu": ["93.184.216.34"],
                            "intranet.example.edu": ["10.20.30.40"]})
    form = platform.registration_form(_course_id(strict_app)) | {
        "issuer": "https://lms.example.edu", "auth_login_url": "https://lms.example.edu/auth",
        "auth_token_url": "https://lms.example.edu/token"}
    plain = _register(strict_app, form)  # the fake platform's own http://127.0.0.1 key set URL
    assert plain.status_code == 422
    assert "The LMS&#39;s public keyset (JWKS) URL must use https://" in plain.get_data(
        as_text=True)
    for url, why in (("https://127.0.0.1:8443/jwks", "private or local network"),
                     ("https://intranet.example.edu/jwks", "private or local network"),
                     ("https://169.254.169.254/jwks", "link-local")):
        page = _register(strict_app, form | {"key_set_url": url}).get_data(as_text=True)
        assert "The LMS&#39;s public keyset (JWKS) URL is not one Stride may call" in page
        assert why in page and "LTI_ALLOW_PRIVATE_URLS" in page
    token = _register(strict_app, form | {"auth_token_url": "https://10.0.0.1/token",
                                          "key_set_url": "https://lms.example.edu/jwks"})
    assert "The LMS&#39;s access token URL is not one Stride may call" in token.get_data(
        as_text=True)
    assert _register(strict_app, form | {
        "key_set_url": "https://lms.example.edu/jwks"}).status_code == 302
    assert platform.hits == []


def test_the_setting_lets_the_fake_platform_register_and_launch(open_app, registered):
    browser = open_app.test_client()
    assert launch(browser, registered, "u1").status_code == 302
    assert "/jwks" in registered.hits


def test_launch_claims_are_stored_only_when_stride_may_call_them(open_app, registered, caplog):
    claims = registered.launch_claims("u1")
    claims[AGS_CLAIM] |= {"lineitems": METADATA, "lineitem": "https://[::]/lineitem"}
    claims[NRPS_CLAIM]["context_memberships_url"] = "http://0.0.0.0:6379/"
    browser = open_app.test_client()
    form = _authorize(_begin(browser, registered, "u1", claims))
    with caplog.at_level("WARNING", logger="web.lti.urls"):
        assert browser.post("/lti/launch", data=form).status_code == 302
    with session_factory(open_app)() as session:
        link = session.scalars(select(LtiResourceLink)).one()
        assert (link.lineitems_url, link.lineitem_url, link.memberships_url) == (None, None, None)
    logged = caplog.text
    assert "AGS line items URL was refused" in logged and "NRPS memberships URL" in logged
    assert all(not path.startswith("/latest") for path in registered.hits)


# --- every request kind, refused by default ----------------------------------------------------

def test_the_key_set_fetch_is_refused_by_default(strict_app, registered):
    registered.hits.clear()
    response = launch(strict_app.test_client(), registered, "u1")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Stride does not send requests to 127.0.0.1" in page
    assert "/jwks" not in registered.hits


def test_a_refused_launch_does_not_show_what_the_key_set_url_answered(open_app, registered):
    registered.jwks_page = "<html>INTERNAL-ADMIN-PAGE secret=hunter2</html>"
    response = launch(open_app.test_client(), registered, "u1")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "could not read the LMS&#39;s public keys" in page
    assert "INTERNAL-ADMIN-PAGE" not in page and registered.url not in page


def _scored(open_app, registered, web_answer) -> None:
    browser = open_app.test_client()
    launch(browser, registered, "u1")
    _answer(open_app, browser, web_answer)


def _row(app) -> LtiScoreOutbox:
    with session_factory(app)() as session:
        return session.scalars(select(LtiScoreOutbox)).one()


def test_the_token_and_ags_requests_are_refused_by_default(open_app, strict_app, registered,
                                                           web_answer, monkeypatch):
    _scored(open_app, registered, web_answer)
    registered.hits.clear()
    now = utcnow()
    assert outcomes.drain(strict_app, now=now).failed == 1
    assert "Stride does not send requests to 127.0.0.1" in _row(strict_app).last_error
    assert "/token" not in registered.hits  # the token request was the one refused
    monkeypatch.setattr(ServiceConnector, "get_access_token", lambda self, scopes: "token")
    assert outcomes.drain(strict_app, now=now + timedelta(hours=2)).failed == 1
    assert "Stride does not send requests to 127.0.0.1" in _row(strict_app).last_error
    assert registered.hits == [] and registered.scores == []  # no line item, no score
    monkeypatch.undo()
    assert outcomes.drain(open_app, now=now + timedelta(hours=4)).sent == 1  # the setting on
    assert len(registered.scores) == 1


def test_a_workers_score_job_reads_the_policy_from_the_environment(open_app, registered,
                                                                   web_answer, monkeypatch):
    _scored(open_app, registered, web_answer)
    registered.hits.clear()
    monkeypatch.delenv("STRIDE_LTI_ALLOW_PRIVATE_URLS", raising=False)
    row_id = _row(open_app).id
    sessions, bank = session_factory(open_app), open_app.extensions["stride_bank"]
    refused = outcomes.deliver(sessions, bank, row_id)
    assert refused.outcome == "failed" and "Stride does not send requests" in refused.error
    assert registered.hits == []
    monkeypatch.setenv("STRIDE_LTI_ALLOW_PRIVATE_URLS", "1")
    later = utcnow() + timedelta(hours=1)
    assert outcomes.deliver(sessions, bank, row_id, now=later).outcome == "sent"


def test_the_roster_request_is_refused_by_default(open_app, strict_app, registered):
    launch(open_app.test_client(), registered, "t1", "instructor")
    registered.hits.clear()
    teacher = strict_app.test_client()
    _sign_in(teacher)
    with session_factory(strict_app)() as session:
        link_id = session.scalar(select(LtiResourceLink.id))
    response = teacher.post(f"/lti/links/{link_id}/roster")
    assert response.status_code == 422
    assert "Stride does not send requests to 127.0.0.1" in response.get_data(as_text=True)
    assert registered.hits == []


# --- the roster upload's size limit ------------------------------------------------------------

def _roster_upload(client, app, size: int):
    import io

    header = b"username,name,email\n"
    row = b"student%06d,Some Student,student@example.edu\n"
    body = header + b"".join(row % i for i in range(size // len(row % 0) + 1))
    return client.post(f"/instructor/admin/roster?course={_course_id(app)}", data={
        "roster": (io.BytesIO(body[:size]), "roster.csv")}, content_type="multipart/form-data")


def test_a_roster_between_the_request_limit_and_2_mb_is_read(app, client, auth):
    auth.login("ines")
    response = _roster_upload(client, app, 400 * 1024)  # above the 256 KB of other requests
    page = response.get_data(as_text=True)
    assert response.status_code == 400  # read, and refused for its rows (about 9000), not size
    assert f"more than {MAX_ROSTER_ROWS} rows" in page and "too large" not in page


@pytest.mark.parametrize("size, status", [(2 * 1024 * 1024 + 10, 400),  # read, then refused
                                          (3 * 1024 * 1024, 413)])  # refused before reading
def test_a_roster_over_2_mb_gets_a_kind_specific_message(app, client, auth, size, status):
    auth.login("ines")
    response = _roster_upload(client, app, size)
    page = response.get_data(as_text=True)
    assert response.status_code == status
    assert "larger than 2 MB" in page and "split it into several files" in page
    assert "256 KB" not in page


def test_other_uploads_keep_the_256_kb_limit_and_say_so(app, client, auth):
    auth.login("ines")
    response = client.post(f"/instructor/admin/join-code?course={_course_id(app)}",
                           data={"code": "x" * (300 * 1024)})
    page = response.get_data(as_text=True)
    assert response.status_code == 413 and "The limit is 256 KB" in page


def test_a_student_keeps_the_256_kb_limit_on_the_roster_form(app, client, auth):
    """Only staff may send a roster, so only staff get its 2 MB request limit."""
    auth.login("alice")
    response = _roster_upload(client, app, 400 * 1024)
    assert response.status_code == 413 and "The limit is 256 KB" in response.get_data(as_text=True)
