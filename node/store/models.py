"""Tables. Digests are raw bytes; amounts are decimal strings (int256 does not fit a SQL integer).

Input models and output models live in node.api; these are storage only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import BigInteger, Column, Integer, LargeBinary, UniqueConstraint
from sqlmodel import Field, SQLModel

from node.core.typed_data import Delta
from node.store.event_mappings import EventMappingRow  # noqa: F401  (registered with the other tables)


class DeltaStatus(StrEnum):
    PENDING = "pending"
    ANCHORED = "anchored"
    VERIFIED = "verified"


class BatchStatus(StrEnum):
    PREPARED = "prepared"  # written before the transaction is sent (write-ahead)
    SENT = "sent"  # transaction hash known, not yet mined
    ANCHORED = "anchored"  # mined; waiting for confirmations
    VERIFIED = "verified"  # confirmations passed


def delta_status(batch_status: str | None) -> DeltaStatus:
    """A delta's status is its batch's: pending with no batch or one not mined yet (prepared, sent,
    or sent again after a reorg), then anchored, then verified.

    Derived, not stored per delta (migration 0009): storing it rewrote every delta's row twice after
    its insert, and once more after a reorg.
    """
    if batch_status == BatchStatus.VERIFIED:
        return DeltaStatus.VERIFIED
    if batch_status == BatchStatus.ANCHORED:
        return DeltaStatus.ANCHORED
    return DeltaStatus.PENDING


class WebhookDeliveryStatus(StrEnum):
    PENDING = "pending"  # due at next_attempt_at (first send or a retry)
    DELIVERED = "delivered"  # the endpoint answered 2xx
    FAILED = "failed"  # 410 Gone, or no 2xx within the retry window


def _bytes(*, nullable: bool = False, unique: bool = False, index: bool = False) -> Column[bytes]:
    return Column(LargeBinary, nullable=nullable, unique=unique, index=index)


def _signed_delta(row: DeltaRow | StoredDelta) -> Delta:
    """The signed struct, rebuilt from a stored delta (what proofs and audits hash again)."""
    return Delta(
        tenant=row.tenant,
        customer_id=row.customer_id,
        delta=int(row.amount),
        reason=row.reason,
        reference_id=row.reference_id,
        metadata_hash=row.metadata_hash,
        customer_index=row.customer_index,
        prev_fingerprint=row.prev_fingerprint,
        recorded_at=row.recorded_at,
        salt=row.salt,
        corrects=row.corrects,
    )


def _row_id() -> Column[int]:
    """A 64-bit surrogate key (SQLite's rowid is 64-bit already, and must be spelled INTEGER)."""
    return Column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True)


def _bigint(*, nullable: bool = True, unique: bool = False, index: bool = False) -> Column[int]:
    return Column(BigInteger, nullable=nullable, unique=unique, index=index)


class DeltaRow(SQLModel, table=True):
    __tablename__ = "deltas"
    __table_args__ = (
        UniqueConstraint("tenant", "reference_id", name="uq_deltas_tenant_reference"),
        # The database itself refuses a fork in a customer's chain.
        UniqueConstraint("tenant", "customer_id", "customer_index", name="uq_deltas_chain"),
    )

    id: int | None = Field(default=None, sa_column=_row_id())
    receipt_id: str = Field(unique=True, max_length=40)
    tenant: str = Field(max_length=64, foreign_key="tenants.id")
    customer_id: str = Field(max_length=128)
    reference_id: str = Field(max_length=128)
    amount: str = Field(max_length=80)
    reason: str = Field(max_length=512)
    metadata_json: str | None = None
    metadata_hash: bytes = Field(sa_column=_bytes())
    customer_index: int = Field(sa_column=_bigint(nullable=False))
    prev_fingerprint: bytes = Field(sa_column=_bytes())
    recorded_at: int = Field(sa_column=_bigint(nullable=False))
    salt: bytes = Field(sa_column=_bytes())
    fingerprint: bytes = Field(sa_column=_bytes())  # not indexed: migration 0008 says why
    signature: bytes = Field(sa_column=_bytes())
    request_hash: bytes = Field(sa_column=_bytes())
    log_index: int | None = Field(default=None, sa_column=_bigint(unique=True))
    # Its status is its batch's (``delta_status``); no batch yet: pending.
    batch_id: int | None = Field(default=None, foreign_key="batches.id", index=True)
    api_key_id: str | None = Field(default=None, max_length=40)  # who recorded it
    corrects: bytes = Field(sa_column=_bytes())  # fingerprint of the corrected delta, or 32 zero bytes
    corrects_receipt_id: str | None = Field(default=None, max_length=40)
    # Sum of this customer's deltas 0..customer_index (a decimal string: int256 sums overflow SQL integers).
    running_total: str = Field(max_length=90)
    # Address of the receipt signing key that signed it (keys rotate; the receipt keeps naming its own).
    signer: bytes = Field(sa_column=_bytes(nullable=True))

    def to_delta(self) -> Delta:
        """The signed struct, rebuilt from the row (what proofs and audits hash again)."""
        return _signed_delta(self)


