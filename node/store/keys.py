"""API key rows: create, look up, touch. The plain secret exists only in create's return value."""

from __future__ import annotations

import secrets
import time
from collections.abc import Sequence

from sqlalchemy import update
from sqlmodel import Session, col, select

from node.core.apikeys import format_token, hash_secret
from node.store.models import ApiKeyRow


def create_api_key(
    *, session: Session, tenant: str, name: str, scopes: Sequence[str], prefix: str = "sk_test_"
) -> tuple[ApiKeyRow, str]:
    """Returns the row and the token. The token is shown once and never stored."""
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
        created_at=int(time.time()),
    )
    session.add(row)
    session.commit()
    return row, format_token(prefix, key_id, secret)


def get_api_key(*, session: Session, key_id: str) -> ApiKeyRow | None:
    return session.get(ApiKeyRow, key_id)


def list_api_keys(*, session: Session, tenant: str | None = None) -> Sequence[ApiKeyRow]:
    stmt = select(ApiKeyRow).order_by(col(ApiKeyRow.created_at))
    if tenant is not None:
        stmt = stmt.where(ApiKeyRow.tenant == tenant)
    return session.exec(stmt).all()


def touch_api_key(*, session: Session, key_id: str, at: int) -> None:
    session.execute(update(ApiKeyRow).where(col(ApiKeyRow.id) == key_id).values(last_used_at=at))
    session.commit()
