"""Tenants and API key rows. The plain secret exists only in the return value of create/rotate."""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import bindparam, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from node.core.apikeys import format_token, hash_secret
from node.store.db import Store, dialect_insert
from node.store.models import ApiKeyRow, TenantRow


def ensure_tenant(*, session: Session, tenant: str, name: str | None = None) -> TenantRow:
    """The tenant's row, created if missing (safe when several processes create it at once)."""
    row = session.get(TenantRow, tenant)
    if row is None:
        table = TenantRow.__table__  # type: ignore[attr-defined]
        insert = dialect_insert(session.get_bind().dialect.name, table)
        session.execute(
            insert.values(id=tenant, name=name or tenant, created_at=int(time.time())).on_conflict_do_nothing()
        )
        row = session.get(TenantRow, tenant)
        assert row is not None
    return row


def create_api_key(
    *,
    session: Session,
    tenant: str,
    name: str,
    scopes: Sequence[str],
    prefix: str = "sk_test_",
    customer_id: str | None = None,
    rate_per_second: float | None = None,
    rate_burst: int | None = None,
) -> tuple[ApiKeyRow, str]:
    """Returns the row and the token. The token is shown once and never stored."""
    ensure_tenant(session=session, tenant=tenant)
    key_id = secrets.token_hex(8)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_bytes(16)
    row = ApiKeyRow(
        id=key_id,
        tenant=tenant,
        name=name,
        prefix=prefix,
        salt=salt,
        secret_hash=hash_secret(salt, secret),
        scopes=",".join(scopes),
        customer_id=customer_id,
        rate_per_second=rate_per_second,
        rate_burst=rate_burst,
        created_at=int(time.time()),
    )
    session.add(row)
    session.commit()
    return row, format_token(prefix, key_id, secret)


def get_api_key(*, session: Session, key_id: str) -> ApiKeyRow | None:
    return session.get(ApiKeyRow, key_id)


def get_tenant_key(*, session: Session, tenant: str, key_id: str) -> ApiKeyRow | None:
    row = session.get(ApiKeyRow, key_id)
    return row if row is not None and row.tenant == tenant else None


def list_api_keys(*, session: Session, tenant: str | None = None) -> Sequence[ApiKeyRow]:
    stmt = select(ApiKeyRow).order_by(col(ApiKeyRow.created_at), col(ApiKeyRow.id))
    if tenant is not None:
        stmt = stmt.where(ApiKeyRow.tenant == tenant)
    return session.exec(stmt).all()


def revoke_api_key(*, session: Session, row: ApiKeyRow, at: int) -> ApiKeyRow:
    if row.revoked_at is None:
        row.revoked_at = at
        session.add(row)
        session.commit()
    return row


def rotate_api_key(*, session: Session, row: ApiKeyRow, at: int, grace_seconds: int) -> tuple[ApiKeyRow, str]:
    """A new key with the same tenant, name, scopes and limits; the old one ends after the grace period."""
    new_row, token = create_api_key(
        session=session,
        tenant=row.tenant,
        name=row.name,
        scopes=row.scopes.split(","),
        prefix=row.prefix,
        customer_id=row.customer_id,
        rate_per_second=row.rate_per_second,
        rate_burst=row.rate_burst,
    )
    row.rotated_to = new_row.id
    if grace_seconds <= 0:
        row.revoked_at = at
    else:
        row.expires_at = at + grace_seconds
    session.add(row)
    session.commit()
    return new_row, token


def touch_api_key(*, session: Session, key_id: str, at: int) -> None:
    session.execute(update(ApiKeyRow).where(col(ApiKeyRow.id) == key_id).values(last_used_at=at))
    session.commit()


@dataclass(frozen=True)
class KeyCredentials:
    """What authenticating a request needs from an API key row."""

    id: str
    tenant: str
    prefix: str
    salt: bytes
    secret_hash: bytes
    scopes: str
    customer_id: str | None
    rate_per_second: float | None
    rate_burst: int | None
    last_used_at: int | None
    revoked_at: int | None
    expires_at: int | None


_CREDENTIALS = sa_select(*(col(getattr(ApiKeyRow, name)) for name in KeyCredentials.__dataclass_fields__)).where(
    col(ApiKeyRow.id) == bindparam("key_id")
)


def get_key_credentials(store: Store, key_id: str) -> KeyCredentials | None:
    """The key's credentials, read on every request: one indexed row, no ORM (see Store.read_one)."""
    row = store.read_one(_CREDENTIALS, {"key_id": key_id})
    return None if row is None else KeyCredentials(*row)
