"""The counterparty's portal at /portal (being built)."""
