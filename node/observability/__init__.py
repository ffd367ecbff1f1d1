"""Observability: JSON logs and the Prometheus metrics registry."""
