"""Webhook signatures: Stripe's scheme and Standard Webhooks, from one secret (pure).

Secret: ``whsec_`` + base64 of 32 random bytes.
- ``Pacspace-Signature: t=<unix>,v1=<hex HMAC-SHA256(key=secret string as UTF-8, "<t>.<body>")>``
  (what Stripe's verifiers compute), one ``v1=`` per active secret during a rotation.
- ``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256(
  key=base64-decoded secret, "<id>.<t>.<body>")>`` (Standard Webhooks), space-separated per secret.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from enum import StrEnum

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)
TOLERANCE_SECONDS = 300


class WebhookEvent(StrEnum):
    """Every event type a delivery carries (its ``type`` field and ``Pacspace-Event`` header)."""

    DELTA_VERIFIED = "delta.verified"
    BATCH_VERIFIED = "batch.verified"
    BATCH_ANCHORED = "batch.anchored"
    BATCH_REORGED = "batch.reorged"
    CHECKPOINT_CREATED = "checkpoint.created"
    CHECKPOINT_COUNTERSIGNED = "checkpoint.countersigned"
    COMPARE_SETTLED = "compare.settled"
    COMPARE_DISPUTED = "compare.disputed"
    # Not subscribable: sent on request to one endpoint, whatever events that endpoint subscribes to.
    TEST = "webhook.test"


# What an endpoint may subscribe to: every event but webhook.test.
SUBSCRIBABLE_EVENTS: tuple[WebhookEvent, ...] = tuple(e for e in WebhookEvent if e is not WebhookEvent.TEST)


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _standard_key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def pacspace_signature(secrets_: Sequence[str], timestamp: int, body: bytes) -> str:
    signed = f"{timestamp}.".encode() + body
    parts = [f"t={timestamp}"]
    parts += [f"v1={hmac.new(s.encode(), signed, hashlib.sha256).hexdigest()}" for s in secrets_]
    return ",".join(parts)


def standard_signature(secrets_: Sequence[str], message_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{message_id}.{timestamp}.".encode() + body
    return " ".join(
        "v1," + base64.b64encode(hmac.new(_standard_key(s), signed, hashlib.sha256).digest()).decode() for s in secrets_
    )


def signature_headers(
    *, secrets_: Sequence[str], message_id: str, timestamp: int, body: bytes, event_type: str, idempotency_key: str
) -> dict[str, str]:
    """Every header a delivery carries. Requires at least one secret."""
    if not secrets_:
        raise ValueError("at least one secret signs a delivery")
    return {
        "Content-Type": "application/json",
        "Pacspace-Signature": pacspace_signature(secrets_, timestamp, body),
        "Pacspace-Event": event_type,
        "Idempotency-Key": idempotency_key,
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": standard_signature(secrets_, message_id, timestamp, body),
    }


class WebhookSignatureError(ValueError):
    """A received delivery's signature or timestamp does not check out."""


def verify_pacspace_signature(
    *, secret: str, header: str, body: bytes, now: int, tolerance: int = TOLERANCE_SECONDS
) -> None:
    """What a receiver does: parse ``t=…,v1=…``, refuse stale timestamps, compare in constant time."""
    fields = [part.split("=", 1) for part in header.split(",") if "=" in part]
    timestamps = [v for k, v in fields if k.strip() == "t"]
    candidates = [v for k, v in fields if k.strip() == "v1"]
    if len(timestamps) != 1 or not timestamps[0].isdigit() or not candidates:
        raise WebhookSignatureError("malformed Pacspace-Signature header")
    timestamp = int(timestamps[0])
    if abs(now - timestamp) > tolerance:
        raise WebhookSignatureError(f"timestamp {timestamp} is more than {tolerance} s from now")
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    if not any(hmac.compare_digest(expected, c.strip()) for c in candidates):
        raise WebhookSignatureError("no v1 signature matches")


def backoff_seconds(attempt: int, *, base: float = 5.0, cap: float = 6 * 3600.0, jitter: float = 0.0) -> float:
    """Delay before retry ``attempt`` (1-based): exponential from ``base``, capped, plus the given jitter
    fraction in [0, 1) of the delay (the caller draws it, so this stays deterministic)."""
    delay = min(cap, base * 2.0 ** min(attempt - 1, 40))
    return delay * (1.0 + jitter)