@dataclass(slots=True)
class StoredDelta:
    """A ``deltas`` row as plain data: what the recorder writes and the store's Core reads return.

    An ORM instance costs tens of microseconds to construct; the recorder writes and answers
    thousands of these a second. Its fields are the columns, in the order the Core statements in
    node/store/deltas.py select them. Same attribute names as DeltaRow, so receipts render either.
    """

    id: int | None
    receipt_id: str
    tenant: str
    customer_id: str
    reference_id: str
    amount: str
    reason: str
    metadata_json: str | None
    metadata_hash: bytes
    customer_index: int
    prev_fingerprint: bytes
    recorded_at: int
    salt: bytes
    fingerprint: bytes
    signature: bytes
    request_hash: bytes
    log_index: int | None
    batch_id: int | None
    api_key_id: str | None
    corrects: bytes
    corrects_receipt_id: str | None
    running_total: str
    signer: bytes

    def to_delta(self) -> Delta:
        """The signed struct, rebuilt from the row (as DeltaRow.to_delta)."""
        return _signed_delta(self)


DELTA_COLUMNS: tuple[str, ...] = tuple(StoredDelta.__dataclass_fields__)


class BatchRow(SQLModel, table=True):
    __tablename__ = "batches"

    id: int | None = Field(default=None, primary_key=True)
    start_index: int = Field(sa_column=_bigint(nullable=False, unique=True))
    count: int
    root: bytes = Field(sa_column=_bytes())
    status: str = Field(default=BatchStatus.PREPARED, index=True, max_length=16)
    onchain_batch_id: int | None = Field(default=None, sa_column=_bigint())
    tx_hash: bytes | None = Field(default=None, sa_column=_bytes(nullable=True))
    tx_nonce: int | None = Field(default=None, sa_column=_bigint())
    # The signed transaction, stored before broadcast, so a crash can rebroadcast it as is.
    raw_tx: bytes | None = Field(default=None, sa_column=_bytes(nullable=True))
    block_number: int | None = Field(default=None, sa_column=_bigint())
    block_hash: bytes | None = Field(default=None, sa_column=_bytes(nullable=True))
    gas_used: int | None = Field(default=None, sa_column=_bigint())
    effective_gas_price: int | None = Field(default=None, sa_column=_bigint())
    # A rollup's L1 data fee (OP Stack receipts' l1Fee), paid on top of gas_used x effective_gas_price.
    l1_fee: int | None = Field(default=None, sa_column=_bigint())
    created_at: int = Field(sa_column=_bigint(nullable=False))
    anchored_at: int | None = Field(default=None, sa_column=_bigint())
    verified_at: int | None = Field(default=None, sa_column=_bigint())


@dataclass(slots=True)
class StoredBatch:
    """A ``batches`` row as plain data, as node.store.batches.read_batch returns it for every proof
    (constructing a BatchRow costs ~0.3 ms). The anchoring job's state machine writes BatchRow."""

    id: int | None
    start_index: int
    count: int
    root: bytes
    status: str
    onchain_batch_id: int | None
    tx_hash: bytes | None
    tx_nonce: int | None
    raw_tx: bytes | None
    block_number: int | None
    block_hash: bytes | None
    gas_used: int | None
    effective_gas_price: int | None
    created_at: int
    anchored_at: int | None
    verified_at: int | None


BATCH_COLUMNS: tuple[str, ...] = tuple(StoredBatch.__dataclass_fields__)


class BatchTreeRow(SQLModel, table=True):
    """A batch's whole Merkle tree (``MerkleTree.pack``: 2n-1 nodes of 32 bytes), written with the batch.

    Derived data, kept so a proof is a few slices of one row instead of rebuilding the tree from
    the batch's fingerprints (10,000 leaves: tens of milliseconds). A batch without one (anchored
    before this table existed) is rebuilt on demand as before.
    """

    __tablename__ = "batch_trees"

    batch_id: int = Field(primary_key=True, foreign_key="batches.id")
    nodes: bytes = Field(sa_column=_bytes())


