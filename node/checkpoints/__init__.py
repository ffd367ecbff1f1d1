"""Checkpoints: signed balance snapshots a customer can countersign."""
