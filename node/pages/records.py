"""The steps both faces take to show a receipt (its JSON, whether it is anchored, the verifier's checks
against the chain, the bundle to download) and a comparison (its summary and evidence).

Each step takes the tenant and, for the portal, the customer explicitly: a face passes what its signed-in
session allows (the dashboard: its tenant, ``customer_id=None``; the portal: its tenant and customer), so
an id that belongs to anyone else is the same 404 as one that does not exist."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from fastapi import Response
from fastapi.concurrency import run_in_threadpool

from node.api.schemas import from_comparison_summary
from node.ledger.receipts import receipt_json
from node.ledger.verification import CheckResult, verify_bundle
from node.services import Services
from node.store.models import BatchRow, BatchStatus, ComparisonRow, StoredBatch, StoredDelta

EVIDENCE_SHOWN = 200  # entries per evidence list on a page; the evidence pack has them all
# What each of the verifier's checks means, in the order it runs them (the receipt page explains each).
CHECK_MEANING = {
    "format": "The bundle has every field of a proof bundle, well typed.",
    "domain": "The delta is signed for this chain and this anchor contract.",
    "fingerprint": "Hashing the delta again (EIP-712) gives its fingerprint: no field was changed.",
    "metadata": "The metadata text is canonical JSON and hashes to the signed metadataHash.",
    "signature": "The receipt's signature over the fingerprint recovers to the signer.",
    "leaf": "The Merkle leaf is the hash of the log index and the fingerprint.",
    "proof": "The proof's sibling hashes lead from the leaf to the batch root.",
    "range": "The log index lies inside the batch's range.",
    "chain_id": "The chain answering is the chain the bundle names.",
    "anchorer": "The anchor contract authorises the signer: the contract is the root of trust.",
    "commitment": "The contract stores this batch's root and size, and its verify() accepts the proof.",
    "transaction": "The anchoring transaction succeeded, was sent to the contract and emitted this batch.",
    "block": "The anchoring block is still part of the canonical chain.",
    "confirmations": "Enough blocks are built on top of the anchoring block.",
}


@dataclass(frozen=True)
class ReceiptView:
    row: StoredDelta
    batch: BatchRow | StoredBatch | None
    receipt: dict[str, Any]  # as GET /v1/receipts/{id} answers
    anchored: bool  # its batch is mined: the proof exists


def receipt_view(services: Services, *, tenant: str, receipt_id: str, customer_id: str | None) -> ReceiptView:
    """The receipt as its page shows it; NotFound outside ``tenant`` (and ``customer_id`` when given)."""
    row, batch = services.receipts.get(tenant=tenant, receipt_id=receipt_id, customer_id=customer_id)
    receipt = receipt_json(
        row, batch, head_block=services.head_block(), confirmations_required=services.settings.confirmations
    )
    anchored = batch is not None and batch.status in (BatchStatus.ANCHORED, BatchStatus.VERIFIED)
    return ReceiptView(row, batch, receipt, anchored)


def checks_context(checks: list[CheckResult] | None, meaning: dict[str, str] = CHECK_MEANING) -> dict[str, Any]:
    """What the ``verification`` macro needs: the checks (None before a run), their meaning and the verdict."""
    return {"checks": checks, "check_meaning": meaning, "passed": None if checks is None else all(c.ok for c in checks)}


async def verify_receipt_checks(
    services: Services, *, tenant: str, receipt_id: str, customer_id: str | None
) -> list[CheckResult]:
    """The verifier package's checks of the receipt's proof bundle, against the chain the node reads now
    (with several providers, the preferred one). Blocking work runs off the event loop."""
    bundle = await run_in_threadpool(
        services.receipts.proof_bundle, tenant=tenant, receipt_id=receipt_id, customer_id=customer_id
    )
    return await run_in_threadpool(
        verify_bundle,
        bundle,
        rpc_url=services.anchor.chain.rpc_url(),
        contract=services.settings.contract_address,
        required_confirmations=services.settings.confirmations,
    )


def bundle_download(services: Services, *, tenant: str, receipt_id: str, customer_id: str | None) -> Response:
    """The receipt's proof bundle as a file, as GET /v1/receipts/{id}/proof gives it."""
    bundle = services.receipts.proof_bundle(tenant=tenant, receipt_id=receipt_id, customer_id=customer_id)
    return Response(
        json.dumps(bundle, indent=2),
        media_type=services.domain.protocol.media_type,
        headers={"Content-Disposition": f'attachment; filename="{receipt_id}.json"'},
    )


def comparison_context(row: ComparisonRow) -> dict[str, Any]:
    """What the ``comparison_view`` macro needs: the summary as the API gives it and the evidence lists,
    each cut to ``EVIDENCE_SHOWN`` entries."""
    evidence = json.loads(row.evidence)
    return {
        "comparison": from_comparison_summary(row),
        "evidence": {k: (v[:EVIDENCE_SHOWN] if isinstance(v, list) else v) for k, v in evidence.items()},
        "created_at": row.created_at,
    }
