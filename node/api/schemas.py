"""Request models (the OpenAPI contract) and the camelCase JSON of responses, built from the services'
typed values by the ``from_...`` functions at the end. Storage models live in node.store."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from node.checkpoints.view import SignedCheckpoint, checkpoint_json
from node.core.compare import MAX_LISTED
from node.core.deltas import (
    MAX_CUSTOMER_ID,
    MAX_INDEX,
    MAX_REASON,
    MAX_REFERENCE_ID,
    DeltaRequest,
    validate_delta_request,
)
from node.core.hashing import to_hex
from node.core.webhooks import SUBSCRIBABLE_EVENTS
from node.keys import api_keys
from node.ledger.balances import DerivedBalance
from node.store.db import Store
from node.store.models import (
    ApiKeyRow,
    ComparisonRow,
    WebhookAttemptRow,
    WebhookDeliveryRow,
    WebhookDeliveryStatus,
    WebhookEndpointRow,
)
from node.usage.service import UsageFigures, UsageReport
from node.webhooks import events
from node.webhooks.events import iso


class DeltaCreate(BaseModel):
    """A credit delta. ``delta`` is an integer in minor units within int256; negative debits."""

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        json_schema_extra={
            "examples": [
                {
                    "customerId": "cust_12345",
                    "delta": -1000,
                    "reason": "Monthly usage charge",
                    "referenceId": "req_abc123",
                }
            ]
        },
    )

    customerId: str = Field(min_length=1, max_length=MAX_CUSTOMER_ID)
    delta: int = Field(ge=-(2**255), le=2**255 - 1)
    reason: str = Field(min_length=1, max_length=MAX_REASON)
    referenceId: str = Field(min_length=1, max_length=MAX_REFERENCE_ID)
    metadata: dict[str, Any] | None = None
    correctsReceiptId: str | None = Field(
        default=None, min_length=1, max_length=40, description="the receipt this delta corrects (same customer)"
    )

    def to_request(self) -> DeltaRequest:
        """The core's validated request; raises InvalidInput naming the field a core rule refuses."""
        return validate_delta_request(
            customer_id=self.customerId,
            delta=self.delta,
            reason=self.reason,
            reference_id=self.referenceId,
            metadata=self.metadata,
            corrects_receipt_id=self.correctsReceiptId,
        )


class Receipt(BaseModel):
    receiptId: str
    status: str = Field(description="pending, anchored or verified")
    customerId: str
    referenceId: str
    delta: int
    reason: str
    metadataHash: str
    customerIndex: int
    prevFingerprint: str
    recordedAt: int = Field(description="unix seconds, as signed")
    corrects: str | None = Field(description="fingerprint of the corrected delta")
    correctsReceiptId: str | None
    fingerprint: str
    signature: str
    signer: str
    logIndex: int | None
    batchId: int | None
    txHash: str | None
    blockNumber: int | None
    confirmations: int
    confirmationsRequired: int


class FieldProblem(BaseModel):
    field: str = Field(description="the request field, e.g. delta or deltas[3].referenceId")
    message: str


class Problem(BaseModel):
    """Every error (RFC 9457, application/problem+json)."""

    type: str = Field(description="https://pacspace.dev/problems/<code>")
    title: str
    status: int = Field(description="the HTTP status")
    code: str = Field(description="stable snake_case code, e.g. invalid_request, reference_conflict")
    detail: str
    errors: list[FieldProblem] = Field(description="each bad field named (empty when no field is to blame)")