class CustomerBalanceRow(SQLModel, table=True):
    """The verified part of a customer's balance, advanced by the anchoring job as batches verify.

    Derived data: ``derive?verify=true`` recomputes it from the deltas and reports any difference.
    """

    __tablename__ = "customer_balances"

    tenant: str = Field(primary_key=True, max_length=64)
    customer_id: str = Field(primary_key=True, max_length=128)
    verified_balance: str = Field(max_length=90)
    verified_count: int = Field(sa_column=_bigint(nullable=False))


class CheckpointRow(SQLModel, table=True):
    __tablename__ = "checkpoints"
    __table_args__ = (UniqueConstraint("tenant", "customer_id", "from_index", name="uq_checkpoint_start"),)

    id: str = Field(primary_key=True, max_length=40)
    tenant: str = Field(max_length=64, foreign_key="tenants.id", index=True)
    customer_id: str = Field(max_length=128, index=True)
    from_index: int = Field(sa_column=_bigint(nullable=False))
    to_index: int = Field(sa_column=_bigint(nullable=False))
    count: int = Field(sa_column=_bigint(nullable=False))
    opening_balance: str = Field(max_length=90)
    net: str = Field(max_length=90)
    closing_balance: str = Field(max_length=90)
    range_root: bytes = Field(sa_column=_bytes())
    head_fingerprint: bytes = Field(sa_column=_bytes())
    created_at: int = Field(sa_column=_bigint(nullable=False))
    node_signature: bytes = Field(sa_column=_bytes())
    countersignature: bytes | None = Field(default=None, sa_column=_bytes(nullable=True))
    countersigner: bytes | None = Field(default=None, sa_column=_bytes(nullable=True))
    countersigned_at: int | None = Field(default=None, sa_column=_bigint())


class TenantRow(SQLModel, table=True):
    """An operator organisation. Every other row names its tenant; no query crosses tenants."""

    __tablename__ = "tenants"

    id: str = Field(primary_key=True, max_length=64)
    name: str = Field(max_length=128)
    created_at: int = Field(sa_column=_bigint(nullable=False))
    tolerance_absolute: str | None = Field(default=None, max_length=90)  # minor units (int256 as text)
    tolerance_basis_points: int | None = None
    event_reference_mode: str | None = Field(default=None, max_length=16)  # CloudEvents referenceId form


class ApiKeyRow(SQLModel, table=True):
    __tablename__ = "api_keys"

    id: str = Field(primary_key=True, max_length=40)
    tenant: str = Field(index=True, max_length=64, foreign_key="tenants.id")
    name: str = Field(max_length=128)
    prefix: str = Field(max_length=16)
    salt: bytes = Field(sa_column=_bytes())
    secret_hash: bytes = Field(sa_column=_bytes())
    scopes: str = Field(max_length=128)
    # A customer-scoped key (read only) sees that one customer's data and nothing else.
    customer_id: str | None = Field(default=None, max_length=128)
    rate_per_second: float | None = None
    rate_burst: int | None = None
    created_at: int = Field(sa_column=_bigint(nullable=False))
    last_used_at: int | None = Field(default=None, sa_column=_bigint())
    revoked_at: int | None = Field(default=None, sa_column=_bigint())
    # Set when the key is rotated with a grace period: it works until then.
    expires_at: int | None = Field(default=None, sa_column=_bigint())
    rotated_to: str | None = Field(default=None, max_length=40)


class UsageCounterRow(SQLModel, table=True):
    """Requests per tenant, key, UTC day, route and status class (flushed from memory in batches)."""

    __tablename__ = "usage_counters"
    __table_args__ = (
        UniqueConstraint("tenant", "key_id", "day", "method", "route", "status_class", name="uq_usage_counter"),
    )

    id: int | None = Field(default=None, sa_column=_row_id())
    tenant: str = Field(max_length=64, index=True)
    key_id: str = Field(max_length=40)
    day: str = Field(max_length=10, index=True)  # YYYY-MM-DD, UTC
    method: str = Field(max_length=8)
    route: str = Field(max_length=128)
    status_class: str = Field(max_length=3)
    count: int = Field(sa_column=_bigint(nullable=False))


