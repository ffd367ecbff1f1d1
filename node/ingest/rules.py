"""The tenant's CloudEvents ingest rules: read for every ingest request, changed by the admin API and dashboard.

Read for every request, nothing cached, so every API process applies a change at once: a single event costs one
indexed statement (its type's mapping and the referenceId form), a batch reads the tenant's mappings once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from decimal import Decimal

from node.core.cloudevents import REFERENCE_MODES, EventMapping, IngestRules, check_mapping
from node.core.errors import FieldError, InvalidInput, NotFound
from node.store.comparisons import get_tenant
from node.store.db import Store
from node.store.event_mappings import EventMappingRow, get_mapping, list_mappings
from node.store.event_mappings import delete_mapping as delete_row
from node.store.event_rules import rules_for_type

DEFAULT_REFERENCE_MODE = REFERENCE_MODES[0]


def _mapping(row: EventMappingRow) -> EventMapping:
    return EventMapping(row.event_type, row.quantity_field, Decimal(row.multiplier), row.reason_template)


class IngestRulesService:
    def __init__(self, store: Store, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.clock = clock

    def rules(self, tenant: str, event_types: set[str] | None = None) -> IngestRules:
        """The tenant's rules: every mapping, or only those of ``event_types`` (one type: one statement)."""
        if event_types is not None and len(event_types) == 1:
            (event_type,) = event_types
            mode, found = rules_for_type(self.store, tenant, event_type)
            mappings = (
                {} if found is None else {event_type: EventMapping(event_type, found[0], Decimal(found[1]), found[2])}
            )
            return IngestRules(mode or DEFAULT_REFERENCE_MODE, mappings)
        with self.store.session() as session:
            rows = list_mappings(session=session, tenant=tenant)
            row = get_tenant(session=session, tenant=tenant)
        mode = (row.event_reference_mode if row is not None else None) or DEFAULT_REFERENCE_MODE
        return IngestRules(mode, {r.event_type: _mapping(r) for r in rows})

    def mappings(self, tenant: str) -> list[EventMappingRow]:
        with self.store.session() as session:
            return list(list_mappings(session=session, tenant=tenant))

    def put(
        self, tenant: str, event_type: str, *, quantity_field: str, multiplier: str, reason_template: str | None
    ) -> tuple[EventMappingRow, bool]:
        """Create or replace the mapping of ``event_type``; returns (row, created). Raises InvalidInput."""
        check_mapping(event_type, quantity_field, multiplier, reason_template)
        now = int(self.clock())
        with self.store.writer() as session:
            row = get_mapping(session=session, tenant=tenant, event_type=event_type)
            created = row is None
            if row is None:
                row = EventMappingRow(
                    tenant=tenant,
                    event_type=event_type,
                    quantity_field=quantity_field,
                    multiplier=multiplier,
                    reason_template=reason_template,
                    created_at=now,
                    updated_at=now,
                )
            else:
                row.quantity_field, row.multiplier, row.reason_template = quantity_field, multiplier, reason_template
                row.updated_at = now
            session.add(row)
            session.commit()
            session.refresh(row)
            return row, created

    def delete(self, tenant: str, event_type: str) -> None:
        with self.store.writer() as session:
            if not delete_row(session=session, tenant=tenant, event_type=event_type):
                raise NotFound(f"no mapping for event type {event_type!r}")
            session.commit()

    def reference_mode(self, tenant: str) -> str:
        return self.rules(tenant).reference_mode

    def set_reference_mode(self, tenant: str, mode: str) -> None:
        if mode not in REFERENCE_MODES:
            raise InvalidInput(
                "unknown referenceIdMode",
                errors=[FieldError("referenceIdMode", f"must be one of {', '.join(REFERENCE_MODES)}")],
            )
        with self.store.writer() as session:
            row = get_tenant(session=session, tenant=tenant)
            if row is None:
                raise NotFound(f"no tenant {tenant!r}")
            row.event_reference_mode = mode
            session.add(row)
            session.commit()