class KeyCreate(BaseModel):
    """A new API key. ``customerId`` makes a customer-scoped key: read only, that customer's data only."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1, max_length=128)
    scopes: list[Literal["admin", "write", "read"]] = Field(min_length=1)
    customerId: str | None = Field(default=None, min_length=1, max_length=128)
    live: bool = False
    ratePerSecond: float | None = Field(default=None, gt=0, le=100_000)
    rateBurst: int | None = Field(default=None, ge=1, le=1_000_000)

    def issue(self, store: Store, *, tenant: str) -> tuple[ApiKeyRow, str]:
        """Issue this key for ``tenant`` (the API and the dashboard both create keys through here)."""
        return api_keys.issue_key(
            store,
            tenant=tenant,
            name=self.name,
            scopes=self.scopes,
            customer_id=self.customerId,
            live=self.live,
            rate_per_second=self.ratePerSecond,
            rate_burst=self.rateBurst,
        )


class KeyRotate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    graceSeconds: int = Field(default=0, ge=0, le=7 * 86_400, description="how long the old key keeps working")


class ApiKey(BaseModel):
    id: str
    name: str
    prefix: str
    scopes: list[str]
    customerId: str | None
    status: str = Field(description="active, expiring (rotated, in its grace period) or revoked")
    createdAt: str
    lastUsedAt: str | None
    revokedAt: str | None
    expiresAt: str | None
    rotatedTo: str | None
    ratePerSecond: float | None
    rateBurst: int | None


class ApiKeyCreated(ApiKey):
    secret: str = Field(description="the API key itself; shown once, never stored")


class CheckpointCreate(BaseModel):
    """A range by customer index (default: after the previous checkpoint up to the latest verified
    delta) or by the time deltas were recorded (``from``/``to``, unix seconds, inclusive)."""

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)

    customerId: str = Field(min_length=1, max_length=MAX_CUSTOMER_ID)
    fromIndex: int | None = Field(default=None, ge=0, le=MAX_INDEX)
    toIndex: int | None = Field(default=None, ge=0, le=MAX_INDEX)
    from_: int | None = Field(default=None, alias="from", ge=0, le=MAX_INDEX)
    to: int | None = Field(default=None, ge=0, le=MAX_INDEX)


class Countersign(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    signature: str = Field(
        pattern=r"^0x[0-9a-fA-F]{130}$", description="65-byte secp256k1 signature over the checkpoint's EIP-712 digest"
    )


if TYPE_CHECKING:
    SubscribableEvent = str
else:
    # A Literal built from node.core.webhooks (the one list of events): the same OpenAPI enum and the
    # same validation error as the Literal written out. Type checkers see a str.
    SubscribableEvent = Literal[tuple(event.value for event in SUBSCRIBABLE_EVENTS)]


class WebhookCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    url: str = Field(min_length=8, max_length=2048)
    events: list[SubscribableEvent] = Field(min_length=1)
    aggregate: bool = Field(
        default=False, description="one batch.verified request per batch (paged) instead of delta.verified per delta"
    )


class WebhookUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    url: str | None = Field(default=None, min_length=8, max_length=2048)
    events: list[SubscribableEvent] | None = Field(default=None, min_length=1)
    enabled: bool | None = None
    aggregate: bool | None = None


class WebhookRotate(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    graceSeconds: int = Field(default=86_400, ge=0, le=7 * 86_400, description="the old secret keeps signing this long")


class TheirDelta(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    referenceId: str = Field(min_length=1, max_length=MAX_REFERENCE_ID)
    delta: int = Field(ge=-(2**255), le=2**255 - 1)


class AsOf(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    customerIndex: int | None = Field(default=None, ge=0, le=MAX_INDEX)
    recordedAt: int | None = Field(default=None, ge=0, le=MAX_INDEX, description="unix seconds, inclusive")


class ToleranceModel(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    absolute: int | None = Field(default=None, ge=0, le=2**255 - 1, description="minor units")
    basisPoints: int | None = Field(default=None, ge=0, le=10_000, description="of the record balance")


class CompareBody(BaseModel):
    """The counterparty's view: a balance, deltas (at least one), or both. For large sets, POST text/csv
    instead. The customer is the ``customerId`` query parameter; ``customerId`` here, if sent, must equal it.
    The body is read as it streams (node.compare.json_body), not by this model, which documents it."""

    model_config = ConfigDict(extra="forbid", strict=True)

    customerId: str | None = Field(default=None, min_length=1, max_length=MAX_CUSTOMER_ID)
    theirBalance: int | None = Field(default=None, ge=-(2**255), le=2**255 - 1)
    theirDeltas: list[TheirDelta] | None = None
    asOf: AsOf | None = None
    tolerance: ToleranceModel | None = None


class TenantSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    tolerance: ToleranceModel


# Response bodies. Routes return these dicts; their shapes are the API's JSON.


def from_derived_balance(b: DerivedBalance) -> dict[str, Any]:
    return {
        "customerId": b.customer_id,
        "balance": b.balance,
        "pendingBalance": b.pending_balance,
        "verifiedCount": b.verified_count,
        "pendingCount": b.pending_count,
        "headIndex": b.head_index,
        "headFingerprint": to_hex(b.head_fingerprint),
        "asOfLogIndex": b.as_of_log_index,
    }


def from_checkpoint(view: SignedCheckpoint) -> dict[str, Any]:
    """The same shape as the checkpoint of a checkpoint.* webhook event."""
    return checkpoint_json(view)


def from_comparison_summary(row: ComparisonRow) -> dict[str, Any]:
    """The same shape as a compare.* webhook event's body."""
    return events.comparison_summary(row)