class WebhookEndpointRow(SQLModel, table=True):
    __tablename__ = "webhook_endpoints"

    id: str = Field(primary_key=True, max_length=40)
    tenant: str = Field(max_length=64, foreign_key="tenants.id", index=True)
    url: str = Field(max_length=2048)
    events: str = Field(max_length=512)  # comma-separated event types
    enabled: bool = True
    disabled_reason: str | None = Field(default=None, max_length=256)
    aggregate: bool = False  # batch.verified (one request per batch) instead of delta.verified per delta
    # Needed in clear to sign deliveries (HMAC); never returned after creation or rotation.
    secret: str = Field(max_length=128)
    previous_secret: str | None = Field(default=None, max_length=128)
    previous_secret_expires_at: int | None = Field(default=None, sa_column=_bigint())
    created_at: int = Field(sa_column=_bigint(nullable=False))
    updated_at: int = Field(sa_column=_bigint(nullable=False))


class WebhookDeliveryRow(SQLModel, table=True):
    """One event for one endpoint: the outbox row, written in the transaction that caused the event."""

    __tablename__ = "webhook_deliveries"

    id: str = Field(primary_key=True, max_length=40)
    tenant: str = Field(max_length=64, index=True)
    endpoint_id: str = Field(max_length=40, foreign_key="webhook_endpoints.id", index=True)
    event_type: str = Field(max_length=64)
    payload: str
    idempotency_key: str = Field(max_length=200)
    status: str = Field(default=WebhookDeliveryStatus.PENDING, max_length=16, index=True)
    attempts: int = 0
    next_attempt_at: int = Field(sa_column=_bigint(nullable=False, index=True))
    created_at: int = Field(sa_column=_bigint(nullable=False))
    last_attempt_at: int | None = Field(default=None, sa_column=_bigint())
    delivered_at: int | None = Field(default=None, sa_column=_bigint())
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=512)


class WebhookAttemptRow(SQLModel, table=True):
    __tablename__ = "webhook_attempts"

    id: int | None = Field(default=None, sa_column=_row_id())
    delivery_id: str = Field(max_length=40, foreign_key="webhook_deliveries.id", index=True)
    attempted_at: int = Field(sa_column=_bigint(nullable=False))
    status_code: int | None = None
    latency_ms: int
    error: str | None = Field(default=None, max_length=512)
    response_snippet: str | None = Field(default=None, max_length=512)


class ComparisonRow(SQLModel, table=True):
    __tablename__ = "comparisons"
    # One settlement per (tenant, settlement key): the same variance against the same record head.
    __table_args__ = (UniqueConstraint("tenant", "settlement_key", name="uq_comparison_settlement"),)

    id: str = Field(primary_key=True, max_length=40)
    tenant: str = Field(max_length=64, foreign_key="tenants.id", index=True)
    customer_id: str = Field(max_length=128, index=True)
    submitted_by: str = Field(max_length=40)  # API key id
    as_of_index: int | None = Field(default=None, sa_column=_bigint())
    record_balance: str = Field(max_length=90)
    their_balance: str = Field(max_length=90)
    variance: str = Field(max_length=90)
    tolerance: str = Field(max_length=200)  # JSON
    resolution: str = Field(max_length=16)
    evidence: str  # JSON: the differences (v2: each list cut to its limit, with complete counts)
    settlement_receipt_id: str | None = Field(default=None, max_length=40)
    created_at: int = Field(sa_column=_bigint(nullable=False))
    settlement_key: str | None = Field(default=None, max_length=64)  # node.compare.service.settlement_key
    evidence_expired_at: int | None = Field(default=None, sa_column=_bigint())  # lists dropped, counts kept


class DashboardSessionRow(SQLModel, table=True):
    """A signed-in dashboard browser. The cookie holds a random token; only its SHA-256 is stored here,
    so a copy of the database lets nobody in. The session ends with its key (revoked or expired)."""

    __tablename__ = "dashboard_sessions"

    id: str = Field(primary_key=True, max_length=64)  # hex SHA-256 of the cookie's token
    key_id: str = Field(max_length=40, index=True)
    tenant: str = Field(max_length=64)
    csrf_token: str = Field(max_length=64)  # echoed in every form of the session, checked on every POST
    created_at: int = Field(sa_column=_bigint(nullable=False))
    last_seen_at: int = Field(sa_column=_bigint(nullable=False))
    expires_at: int = Field(sa_column=_bigint(nullable=False))
