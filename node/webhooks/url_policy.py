"""Where a webhook may be sent: HTTPS only, plain HTTP only to loopback when the operator allows it,
never link-local or cloud metadata addresses. Checked when an endpoint is saved and again before
every delivery, since DNS may change in between.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from urllib.parse import urlsplit

from node.core.errors import FieldError, InvalidInput

_METADATA_HOSTS = {"metadata.google.internal", "metadata"}
_METADATA_IPS = {ipaddress.ip_address("100.100.100.200"), ipaddress.ip_address("fd00:ec2::254")}


def _forbidden_ip(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    if ip.is_link_local or ip in _METADATA_IPS:
        return "a link-local or cloud metadata address"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        return "not a unicast address"
    return None


def check_url(url: str, *, allow_loopback_http: bool, resolve: Callable[[str], list[str]] | None = None) -> None:
    """HTTPS only (plain HTTP only to loopback when allowed); never link-local or cloud metadata."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host:
        raise InvalidInput("url must be an absolute https URL", errors=[FieldError("url", "must be https://host/…")])
    if host in _METADATA_HOSTS:
        raise InvalidInput("url points at a cloud metadata service", errors=[FieldError("url", "metadata host")])
    resolver = resolve or _resolve
    try:
        addresses = [ipaddress.ip_address(a) for a in resolver(host)]
    except (OSError, ValueError):
        raise InvalidInput(
            f"url host {host!r} does not resolve", errors=[FieldError("url", "does not resolve")]
        ) from None
    for ip in addresses:
        problem = _forbidden_ip(ip)
        if problem:
            raise InvalidInput(f"url resolves to {ip}, {problem}", errors=[FieldError("url", f"resolves to {problem}")])
    loopback = bool(addresses) and all(ip.is_loopback for ip in addresses)
    if parts.scheme == "http" and not (allow_loopback_http and loopback):
        raise InvalidInput(
            "url must use https (plain http only to a loopback address in development)",
            errors=[FieldError("url", "must be https")],
        )


def _resolve(host: str) -> list[str]:
    return sorted({str(info[4][0]) for info in socket.getaddrinfo(host, None)})
