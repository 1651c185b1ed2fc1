"""Where a webhook may go, and the one HTTP request that takes it there.

Safety rules (server-side request forgery): an endpoint is ``https://`` on a
host whose every address is public. ``WEBHOOK_ALLOW_LOCAL_TARGETS`` (off by
default; tests and single-machine trials turn it on) also allows private,
loopback and link-local addresses, and plain ``http://`` to loopback only.

The host is resolved again at each try, each address checked, and the
connection made to the checked address (TLS still verifies the name), so a
name that later resolves somewhere private (DNS rebinding) is refused at the
try. Redirects are never followed; a try lasts at most ``WEBHOOK_TIMEOUT_SECONDS``
in all, however slowly the server answers; of the reply only the status and
its first ``EXCERPT_BYTES`` bytes are read.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2000
EXCERPT_BYTES = 300
USER_AGENT = "Rapport-Webhooks/1"


class TargetRefused(ValueError):
    """An address Rapport will not send to, with the reason for a person."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # with its query string


def _address_allowed(address: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_local: bool) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_multicast or address.is_unspecified:
        return False
    return allow_local or address.is_global


def parse_target(url: str, allow_local: bool) -> Target:
    """The URL's parts if its form is acceptable (TargetRefused otherwise); nothing is resolved yet."""
    url = (url or "").strip()
    if not url:
        raise TargetRefused("Enter the address that should receive the answers.")
    if len(url) > MAX_URL_LENGTH:
        raise TargetRefused(f"The address can be at most {MAX_URL_LENGTH} characters.")
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in url):
        raise TargetRefused("The address cannot contain spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise TargetRefused("That is not a valid web address (check the port number).") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").rstrip(".")
    if scheme not in ("https", "http") or not host:
        raise TargetRefused("Enter a full web address starting with https://, e.g. https://hooks.example.com/rapport.")
    if parts.username is not None or parts.password is not None:
        raise TargetRefused("Leave user names and passwords out of the address: each request is signed instead.")
    if parts.fragment:
        raise TargetRefused("Leave out the #fragment: it is never sent to the server.")
    if scheme == "http":
        loopback = _is_loopback_name(host)
        if not (allow_local and loopback):
            raise TargetRefused("The address must start with https:// so answers travel encrypted.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(scheme, host, port or (443 if scheme == "https" else 80), path)


def _is_loopback_name(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve(target: Target, allow_local: bool) -> str:
    """An address of the target's host that may be used; TargetRefused if it has none or any is private."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise TargetRefused(f"The host {target.host} cannot be found (DNS).") from None
    addresses = []
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if not _address_allowed(address, allow_local):
            raise TargetRefused(f"The host {target.host} is on a private, loopback or link-local network "
                                f"({address}); webhooks go to public addresses only.")
        if target.scheme == "http" and not address.is_loopback:
            raise TargetRefused("Plain http:// is allowed only to this machine (loopback).")
        addresses.append(str(address))
    if not addresses:
        raise TargetRefused(f"The host {target.host} cannot be found (DNS).")
    return addresses[0]


def check_url(url: str, allow_local: bool) -> str:
    """The URL, stripped, if Rapport may send to it now; TargetRefused with the reason otherwise."""
    resolve(parse_target(url, allow_local), allow_local)
    return url.strip()


@dataclass
class Reply:
    status: int | None  # None: no reply (refused, unreachable, timed out)
    excerpt: str
    error: str | None  # why it did not count as delivered; None for a 2xx
    duration_ms: int

    @property
    def delivered(self) -> bool:
        return self.error is None


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to an address already checked, with the certificate verified for the host name."""

    def __init__(self, host: str, port: int, address: str, timeout: float, context: ssl.SSLContext):
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address

    def connect(self) -> None:
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


def post(url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_local: bool) -> Reply:
    """POST ``body`` once; never raises for what the network or the server does."""
    started = time.monotonic()

    def done(status: int | None, excerpt: str, error: str | None) -> Reply:
        return Reply(status, excerpt, error, int((time.monotonic() - started) * 1000))

    try:
        target = parse_target(url, allow_local)
        address = resolve(target, allow_local)
    except TargetRefused as exc:
        return done(None, "", f"refused: {exc}")
    if target.scheme == "https":
        connection: http.client.HTTPConnection = _PinnedHTTPSConnection(
            target.host, target.port, address, timeout, ssl.create_default_context())
    else:
        connection = _PinnedHTTPConnection(target.host, target.port, address, timeout)
    # The socket timeout bounds each wait; this bounds the whole try (a server dripping bytes).
    expired = threading.Event()

    def cut() -> None:
        expired.set()
        sock = connection.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    timer = threading.Timer(timeout, cut)
    timer.daemon = True
    timer.start()
    try:
        connection.request("POST", target.path, body=body, headers={
            **headers, "Content-Type": "application/json", "User-Agent": USER_AGENT, "Connection": "close"})
        reply = connection.getresponse()
        excerpt = reply.read(EXCERPT_BYTES).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if expired.is_set() or isinstance(exc, (socket.timeout, TimeoutError)):
            return done(None, "", f"no reply within {timeout:g} seconds")
        return done(None, "", f"could not connect: {_short(exc)}")
    finally:
        timer.cancel()
        connection.close()
    if expired.is_set():
        return done(reply.status, excerpt, f"no complete reply within {timeout:g} seconds")
    if 200 <= reply.status < 300:
        return done(reply.status, excerpt, None)
    if 300 <= reply.status < 400:
        where = reply.getheader("Location") or "?"
        return done(reply.status, excerpt, f"HTTP {reply.status} redirect to {where[:200]} (not followed: "
                                           "give the final address)")
    return done(reply.status, excerpt, f"HTTP {reply.status} {reply.reason}"[:200])


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text[:300]
