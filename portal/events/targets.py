"""Where webhooks may go: public addresses only, unless ``WEBHOOK_ALLOWED_NETWORKS`` allows more.

Two checks share one rule (:func:`address_allowed`): :func:`url_problem` when a workflow is
saved (a literal address, or what the host name resolves to now), and :func:`guarded_session`
on every call, which checks the address the socket actually connected to, after DNS
resolution, so a name that later resolves to 127.0.0.1 or 169.254.169.254 is refused then.
"""

import ipaddress
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
SETTING = "WEBHOOK_ALLOWED_NETWORKS"


class RefusedTarget(Exception):
    """The connected address is not allowed (not an OSError, so urllib3 does not retry it)."""


def address_allowed(address: str, allowed: Iterable[Network]) -> bool:
    """Return whether a webhook may connect to ``address``: public, or inside an allowed CIDR."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    if any(ip in network for network in allowed):
        return True
    return ip.is_global and not ip.is_multicast


def refusal(address: str) -> str:
    """Return the reason shown for a refused target (names the setting that would allow it)."""
    return f"The webhook target {address} is not a public address and {SETTING} does not allow it."


def url_problem(url: str, allowed: Iterable[Network]) -> str | None:
    """Return why ``url`` may not be a webhook target, or None (checked again on every call)."""
    allowed = tuple(allowed)
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return "The webhook URL has an invalid port."
    try:
        ipaddress.ip_address(host)
        addresses = [host]
    except ValueError:
        try:
            found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            return None  # not resolvable now: the call-time check still applies
        addresses = sorted({info[4][0] for info in found})
    for address in addresses:
        if not address_allowed(address, allowed):
            return refusal(address)
    return None


class _Guard:
    allowed: tuple[Network, ...] = ()

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        peer = sock.getpeername()[0]
        if not address_allowed(peer, self.allowed):
            sock.close()
            raise RefusedTarget(refusal(peer))
        return sock


class GuardedAdapter(HTTPAdapter):
    """A requests adapter whose connections refuse peers outside the allowed networks."""

    def __init__(self, allowed: Iterable[Network]) -> None:
        attrs = {"allowed": tuple(allowed)}
        http = type("GuardedHTTPConnection", (_Guard, HTTPConnection), attrs)
        https = type("GuardedHTTPSConnection", (_Guard, HTTPSConnection), attrs)
        self._pools = {
            "http": type("GuardedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
            "https": type("GuardedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https}),
        }
        super().__init__()

    def init_poolmanager(self, *args, **kwargs) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pools

    def send(self, request, *args, **kwargs):
        try:
            return super().send(request, *args, **kwargs)
        except RefusedTarget as exc:
            raise requests.ConnectionError(str(exc), request=request) from None


class _NoRedirects(requests.Session):
    def send(self, request, **kwargs):
        kwargs["allow_redirects"] = False  # a redirect could point anywhere: never follow one
        return super().send(request, **kwargs)


def guarded_session(allowed: Iterable[Network]) -> requests.Session:
    """Return a session for webhook calls: checked peers, no redirects, no proxies from the env."""
    session = _NoRedirects()
    session.trust_env = False  # a proxy from the environment would hide the real peer
    adapter = GuardedAdapter(allowed)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
