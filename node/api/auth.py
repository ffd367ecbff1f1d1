"""Bearer API keys. Tokens are parsed, looked up by key id, and checked in constant time."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from node.core.apikeys import parse_token, verify_secret
from node.core.errors import Forbidden, Unauthenticated
from node.store.db import Store
from node.store.keys import get_api_key, touch_api_key

# Touch last_used_at at most this often per key: a write per request would cost more than the request.
_TOUCH_EVERY_SECONDS = 60


@dataclass(frozen=True)
class Principal:
    key_id: str
    tenant: str
    scopes: frozenset[str]

    def require(self, scope: str) -> None:
        if scope not in self.scopes and "admin" not in self.scopes:
            raise Forbidden(f"this API key lacks the {scope!r} scope")


def authenticate(request: Request) -> Principal:
    header = request.headers.get("authorization")
    if not header:
        raise Unauthenticated("missing Authorization header; send 'Authorization: Bearer <API key>'")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <API key>'")
    parsed = parse_token(token.strip())
    store: Store = request.app.state.store
    with store.session() as session:
        row = get_api_key(session=session, key_id=parsed.key_id)
    if row is None or row.prefix != parsed.prefix:
        raise Unauthenticated("the API key is not valid")
    verify_secret(row.salt, parsed.secret, row.secret_hash)
    if row.revoked_at is not None:
        raise Unauthenticated("the API key has been revoked")
    now = int(time.time())
    if row.last_used_at is None or now - row.last_used_at >= _TOUCH_EVERY_SECONDS:
        with store.writer() as session:
            touch_api_key(session=session, key_id=row.id, at=now)
    return Principal(row.id, row.tenant, frozenset(row.scopes.split(",")))


PrincipalDep = Annotated[Principal, Depends(authenticate)]


def writer(principal: PrincipalDep) -> Principal:
    principal.require("write")
    return principal


def reader(principal: PrincipalDep) -> Principal:
    principal.require("read")
    return principal


WriterDep = Annotated[Principal, Depends(writer)]
ReaderDep = Annotated[Principal, Depends(reader)]
