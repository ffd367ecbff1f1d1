"""The tenant's CloudEvents ingest rules: event mappings (one row per event type) and the referenceId form.

A mapping says how events of one ``type`` become deltas (node.core.cloudevents); the referenceId form is a
column of the tenant's row (``TenantRow.event_reference_mode``, absent = ``source#id``). node.store.models
imports this module, so the table is registered with the others.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import BigInteger, Column
from sqlmodel import Field, Session, SQLModel, col, select


class EventMappingRow(SQLModel, table=True):
    __tablename__ = "event_mappings"

    tenant: str = Field(primary_key=True, max_length=64)
    event_type: str = Field(primary_key=True, max_length=256)
    quantity_field: str = Field(max_length=256)  # a dotted path into the event's data
    multiplier: str = Field(max_length=80)  # a decimal: credits per unit, sign included
    reason_template: str | None = Field(default=None, max_length=512)
    created_at: int = Field(sa_column=Column(BigInteger, nullable=False))
    updated_at: int = Field(sa_column=Column(BigInteger, nullable=False))


def list_mappings(*, session: Session, tenant: str) -> Sequence[EventMappingRow]:
    stmt = select(EventMappingRow).where(EventMappingRow.tenant == tenant).order_by(col(EventMappingRow.event_type))
    return session.exec(stmt).all()


def get_mapping(*, session: Session, tenant: str, event_type: str) -> EventMappingRow | None:
    return session.get(EventMappingRow, (tenant, event_type))


def delete_mapping(*, session: Session, tenant: str, event_type: str) -> bool:
    row = session.get(EventMappingRow, (tenant, event_type))
    if row is None:
        return False
    session.delete(row)
    return True
