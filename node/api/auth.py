"""Bearer API keys: parsed, looked up by key id, checked in constant time, rate limited.

Every failure is a 401 with no hint of which part was wrong, except that failures from one
client address draw from a small bucket: past it, that client gets 429 instead of answers.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from node.api.blocking import small_read
from node.api.deps import services_of
from node.core.apikeys import parse_token, verify_secret
from node.core.errors import Forbidden, PacSpaceError, Unauthenticated
from node.core.ratelimit import BucketPolicy
from node.store.db import Store
from node.store.keys import KeyCredentials, get_key_credentials, touch_api_key

# Where a request's authenticated principal is kept, so that two auth dependencies authenticate once.
_PRINCIPAL = "pacspace.principal"
# Touch last_used_at at most this often per key: a write per request would cost more than the request.
_TOUCH_EVERY_SECONDS = 60


@dataclass(frozen=True)
class Principal:
    key_id: str
    tenant: str
    scopes: frozenset[str]
    customer_id: str | None = None

    def require(self, scope: str) -> None:
        if scope not in self.scopes and "admin" not in self.scopes:
            raise Forbidden(f"this API key lacks the {scope!r} scope")


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _check_token(request: Request, store: Store) -> KeyCredentials:
    header = request.headers.get("authorization")
    if not header:
        raise Unauthenticated("missing Authorization header; send 'Authorization: Bearer <API key>'")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <API key>'")
    return verify_api_key(store, token.strip())


def verify_api_key(store: Store, token: str) -> KeyCredentials:
    """The credentials of a valid, live key (its secret compared in constant time); raises Unauthenticated."""
    parsed = parse_token(token)
    row = get_key_credentials(store, parsed.key_id)
    if row is None or row.prefix != parsed.prefix:
        raise Unauthenticated("the API key is not valid")
    verify_secret(row.salt, parsed.secret, row.secret_hash)
    now = int(time.time())
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        raise Unauthenticated("the API key has been revoked")
    return row


def _touch(store: Store, key_id: str, at: int) -> None:
    with store.writer() as session:
        touch_api_key(session=session, key_id=key_id, at=at)


async def authenticate(request: Request) -> Principal:
    """The key lookup is one indexed read: on the event loop with SQLite (~30 µs, cheaper than the hop
    to a worker thread), in a worker thread with PostgreSQL (node.api.blocking). The occasional
    last-used write waits for the write lock, so it always goes to a worker thread.

    It takes the request alone, and the scoped dependencies below call it directly rather than as a
    sub-dependency: each level of dependencies costs FastAPI ~50 µs per request to solve, as much as
    the key's read and check (docs/PERFORMANCE.md, "One recording path"). Without FastAPI's dependency
    cache between them, a request is authenticated (and its rate limit spent) once by keeping the
    principal in the request's scope."""
    known: Principal | None = request.scope.get(_PRINCIPAL)
    if known is not None:
        return known
    state = services_of(request.scope)
    try:
        row = await small_read(state.store, _check_token, request, state.store)
    except PacSpaceError:
        state.rate_limiter.spend(
            "auth-failure:" + client_address(request),
            state.auth_failure_policy,
            detail="too many failed authentications from this client",
        )
        raise
    now = int(time.time())
    if row.last_used_at is None or now - row.last_used_at >= _TOUCH_EVERY_SECONDS:
        await run_in_threadpool(_touch, state.store, row.id, now)
    principal = Principal(row.id, row.tenant, frozenset(row.scopes.split(",")), row.customer_id)
    request.state.principal = principal
    rate, burst = row.rate_per_second, row.rate_burst
    default: BucketPolicy = state.key_policy
    policy = default if rate is None and burst is None else BucketPolicy(rate or default.rate, burst or default.burst)
    state.rate_limiter.spend("key:" + principal.key_id, policy, detail="this API key's rate limit is exhausted")
    request.scope[_PRINCIPAL] = principal
    return principal


PrincipalDep = Annotated[Principal, Depends(authenticate)]


def _scoped(scope: str) -> object:
    async def dependency(request: Request) -> Principal:  # async: FastAPI runs a plain def in a thread
        principal = await authenticate(request)
        principal.require(scope)
        return principal

    return Depends(dependency)


AdminDep = Annotated[Principal, _scoped("admin")]
WriterDep = Annotated[Principal, _scoped("write")]
ReaderDep = Annotated[Principal, _scoped("read")]
