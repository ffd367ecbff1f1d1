"""Persistence: SQLModel tables and the queries the rest of the node needs."""
