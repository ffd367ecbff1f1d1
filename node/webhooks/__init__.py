"""Webhooks: where they may go (url_policy), the outbox (outbox), sending (delivery), endpoints."""
