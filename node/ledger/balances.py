"""Deriving a customer's balance, and replaying the record to prove it (``verify=true``)."""

from __future__ import annotations

from dataclasses import dataclass

from node.chain.client import AnchorClient
from node.chain.errors import ChainUnavailable
from node.core.audit import ChainReplay, Discrepancy, SignerLookup, SignerWindow, check_batch
from node.core.errors import NotFound
from node.core.merkle import compute_leaf_hash
from node.core.typed_data import Domain
from node.store.balances import get_customer_balance
from node.store.batches import batch_leaves, get_batch, last_verified_log_index
from node.store.db import Store
from node.store.deltas import get_chain_head, iter_customer_deltas
from node.store.models import BatchRow, DeltaStatus, delta_status


@dataclass(frozen=True)
class DerivedBalance:
    customer_id: str
    balance: int  # the verified deltas' sum
    pending_balance: int  # the sum of the deltas not verified yet
    verified_count: int
    pending_count: int
    head_index: int
    head_fingerprint: bytes
    as_of_log_index: int | None  # the last verified log index of the whole log


def derive_balance(store: Store, *, tenant: str, customer_id: str) -> DerivedBalance:
    """O(1) in the number of deltas: the head row carries the running total, the balance row the verified part."""
    with store.session() as session:
        head = get_chain_head(session=session, tenant=tenant, customer_id=customer_id)
        if head is None:
            raise NotFound(f"no deltas recorded for customer {customer_id!r}")
        balance = get_customer_balance(session=session, tenant=tenant, customer_id=customer_id)
        as_of = last_verified_log_index(session=session)
    verified = 0 if balance is None else int(balance.verified_balance)
    verified_count = 0 if balance is None else balance.verified_count
    return DerivedBalance(
        customer_id=customer_id,
        balance=verified,
        pending_balance=int(head.running_total) - verified,
        verified_count=verified_count,
        pending_count=head.customer_index + 1 - verified_count,
        head_index=head.customer_index,
        head_fingerprint=head.fingerprint,
        as_of_log_index=as_of,
    )


def replay_customer(
    store: Store,
    chain: AnchorClient,
    *,
    domain: Domain,
    tenant: str,
    customer_id: str,
    check_batches: bool = True,
    signer_window: SignerLookup | None = None,
) -> list[Discrepancy]:
    """Recompute every fingerprint, signature, link and running total from the stored rows, rebuild
    each batch the customer's deltas are in, and check each batch against the contract (once)."""
    replay = ChainReplay(domain=domain, signer_window=signer_window or signer_windows(chain))
    found: list[Discrepancy] = []
    batch: BatchRow | None = None  # the customer's rows come in log order: each batch read and checked once
    for row in iter_customer_deltas(store.session, tenant=tenant, customer_id=customer_id):
        first_of_batch = False
        if row.batch_id is not None and (batch is None or batch.id != row.batch_id):
            with store.session() as session:
                batch = get_batch(session=session, batch_id=row.batch_id)
            assert batch is not None and batch.id is not None
            first_of_batch = True
        in_batch = batch if row.batch_id is not None else None
        found += replay.feed(
            receipt_id=row.receipt_id,
            delta=row.to_delta(),
            fingerprint=row.fingerprint,
            signature=row.signature,
            signer=row.signer,
            log_index=row.log_index,
            running_total=int(row.running_total),
            verified=delta_status(None if in_batch is None else in_batch.status) == DeltaStatus.VERIFIED,
        )
        if check_batches and first_of_batch and in_batch is not None and in_batch.id is not None:
            # Rebuilding the batch from the stored rows (this one among them) and matching the contract's
            # commitment is the inclusion proof of every row of the batch at once.
            with store.session() as session:
                leaves = batch_leaves(session=session, batch_id=in_batch.id)
            found += check_stored_batch(chain, in_batch, leaves)
    with store.session() as session:
        balance = get_customer_balance(session=session, tenant=tenant, customer_id=customer_id)
    found += replay.finish(
        stored_verified_balance=0 if balance is None else int(balance.verified_balance),
        stored_verified_count=0 if balance is None else balance.verified_count,
    )
    return found


def check_stored_batch(chain: AnchorClient, batch: BatchRow, leaves: list[tuple[int, bytes]]) -> list[Discrepancy]:
    try:
        commitment: bytes | None = chain.stored_commitment(batch.start_index)
    except ChainUnavailable:
        commitment = None
    found = check_batch(
        start_index=batch.start_index,
        leaf_hashes=[compute_leaf_hash(i, fp) for i, fp in leaves],
        stored_root=batch.root,
        stored_count=batch.count,
        onchain_commitment=commitment,
    )
    if commitment is None:
        found.append(
            Discrepancy(
                "chain_unavailable",
                "could not read the contract; on-chain check skipped",
                None,
                None,
                batch.start_index,
            )
        )
    return found


def signer_windows(chain: AnchorClient) -> SignerLookup:
    """The contract's answer for each receipt signer, asked once per address (a replay sees few keys)."""
    known: dict[bytes, SignerWindow | None] = {}

    def lookup(signer: bytes) -> SignerWindow | None:
        if signer not in known:
            known[signer] = chain.signer_window(signer)
        return known[signer]

    return lookup
