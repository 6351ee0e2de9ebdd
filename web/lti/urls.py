"""The one home of the policy for URLs Stride's server itself requests for LTI: the platform's key
set (JWKS) and token URLs of a registration, and the AGS (line items, scores) and NRPS (roster)
URLs a launch message names. Instructors and LMS messages choose these URLs, so without a policy
they could aim Stride's server at its own network (server-side request forgery).

The policy: https only; the host must resolve to public addresses only: never loopback, private,
shared (carrier-grade NAT), link-local (the cloud metadata service, 169.254.169.254), multicast,
reserved or unspecified, in IPv4 and IPv6 alike (IPv4-mapped, 6to4 and NAT64 IPv6 addresses are
judged by the IPv4 address they carry). `LTI_ALLOW_PRIVATE_URLS` (off by default) lets a test or
a campus LMS on a private network through: it admits loopback, private and shared addresses, and
plain http to those only; link-local, multicast, reserved and unspecified stay refused.

`check_url` judges a URL where it enters (the registration form, a launch's claims). It is not
enough on its own: a host name may resolve elsewhere by the time of the request (DNS rebinding).
So `http_session` (`web.lti.config`) sends through `CheckedAdapter`, whose connections resolve the
host once, judge every address, and connect to a judged address (TLS still verifies the host
name). Each redirect hop goes through the same adapter, so it is judged again; the session uses
no proxy from the environment, so the address judged is the one connected to.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from web.lti.errors import UrlRefused

log = logging.getLogger(__name__)
_THIS_NETWORK = ipaddress.ip_network("0.0.0.0/8")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_METADATA_V6 = ipaddress.ip_address("fd00:ec2::254")  # a cloud's metadata service, over IPv6

PUBLIC, PRIVATE, FORBIDDEN = "public", "private", "forbidden"


@dataclass(frozen=True)
class UrlPolicy:
    """Which outgoing LTI URLs Stride requests: `allow_private` is `LTI_ALLOW_PRIVATE_URLS`."""

    allow_private: bool = False

    @classmethod
    def from_settings(cls, settings) -> UrlPolicy:
        """From a `web.settings.Settings` (the web app's, or the worker's from the environment)."""
        return cls(allow_private=bool(settings.lti_allow_private_urls))

    def judge(self, address: str, scheme: str) -> str | None:
        """Why a connection to `address` over `scheme` is refused, or None when it may go."""
        kind = address_kind(address)
        if kind == PUBLIC:
            return None if scheme == "https" else "plain http is only allowed inside a private " \
                                                  "network the operator allows"
        if kind == PRIVATE and self.allow_private:
            return None
        if kind == PRIVATE:
            return "its host is on a private or local network address, which Stride does not call"
        return "its host is a link-local, multicast, reserved or unspecified address, which " \
               "Stride never calls"


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_kind(address: str) -> str:
    """PUBLIC, PRIVATE (loopback, private, shared, unique local) or FORBIDDEN (link-local,
    multicast, reserved, unspecified, not an address) for one IP address in text form."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return FORBIDDEN
    if ip.version == 6:
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            return address_kind(str(embedded))
        if ip == _METADATA_V6:
            return FORBIDDEN
    if ip.is_unspecified or ip.is_multicast or ip.is_link_local:
        return FORBIDDEN
    if ip.is_loopback:  # before reserved: ::1 is inside the reserved ::/8
        return PRIVATE
    if ip.is_reserved or (ip.version == 4 and ip in _THIS_NETWORK):
        return FORBIDDEN
    if ip.is_private or not ip.is_global:
        return PRIVATE
    return PUBLIC


def resolve_host(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (an IP literal resolves to itself)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _parts(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL; ValueError when it is none."""
    parts = urlsplit(url)
    port = parts.port  # ValueError for a port out of range
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not an http(s) URL")
    return parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80)


def judge_host(host: str, port: int, scheme: str, policy: UrlPolicy) -> list[str]:
    """The addresses of `host` Stride may connect to: all it resolves to. Raises UrlRefused when
    one of them is refused (a name with one private address is refused whole) or none resolve."""
    if scheme == "http" and not policy.allow_private:
        raise UrlRefused(f"Stride does not send requests to {host}: it must use https://.")
    try:
        addresses = resolve_host(host, port)
    except (OSError, UnicodeError) as exc:
        raise UrlRefused(f"Stride could not find the host {host} (it does not resolve).") from exc
    if not addresses:
        raise UrlRefused(f"Stride could not find the host {host} (it does not resolve).")
    for address in addresses:
        why = policy.judge(address, scheme)
        if why is not None:
            log.warning("refused an outgoing LTI request to %s (%s): %s", host, address, why)
            raise UrlRefused(f"Stride does not send requests to {host}: {why}.")
    return addresses


def check_url(url: str, policy: UrlPolicy) -> str:
    """`url` when Stride may request it now (see the module); raises UrlRefused saying why."""
    try:
        scheme, host, port = _parts(url)
    except ValueError as exc:
        raise UrlRefused("Stride only sends requests to http(s) URLs with a host.") from exc
    judge_host(host, port, scheme, policy)
    return url


def allowed_or_empty(url: str, policy: UrlPolicy, what: str) -> str:
    """`url` when it passes `check_url`, else "" (logged, saying what was refused): for URLs a
    launch message brings, which Stride stores only when they pass."""
    if not url:
        return ""
    try:
        return check_url(url, policy)
    except UrlRefused as exc:
        log.warning("a launch's %s was refused and not stored (%r): %s", what, url[:200], exc)
        return ""


# --- the connection-time check -----------------------------------------------------------------

class _Checked:
    """Mixed into urllib3's connections: resolve once, judge, connect to a judged address."""

    policy: UrlPolicy = UrlPolicy()
    url_scheme = "https"

    def _new_conn(self):
        host = self._dns_host
        try:
            addresses = judge_host(host, self.port, self.url_scheme, self.policy)
        except UrlRefused as exc:
            if isinstance(exc.__cause__, OSError):
                raise NameResolutionError(self.host, self, exc.__cause__) from exc
            raise
        error: Exception | None = None
        for address in addresses:
            self._dns_host = address
            try:
                return super()._new_conn()
            except (NewConnectionError, ConnectTimeoutError) as exc:
                error = exc
            finally:
                self._dns_host = host
        raise error


@lru_cache(maxsize=4)
def _pool_classes(policy: UrlPolicy) -> dict[str, type]:
    http_conn = type("CheckedHTTPConnection", (_Checked, HTTPConnection),
                     {"policy": policy, "url_scheme": "http"})
    https_conn = type("CheckedHTTPSConnection", (_Checked, HTTPSConnection),
                      {"policy": policy, "url_scheme": "https"})
    return {"http": type("CheckedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
            "https": type("CheckedHTTPSPool", (HTTPSConnectionPool,),
                          {"ConnectionCls": https_conn})}


class CheckedAdapter(HTTPAdapter):
    """A requests transport whose every request (each redirect hop too) is judged by `policy`:
    the URL before sending, the resolved address when connecting."""

    def __init__(self, policy: UrlPolicy, **kwargs):
        self.policy = policy
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _pool_classes(self.policy)

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        raise UrlRefused("Stride sends its LTI requests directly, never through a proxy.")

    def send(self, request, *args, **kwargs):
        try:
            scheme, host, _port = _parts(request.url)
        except ValueError as exc:
            raise UrlRefused("Stride only sends requests to http(s) URLs with a host.") from exc
        if scheme == "http" and not self.policy.allow_private:
            raise UrlRefused(f"Stride does not send requests to {host}: it must use https://.")
        return super().send(request, *args, **kwargs)
