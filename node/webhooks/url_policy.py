"""Where a webhook may be sent (docs/WEBHOOKS.md, "Where webhooks may go").

HTTPS to a public (globally routable) address. Refused, in every notation: loopback, private
(RFC 1918), shared (CGNAT, 100.64.0.0/10), unique-local (fc00::/7), link-local (169.254.0.0/16,
fe80::/10, where cloud metadata services live), multicast, unspecified and the other special-purpose
ranges; IPv4 written any other way than dotted decimal (``2130706433``, ``0x7f.1``, ``0177.0.0.1``,
``127.1``) is refused as such, and IPv6 forms that carry an IPv4 address (``::ffff:10.0.0.1``, 6to4,
NAT64) are judged by that address. URLs with user info (``https://user@host``) are refused.

The operator may allow named hosts (``PACSPACE_WEBHOOK_ALLOW_PRIVATE_HOSTS``: host names or IP
literals) whose private, loopback or shared addresses may then receive webhooks; link-local and the
metadata addresses never may. Plain ``http://`` is accepted only to such an allowed loopback address
and only when ``allow_loopback_http`` (development chains) says so.

The check resolves the name once and returns the ``Destination`` to connect to: delivery connects to
that checked address (the name goes in the Host header and TLS's SNI and certificate check), so a DNS
answer that changes between the check and the connection (DNS rebinding) cannot redirect it. Checked
when an endpoint is saved and again, with a fresh resolution, before every delivery.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from node.core.errors import FieldError, InvalidInput

IP = ipaddress.IPv4Address | ipaddress.IPv6Address
_METADATA_HOSTS = {"metadata.google.internal", "metadata", "metadata.internal"}
_METADATA_IPS = {ipaddress.ip_address("100.100.100.200"), ipaddress.ip_address("fd00:ec2::254")}
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NUMERIC_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)")


def _resolve(host: str) -> list[str]:
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)})


def _refuse(detail: str, message: str) -> InvalidInput:
    return InvalidInput(detail, errors=[FieldError("url", message)])


def _embedded(ip: IP) -> list[IP]:
    """The address and any IPv4 address an IPv6 form carries (mapped, 6to4, NAT64)."""
    found: list[IP] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            found.append(ip.ipv4_mapped)
        if ip.sixtofour is not None:
            found.append(ip.sixtofour)
        if ip in _NAT64:
            found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


def classify(ip: IP) -> str | None:
    """None for a public address; else why it is not one: "link-local" (never allowed) or "private"
    (loopback, private, shared or another special-purpose range: allowed only to named hosts)."""
    for address in _embedded(ip):
        if address.is_link_local or address in _METADATA_IPS:
            return "link-local"
        if address.is_multicast or address.is_unspecified:
            return "link-local"  # nothing to deliver to: refused like link-local, whatever is allowed
    for address in _embedded(ip):
        if not address.is_global or address.is_loopback or address.is_private:
            return "private"
    return None


def _numeric_but_not_dotted_quad(host: str) -> bool:
    labels = host.rstrip(".").split(".")
    if not all(_NUMERIC_LABEL.fullmatch(label) for label in labels):
        return False
    try:
        return str(ipaddress.IPv4Address(host)) != host
    except ValueError:
        return True


@dataclass(frozen=True)
class Destination:
    """Where one delivery connects: ``url`` names the checked address; ``host_header`` and ``sni`` the host."""

    url: str
    host_header: str
    sni: str | None
    address: str


@dataclass(frozen=True)
class UrlPolicy:
    allow_loopback_http: bool = False
    private_hosts: frozenset[str] = frozenset()
    resolve: Callable[[str], list[str]] = field(default=_resolve, compare=False)

    def check(self, url: str) -> Destination:
        """The destination to connect to; raises InvalidInput naming why the URL is refused."""
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise _refuse("url must be an absolute https URL", "must be https://host/…")
        if parts.username is not None or parts.password is not None or "@" in parts.netloc:
            raise _refuse("url must not carry user info (user:password@)", "must not contain user info")
        try:
            port = parts.port
        except ValueError:
            raise _refuse("url has an invalid port", "invalid port") from None
        host = parts.hostname.lower()
        literal = _ip_literal(host)
        if literal is None and _numeric_but_not_dotted_quad(host):
            raise _refuse(
                f"url host {host!r} is an IPv4 address in another notation than dotted decimal",
                "write an IPv4 address as four decimal numbers (a.b.c.d)",
            )
        if host.rstrip(".") in _METADATA_HOSTS:
            raise _refuse("url points at a cloud metadata service", "metadata host")
        addresses = [literal] if literal is not None else self._resolved(host)
        allowed = host.rstrip(".") in self.private_hosts
        for ip in addresses:
            kind = classify(ip)
            if kind == "link-local":
                raise _refuse(f"url resolves to {ip}, a link-local or metadata address", "resolves to link-local")
            if kind == "private" and not allowed:
                raise _refuse(
                    f"url resolves to {ip}, a private, loopback or shared address; an operator may allow the host "
                    "with PACSPACE_WEBHOOK_ALLOW_PRIVATE_HOSTS",
                    "resolves to a private address",
                )
        if parts.scheme == "http" and not (self.allow_loopback_http and all(ip.is_loopback for ip in addresses)):
            raise _refuse(
                "url must use https (plain http only to an allowed loopback address in development)",
                "must be https",
            )
        chosen = addresses[0]
        netloc = f"[{chosen}]" if chosen.version == 6 else str(chosen)
        if port is not None:
            netloc += f":{port}"
        host_header = parts.netloc.rsplit("@", 1)[-1]
        sni = host if parts.scheme == "https" and literal is None else None
        return Destination(
            urlunsplit((parts.scheme, netloc, parts.path, parts.query, "")), host_header, sni, str(chosen)
        )

    def _resolved(self, host: str) -> list[IP]:
        try:
            found = [ipaddress.ip_address(a.split("%", 1)[0]) for a in self.resolve(host)]
        except (OSError, ValueError, UnicodeError):
            found = []
        if not found:
            raise _refuse(f"url host {host!r} does not resolve", "does not resolve")
        return found


def _ip_literal(host: str) -> IP | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
