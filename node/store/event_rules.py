"""The one read a single CloudEvent needs: the tenant's referenceId form and its mapping of the event's type."""

from __future__ import annotations

from sqlalchemy import text

from node.store.db import Store

# One statement (see Store.read_one): the tenant's row, and the mapping of the type when there is one.
_ONE_TYPE = text(
    "SELECT t.event_reference_mode, m.quantity_field, m.multiplier, m.reason_template "
    "FROM tenants AS t LEFT JOIN event_mappings AS m ON m.tenant = t.id AND m.event_type = :type "
    "WHERE t.id = :tenant"
)


def rules_for_type(store: Store, tenant: str, event_type: str) -> tuple[str | None, tuple[str, str, str | None] | None]:
    """(referenceId form or None for the default, (quantity field, multiplier, reason template) or None)."""
    row = store.read_one(_ONE_TYPE, {"tenant": tenant, "type": event_type})
    if row is None:
        return None, None
    mode, quantity_field, multiplier, template = row
    return mode, None if quantity_field is None else (quantity_field, multiplier, template)
