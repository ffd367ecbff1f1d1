"""Replaying a customer's chain from stored rows: every rule a row must satisfy, as pure checks.

The caller streams rows in customer-index order into ``ChainReplay.feed`` and hands batch data
(stored leaves, stored root, on-chain commitment) to ``check_batch``; fetching is the caller's job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from node.core.hashing import ZERO32, to_hex
from node.core.merkle import MerkleTree, compute_batch_commitment
from node.core.signing import recover_signer
from node.core.typed_data import UINT64_MAX, Delta, Domain, compute_fingerprint


@dataclass(frozen=True)
class Discrepancy:
    """One finding. ``reason`` is a stable snake_case code; ``detail`` says what differs.

    ``log_from``..``log_to`` (inclusive) and ``batch_id`` (the contract's batch id) are set by the
    completeness findings (node.core.completeness), which are about log indexes, not one row.
    """

    reason: str
    detail: str
    receipt_id: str | None = None
    customer_index: int | None = None
    batch_start: int | None = None
    log_from: int | None = None
    log_to: int | None = None
    batch_id: int | None = None

    def to_json(self) -> dict[str, object]:
        body: dict[str, object] = {
            "receiptId": self.receipt_id,
            "customerIndex": self.customer_index,
            "batchStartIndex": self.batch_start,
            "reason": self.reason,
            "detail": self.detail,
        }
        if self.log_from is not None:
            body["fromLogIndex"] = self.log_from
            body["toLogIndex"] = self.log_to
        if self.batch_id is not None:
            body["onchainBatchId"] = self.batch_id
        return body


@dataclass(frozen=True)
class SignerWindow:
    """The log indexes ``[from_index, until_index)`` for which the contract counts a receipt signer.

    A v1 contract has no history: a key it authorises now counts for every index (0, 2^64 - 1).
    """

    from_index: int
    until_index: int

    @property
    def active(self) -> bool:
        return self.until_index == UINT64_MAX

    def covers(self, log_index: int) -> bool:
        return self.from_index <= log_index < self.until_index


# What the contract says of a signer address (None: never authorised); the caller fetches it.
SignerLookup = Callable[[bytes], SignerWindow | None]


@dataclass
class ChainReplay:
    """Checks links, fingerprints, signatures, signer windows and running totals, and sums the balances."""

    domain: Domain
    signer_window: SignerLookup
    expected_index: int = 0
    previous_fingerprint: bytes = ZERO32
    total: int = 0
    verified_balance: int = 0
    verified_count: int = 0
    verified_is_prefix: bool = True
    seen: set[bytes] = field(default_factory=set)

    def feed(
        self,
        *,
        receipt_id: str,
        delta: Delta,
        fingerprint: bytes,
        signature: bytes,
        signer: bytes,
        log_index: int | None,
        running_total: int,
        verified: bool,
    ) -> list[Discrepancy]:
        """One row, in customer-index order. ``signer`` is the row's recorded signer; ``log_index`` None
        while the delta is not anchored (its signer must then still be active)."""
        found: list[Discrepancy] = []

        def flag(reason: str, detail: str) -> None:
            found.append(Discrepancy(reason, detail, receipt_id, delta.customer_index))

        if delta.customer_index != self.expected_index:
            flag("index_gap", f"expected customer index {self.expected_index}, found {delta.customer_index}")
        if delta.prev_fingerprint != self.previous_fingerprint:
            flag(
                "broken_link",
                f"prevFingerprint {to_hex(delta.prev_fingerprint)} is not the previous delta's "
                f"{to_hex(self.previous_fingerprint)}",
            )
        recomputed = compute_fingerprint(self.domain, delta)
        if recomputed != fingerprint:
            flag("fingerprint_mismatch", f"stored fields hash to {to_hex(recomputed)}, stored {to_hex(fingerprint)}")
        try:
            signed_by = recover_signer(fingerprint, signature)
        except ValueError as exc:
            flag("bad_signature", str(exc))
        else:
            if (
                not isinstance(signer, bytes) or len(signer) != 20
            ):  # a row written around the node (the column is filled on every insert)
                flag("bad_signature", "no receipt signer is recorded for this delta")
                signer = signed_by
            if signed_by != signer:
                flag("bad_signature", f"signature recovers to {to_hex(signed_by)}, not the signer {to_hex(signer)}")
        window = self.signer_window(signer)
        if window is None:
            flag("signer_not_authorised", f"the contract never authorised the receipt signer {to_hex(signer)}")
        elif log_index is None and not window.active:
            flag(
                "signer_not_authorised",
                f"signer {to_hex(signer)} was revoked at log index {window.until_index} before this delta was anchored",
            )
        elif log_index is not None and not window.covers(log_index):
            flag(
                "signer_not_authorised",
                f"signer {to_hex(signer)} is authorised for log indexes [{window.from_index}, {window.until_index}), "
                f"not {log_index}",
            )
        if delta.corrects != ZERO32 and delta.corrects not in self.seen:
            flag("unknown_correction", f"corrects {to_hex(delta.corrects)}, which is no earlier delta of this customer")
        self.total += delta.delta
        if running_total != self.total:
            flag("running_total_mismatch", f"stored running total {running_total}, replayed {self.total}")
        if verified:
            if self.verified_count != delta.customer_index:
                self.verified_is_prefix = False
            self.verified_balance += delta.delta
            self.verified_count += 1
        self.seen.add(fingerprint)
        self.expected_index = delta.customer_index + 1
        self.previous_fingerprint = fingerprint
        return found

    def finish(self, *, stored_verified_balance: int, stored_verified_count: int) -> list[Discrepancy]:
        found = []
        if not self.verified_is_prefix:
            found.append(Discrepancy("verified_not_prefix", "verified deltas are not a prefix of the chain"))
        if (stored_verified_balance, stored_verified_count) != (self.verified_balance, self.verified_count):
            found.append(
                Discrepancy(
                    "balance_mismatch",
                    f"stored verified balance {stored_verified_balance} over {stored_verified_count} deltas; "
                    f"replayed {self.verified_balance} over {self.verified_count}",
                )
            )
        return found


def check_batch(
    *,
    start_index: int,
    leaf_hashes: Sequence[bytes],
    stored_root: bytes,
    stored_count: int,
    onchain_commitment: bytes | None,
) -> list[Discrepancy]:
    """The stored leaves must rebuild the stored root, and root + count must be what the chain holds."""
    found = []
    if len(leaf_hashes) != stored_count:
        found.append(
            Discrepancy(
                "batch_count_mismatch", f"{len(leaf_hashes)} rows, batch says {stored_count}", None, None, start_index
            )
        )
    elif MerkleTree.build(leaf_hashes).root != stored_root:
        found.append(
            Discrepancy("root_mismatch", "the batch's stored deltas do not rebuild its root", None, None, start_index)
        )
    if onchain_commitment is not None:
        expected = compute_batch_commitment(stored_root, stored_count)
        if onchain_commitment != expected:
            found.append(
                Discrepancy(
                    "not_on_chain",
                    f"the contract's commitment for start index {start_index} is {to_hex(onchain_commitment)}, "
                    f"the stored batch hashes to {to_hex(expected)}",
                    None,
                    None,
                    start_index,
                )
            )
    return found
