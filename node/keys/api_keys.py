"""A tenant's API keys: the rules over ``node.store.keys`` that the JSON API and the dashboard share.

A customer-scoped key only reads; a tenant sees and changes only its own keys (another tenant's
key id is ``NotFound``, like one that does not exist). The plain secret exists only in the
return value of ``issue_key`` and ``rotate_key``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from node.core.errors import FieldError, InvalidInput, NotFound
from node.store.db import Store
from node.store.keys import create_api_key, get_tenant_key, list_api_keys, revoke_api_key, rotate_api_key
from node.store.models import ApiKeyRow


def key_status(row: ApiKeyRow, now: int | None = None) -> str:
    """``active``, ``expiring`` (rotated, in its grace period) or ``revoked`` (also: expired)."""
    now = int(time.time()) if now is None else now
    if row.revoked_at is not None or (row.expires_at is not None and row.expires_at <= now):
        return "revoked"
    if row.expires_at is not None:
        return "expiring"
    return "active"


def issue_key(
    store: Store,
    *,
    tenant: str,
    name: str,
    scopes: Sequence[str],
    customer_id: str | None = None,
    live: bool = False,
    rate_per_second: float | None = None,
    rate_burst: int | None = None,
) -> tuple[ApiKeyRow, str]:
    """A new key and its token. Raises InvalidInput for a customer-scoped key that is not read-only."""
    wanted = sorted(set(scopes))
    if customer_id is not None and wanted != ["read"]:
        raise InvalidInput(
            "a customer-scoped key can only read",
            errors=[FieldError("scopes", 'must be ["read"] when customerId is set')],
        )
    with store.writer() as session:
        return create_api_key(
            session=session,
            tenant=tenant,
            name=name,
            scopes=wanted,
            prefix="sk_live_" if live else "sk_test_",
            customer_id=customer_id,
            rate_per_second=rate_per_second,
            rate_burst=rate_burst,
        )


def tenant_keys(store: Store, *, tenant: str) -> list[ApiKeyRow]:
    with store.session() as session:
        return list(list_api_keys(session=session, tenant=tenant))


def tenant_key(store: Store, *, tenant: str, key_id: str) -> ApiKeyRow:
    """Raises NotFound unless the key exists and belongs to ``tenant``."""
    with store.session() as session:
        row = get_tenant_key(session=session, tenant=tenant, key_id=key_id)
    if row is None:
        raise NotFound(f"no API key {key_id}")
    return row


def revoke_key(store: Store, *, tenant: str, key_id: str, at: int | None = None) -> ApiKeyRow:
    """Revoke at once (effective on the key's next request); revoking twice is harmless."""
    row = tenant_key(store, tenant=tenant, key_id=key_id)
    with store.writer() as session:
        return revoke_api_key(session=session, row=row, at=int(time.time()) if at is None else at)


def rotate_key(store: Store, *, tenant: str, key_id: str, grace_seconds: int) -> tuple[ApiKeyRow, str]:
    """A new key with the old one's name, scopes, customer and limits; the old one ends now or after the grace."""
    row = tenant_key(store, tenant=tenant, key_id=key_id)
    if row.revoked_at is not None or row.rotated_to is not None:
        raise InvalidInput(
            f"API key {key_id} is already revoked or rotated", errors=[FieldError("keyId", "not active")]
        )
    with store.writer() as session:
        return rotate_api_key(session=session, row=row, at=int(time.time()), grace_seconds=grace_seconds)