def from_comparison(row: ComparisonRow) -> dict[str, Any]:
    """The summary and the stored evidence (each list at most MAX_LISTED long; its count is complete).
    ``evidenceExpiredAt``: when the lists were dropped after the node's evidence retention (else null)."""
    full = json.loads(row.evidence)
    limited = {k: (v[:MAX_LISTED] if isinstance(v, list) else v) for k, v in full.items()}
    expired = None if row.evidence_expired_at is None else iso(row.evidence_expired_at)
    return {**from_comparison_summary(row), "evidence": limited, "evidenceExpiredAt": expired}


def _anchoring_figures(f: UsageFigures) -> dict[str, Any]:
    """What a day's (or the range's) verifications and anchoring cost; wei as decimal strings."""
    return {
        "deltasVerified": f.deltas_verified,
        "batchesAnchored": f.batches_anchored,
        "gasUsed": f.gas_used,
        "costWei": str(f.cost_wei),
        "costPerVerifiedDeltaWei": None
        if f.cost_per_verified_delta_wei is None
        else str(f.cost_per_verified_delta_wei),
        "costPerVerifiedDeltaFiat": None
        if f.cost_per_verified_delta_fiat is None
        else str(f.cost_per_verified_delta_fiat),
    }


def from_usage_report(r: UsageReport) -> dict[str, Any]:
    days = []
    for d in r.days:
        days.append(
            {
                "date": d.date,
                "requests": [
                    {
                        "keyId": q.key_id,
                        "method": q.method,
                        "route": q.route,
                        "statusClass": q.status_class,
                        "count": q.count,
                    }
                    for q in d.requests
                ],
                "requestCount": d.figures.request_count,
                "deltasRecorded": d.figures.deltas_recorded,
                "deltasRecordedByKey": d.deltas_recorded_by_key,
                **_anchoring_figures(d.figures),
            }
        )
    return {
        "tenant": r.tenant,
        "from": r.first.isoformat(),
        "to": r.last.isoformat(),
        "currency": r.currency,
        "nativePrice": None if r.native_price is None else str(r.native_price),
        "days": days,
        "totals": {
            "requestCount": r.totals.request_count,
            "deltasRecorded": r.totals.deltas_recorded,
            **_anchoring_figures(r.totals),
        },
    }


def from_webhook_endpoint(row: WebhookEndpointRow) -> dict[str, Any]:
    """Never the secret (shown once, by the routes that create or rotate it)."""
    now = int(time.time())
    return {
        "id": row.id,
        "url": row.url,
        "events": row.events.split(","),
        "enabled": row.enabled,
        "disabledReason": row.disabled_reason,
        "aggregate": row.aggregate,
        "previousSecretActiveUntil": iso(row.previous_secret_expires_at)
        if row.previous_secret_expires_at and row.previous_secret_expires_at > now
        else None,
        "createdAt": iso(row.created_at),
        "updatedAt": iso(row.updated_at),
    }


def from_webhook_delivery(row: WebhookDeliveryRow, attempts: list[WebhookAttemptRow]) -> dict[str, Any]:
    return {
        "id": row.id,
        "event": row.event_type,
        "status": row.status,
        "idempotencyKey": row.idempotency_key,
        "attempts": row.attempts,
        "createdAt": iso(row.created_at),
        "nextAttemptAt": iso(row.next_attempt_at) if row.status == WebhookDeliveryStatus.PENDING else None,
        "deliveredAt": None if row.delivered_at is None else iso(row.delivered_at),
        "lastStatusCode": row.last_status_code,
        "lastError": row.last_error,
        "log": [
            {
                "at": iso(a.attempted_at),
                "statusCode": a.status_code,
                "latencyMs": a.latency_ms,
                "error": a.error,
                "response": a.response_snippet,
            }
            for a in attempts
        ],
    }
