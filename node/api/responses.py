"""Typed response bodies for the OpenAPI document: what each operation answers, field by field, so a client
generator can build types from it. Routes build their JSON with the ``from_...`` functions of
node.api.schemas; these models describe that JSON (node.api.openapi attaches them to the operations, and a
test compares real answers with them). ``Int256`` marks amounts that may exceed 2^53: JSON numbers of up to
78 digits, to be parsed as big integers, never as doubles."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from node.api.schemas import ApiKey, Problem, Receipt

INT256_NOTE = (
    "int256 in minor units (-2^255 .. 2^255-1): a JSON integer of up to 78 digits; parse it as a big integer "
    "(JavaScript: a BigInt-aware JSON parser), never as a double"
)
Int256 = Annotated[int, Field(json_schema_extra={"format": "int256"}, description=INT256_NOTE)]
Hex32 = Annotated[str, Field(pattern=r"^0x[0-9a-f]{64}$", description="32 bytes, 0x-prefixed lowercase hex")]
Address = Annotated[str, Field(pattern=r"^0x[0-9a-f]{40}$", description="an Ethereum address, lowercase hex")]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Me(BaseModel):
    keyId: str
    tenant: str
    scopes: list[str]
    customerId: str | None = Field(description="set for a customer-scoped key: the one customer it sees")


class BatchRef(BaseModel):
    id: int = Field(description="the contract's batch id")
    root: Hex32
    startIndex: int
    count: int
    txHash: Hex32
    blockNumber: int
    blockHash: Hex32


class TypedData(_Open):
    """EIP-712 typed data: hashable by eth-account, ethers or viem (docs/PROTOCOL.md)."""

    types: dict[str, list[dict[str, str]]]
    primaryType: str
    domain: dict[str, Any]
    message: dict[str, Any] = Field(description="integers as decimal strings")


class ProofBundle(BaseModel):
    """A self-contained proof (media type application/vnd.pacspace.proof.v2+json, or .v1 on a v1 contract)."""

    version: str = Field(description="pacspace.proof.v1 or pacspace.proof.v2")
    receiptId: str
    chainId: int
    contract: Address
    typedData: TypedData
    metadata: str | None = Field(description="the canonical metadata JSON the metadataHash covers")
    fingerprint: Hex32
    signature: str = Field(description="65 bytes, r‖s‖v")
    signer: Address
    logIndex: int
    leaf: Hex32
    proof: list[Hex32] = Field(description="sibling hashes, leaf to root")
    batch: BatchRef


class Verification(BaseModel):
    verified: bool
    checked: int
    discrepancies: list[dict[str, Any]] = Field(description="each with a reason, a detail and where")


class Balance(BaseModel):
    customerId: str
    balance: Int256 = Field(description="from verified deltas")
    pendingBalance: Int256 = Field(description="from deltas not yet verified")
    verifiedCount: int
    pendingCount: int
    headIndex: int
    headFingerprint: Hex32
    asOfLogIndex: int | None
    verification: Verification | None = Field(default=None, description="only with verify=true")


class Checkpoint(BaseModel):
    checkpointId: str
    customerId: str
    fromIndex: int
    toIndex: int
    count: int
    openingBalance: Int256
    net: Int256
    closingBalance: Int256
    rangeRoot: Hex32
    headFingerprint: Hex32
    createdAt: int = Field(description="unix seconds")
    signer: Address
    signature: str
    countersigner: Address | None
    countersignature: str | None
    countersignedAt: int | None
    typedData: TypedData
    proofToken: str = Field(description="the compact, self-verifying encoding for invoices (0x01… or 0x02…)")


class CheckpointList(BaseModel):
    checkpoints: list[Checkpoint]


class ApiKeyList(BaseModel):
    keys: list[ApiKey]


class Tolerance(BaseModel):
    absolute: Int256 | None
    basisPoints: int | None


class TenantSettingsView(BaseModel):
    tolerance: Tolerance


class EvidenceItem(BaseModel):
    referenceId: str
    receiptId: str
    delta: Int256
    customerIndex: int


class AmountMismatch(BaseModel):
    referenceId: str
    receiptId: str
    record: Int256
    theirs: Int256


class Evidence(_Open):
    limit: int | None = Field(
        default=None, description="pacspace.evidence.v2: each list holds at most this many items; counts are complete"
    )
    onlyInRecord: list[EvidenceItem]
    onlyInTheirs: list[str]
    amountMismatch: list[AmountMismatch]
    pending: list[EvidenceItem]
    counts: dict[str, int]


class AsOf(BaseModel):
    customerIndex: int | None


class ComparisonSummary(BaseModel):
    comparisonId: str
    customerId: str
    asOf: AsOf
    recordBalance: Int256
    theirBalance: Int256
    variance: Int256 = Field(description="theirs − record")
    tolerance: Tolerance
    resolution: str = Field(description="match, auto_settled, within_tolerance or needs_evidence")
    settlementReceiptId: str | None


class Comparison(ComparisonSummary):
    evidence: Evidence = Field(description="every list cut to 1,000 items, with complete counts")
    evidenceExpiredAt: str | None = Field(
        description="when the evidence lists were dropped after the node's evidence retention (ISO 8601), else null"
    )


class EvidencePack(BaseModel):
    version: str = Field(description="pacspace.evidence.v2 (pacspace.evidence.v1 for comparisons stored before it)")
    comparison: ComparisonSummary
    evidence: Evidence
    bundles: list[ProofBundle] = Field(description="the proof bundle of every listed disputed record item")


class UsageRequest(BaseModel):
    keyId: str
    method: str
    route: str
    statusClass: str
    count: int


class _Anchoring(BaseModel):
    deltasVerified: int
    batchesAnchored: int
    gasUsed: int
    costWei: str = Field(description="wei, a decimal string")
    costPerVerifiedDeltaWei: str | None
    costPerVerifiedDeltaFiat: str | None


class UsageDay(_Anchoring):
    date: str
    requests: list[UsageRequest]
    requestCount: int
    deltasRecorded: int
    deltasRecordedByKey: dict[str, int]


class UsageTotals(_Anchoring):
    requestCount: int
    deltasRecorded: int


class UsageReport(BaseModel):
    tenant: str
    from_: str = Field(alias="from")
    to: str
    currency: str
    nativePrice: str | None
    days: list[UsageDay]
    totals: UsageTotals


class WebhookEndpoint(BaseModel):
    id: str
    url: str
    events: list[str]
    enabled: bool
    disabledReason: str | None
    aggregate: bool
    previousSecretActiveUntil: str | None
    createdAt: str
    updatedAt: str


class WebhookEndpointWithSecret(WebhookEndpoint):
    secret: str = Field(description="whsec_…: shown once, here")


class WebhookList(BaseModel):
    webhooks: list[WebhookEndpoint]


class DeliveryAttempt(BaseModel):
    at: str
    statusCode: int | None
    latencyMs: int | None
    error: str | None
    response: str | None


class WebhookDelivery(BaseModel):
    id: str
    event: str
    status: str = Field(description="pending, delivered or failed")
    idempotencyKey: str
    attempts: int
    createdAt: str
    nextAttemptAt: str | None
    deliveredAt: str | None
    lastStatusCode: int | None
    lastError: str | None
    log: list[DeliveryAttempt]


class DeliveryList(BaseModel):
    deliveries: list[WebhookDelivery]


class DeliveryQueued(BaseModel):
    deliveryId: str


class Redelivery(DeliveryQueued):
    status: str


class DeltaOutcome(BaseModel):
    status: int = Field(description="201 created, 200 replay of the first receipt, 409 conflict, 422 invalid")
    receipt: Receipt | None = None
    problem: Problem | None = None


class DeltaBatchOutcome(BaseModel):
    results: list[DeltaOutcome] = Field(description="one per item, in request order")
    created: int
    replayed: int
    failed: int


class Health(_Open):
    status: str = Field(description="ok or degraded")
    receiptSigner: str
    chainId: int
    contract: Address
    signer: Address
    anchorer: Address
    protocolVersion: int
    headBlock: int | None
    unbatchedDeltas: int
    lastAnchorError: str | None
    anchoringLeader: bool
    database: str
