"""CloudEvents ingest: the tenant's rules for turning events into deltas (mappings, the referenceId form)."""
