"""API key tokens: format, salted hash, constant-time check.

A token reads ``sk_test_<key id>_<secret>``. The key id finds the row; only a salted
SHA-256 of the secret is stored, compared with ``hmac.compare_digest``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

from node.core.errors import Unauthenticated

PREFIXES = ("sk_live_", "sk_test_")
SCOPES = ("admin", "write", "read")
_TOKEN = re.compile(r"^(sk_(?:live|test)_)([0-9a-f]{16})_([0-9A-Za-z_-]{43})$")


@dataclass(frozen=True)
class ParsedToken:
    prefix: str
    key_id: str
    secret: str


def format_token(prefix: str, key_id: str, secret: str) -> str:
    return f"{prefix}{key_id}_{secret}"


def parse_token(token: str) -> ParsedToken:
    """Raises Unauthenticated for anything that is not a well-formed token."""
    match = _TOKEN.match(token)
    if match is None:
        raise Unauthenticated("the API key is malformed")
    return ParsedToken(match.group(1), match.group(2), match.group(3))


def hash_secret(salt: bytes, secret: str) -> bytes:
    return hashlib.sha256(salt + secret.encode()).digest()


def verify_secret(salt: bytes, secret: str, expected_hash: bytes) -> None:
    """Raises Unauthenticated unless the secret matches, comparing in constant time."""
    if not hmac.compare_digest(hash_secret(salt, secret), expected_hash):
        raise Unauthenticated("the API key is not valid")


def parse_scopes(text: str) -> tuple[str, ...]:
    scopes = tuple(s for s in (part.strip() for part in text.split(",")) if s)
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise ValueError(f"scopes must be a comma-separated subset of {', '.join(SCOPES)}")
    return scopes
