"""Usage: per-tenant request counters and the usage report."""
