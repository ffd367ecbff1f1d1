"""Deriving a balance from an export (section 6): ``ExportChecker`` and the checks across bundles.

Every bundle gets section 4's checks; across bundles the export must be one customer's deltas
0, 1, 2, … linked by prevFingerprint, on one chain and contract. ``inputs.scan_export`` feeds
the checker a line at a time.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TextIO

from pacspace_verify.bundle import Bundle, bundle_index
from pacspace_verify.cached_chain import CHAIN_CACHE_SIZE, CachedChain
from pacspace_verify.chain import (
    ChainFacts,
    ChainSource,
    FetchError,
    attempt,
    fetch_chain_facts,
)
from pacspace_verify.offline import run_offline_checks
from pacspace_verify.onchain import check_commitment, run_chain_checks
from pacspace_verify.protocol import ZERO32, CheckResult, describe, hx, proof_root

# Checks across the bundles of an export, on top of each bundle's own section 4 checks.
EXPORT_CHECKS = ("gap", "order", "link", "corrects", "customer", "deployment")
PRINTED_FAILURES = 50
KEPT_FAILURES = 10_000


@dataclass(frozen=True)
class Failure:
    """One failed check of one export line."""

    line: int
    customer_index: int | None
    receipt_id: str | None
    check: str
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {
            "customerIndex": self.customer_index,
            "receiptId": self.receipt_id,
            "check": self.check,
            "detail": self.detail,
            "line": self.line,
        }

    def describe(self) -> str:
        index = "?" if self.customer_index is None else str(self.customer_index)
        receipt = f" ({self.receipt_id})" if self.receipt_id else ""
        return f"✗ customerIndex {index}{receipt}, line {self.line}: {self.check}: {self.detail}"


DeltaHook = Callable[[int, "int | None", "bytes | None"], None]


class ExportChecker:
    """Checks an export's bundles one at a time, in order, keeping little state.

    Per bundle: section 4's checks (fast mode; chain facts through a ``CachedChain``). Across
    bundles: ``gap`` (customerIndex must go 0, 1, 2, … ; names the first missing index),
    ``order`` (an index repeated or going back), ``link`` (prevFingerprint is the previous
    bundle's fingerprint; index 0 links to zero), ``corrects`` (a non-zero value is the
    fingerprint of an earlier delta of the export), ``customer`` (one tenant and customerId)
    and ``deployment`` (one chainId and contract). The fingerprints seen are kept in a set for
    ``corrects``: about 100 bytes each, ~100 MB for a million deltas.
    """

    def __init__(
        self,
        chain: ChainSource,
        pinned: bytes | None,
        required: int,
        *,
        customer: tuple[str, str] | None = None,
        deployment: tuple[int, bytes] | None = None,
        on_delta: DeltaHook | None = None,
        kept: int | None = None,
    ) -> None:
        self.chain = chain if isinstance(chain, CachedChain) else CachedChain(chain)
        self.pinned = pinned
        self.required = required
        self.customer = customer
        self.customer_from = "the checkpoint's" if customer is not None else "the export's"
        self.deployment = deployment
        self.deployment_from = "the checkpoint's" if deployment is not None else "the export's"
        self.on_delta = on_delta
        self.kept = KEPT_FAILURES if kept is None else kept
        self.count = 0
        self.balance = 0
        self.next_index = 0
        self.prev_fingerprint: bytes | None = ZERO32
        self.head_index: int | None = None
        self.head_log_index: int | None = None  # the log index of the delta at head_index
        self.head_fingerprint: bytes | None = None
        self.seen: set[bytes] = set()
        self.failures: list[Failure] = []
        self.failure_count = 0
        self.failed_bundles = 0
        self.by_check: Counter[str] = Counter()
        self._batch_checks: dict[tuple[object, ...], tuple[ChainFacts, list[CheckResult]]] = {}

    @property
    def ok(self) -> bool:
        return self.count > 0 and self.failure_count == 0

    def _record(self, line: int, index: int | None, receipt_id: str | None, fails: list[tuple[str, str]]) -> None:
        if not fails:
            return
        self.failed_bundles += 1
        for check, detail in fails:
            self.failure_count += 1
            self.by_check[check] += 1
            if len(self.failures) < self.kept:
                self.failures.append(Failure(line, index, receipt_id, check, detail))

    def add_unreadable(self, line: int, why: str) -> None:
        """A line that is no bundle at all. It takes no index: if it stood for a delta, the next
        bundle reports the gap."""
        self.count += 1
        self._record(line, None, None, [("format", why)])

    def _chain_checks(self, b: Bundle) -> list[CheckResult]:
        """Section 4's on-chain checks. All but ``commitment`` depend only on the batch, the
        signer, chainId and contract, so they run once per batch; ``commitment`` includes the
        contract's ``verify`` of this bundle's proof and runs for every bundle."""
        contract = self.pinned if self.pinned is not None else b.contract
        key: tuple[object, ...] = (contract, b.chain_id, b.signer, b.batch_id, b.root, b.start_index, b.count)
        key += (b.tx_hash, b.block_number, b.block_hash)
        memo = self._batch_checks.get(key)
        if memo is None:
            facts = fetch_chain_facts(self.chain, b, contract)
            results = run_chain_checks(b, facts, self.required)
            self._batch_checks[key] = (facts, results)
            if len(self._batch_checks) > CHAIN_CACHE_SIZE:
                self._batch_checks.pop(next(iter(self._batch_checks)))
            return results
        facts, results = memo
        if self._in_verified_batch(b, results):
            return results  # the contract's verify rule, checked locally, holds: same results
        unreachable = isinstance(facts.chain_id, FetchError) and facts.verify is facts.chain_id
        verify = facts.verify if unreachable else self._verify(b, contract)
        commitment = check_commitment(b, replace(facts, verify=verify))
        return [commitment if r.name == "commitment" else r for r in results]

    @staticmethod
    def _in_verified_batch(b: Bundle, results: list[CheckResult]) -> bool:
        """The batch's commitment check passed (stored commitment matches, the contract's verify
        was true for its first bundle) and this bundle meets the rest of verify's rule: its log
        index is in the batch and its proof folds to the root."""
        return (
            all(r.ok for r in results if r.name == "commitment")
            and b.log_index is not None
            and b.start_index is not None
            and b.count is not None
            and b.fingerprint is not None
            and b.proof is not None
            and b.start_index <= b.log_index < b.start_index + b.count
            and proof_root(b.log_index, b.fingerprint, b.proof) == b.root
        )

    def _verify(self, b: Bundle, contract: bytes | None) -> bool | FetchError | None:
        if (
            contract is None
            or b.start_index is None
            or b.count is None
            or b.root is None
            or b.log_index is None
            or b.fingerprint is None
            or b.proof is None
        ):
            return None
        args = (contract, b.start_index, b.count, b.root, b.log_index, b.fingerprint, b.proof)
        return attempt(lambda: self.chain.verify(*args), "verify")

    def bundle_checks(self, b: Bundle) -> list[CheckResult]:
        """Section 4's 14 checks of one bundle: the offline ones in fast mode, the on-chain ones
        with chain facts fetched once per batch (``evidence`` checks its bundles through this)."""
        return run_offline_checks(b, self.pinned, fast=True) + self._chain_checks(b)

    def add(self, line: int, b: Bundle) -> None:
        self.count += 1
        results = self.bundle_checks(b)
        fails = [(r.name, r.detail) for r in results if not r.ok]
        m = b.message
        if m is not None:
            who = (m.tenant, m.customer_id)
            if self.customer is None:
                self.customer = who
            elif who != self.customer:
                fails.append(
                    (
                        "customer",
                        f"tenant/customerId is {describe(m.tenant)}/{describe(m.customer_id)}, "
                        f"{self.customer_from} is {describe(self.customer[0])}/{describe(self.customer[1])}",
                    )
                )
        if b.chain_id is not None and b.contract is not None:
            where = (b.chain_id, b.contract)
            if self.deployment is None:
                self.deployment = where
            elif where != self.deployment:
                fails.append(
                    (
                        "deployment",
                        f"chainId {b.chain_id} contract {hx(b.contract)}, {self.deployment_from} is chainId "
                        f"{self.deployment[0]} contract {hx(self.deployment[1])}",
                    )
                )
        index = bundle_index(b)
        in_sequence = self._sequence(b, index, fails)
        if m is not None and m.corrects != ZERO32 and m.corrects not in self.seen:
            fails.append(
                (
                    "corrects",
                    f"corrects {hx(m.corrects)} is not the fingerprint of an earlier delta of this export",
                )
            )
        if b.fingerprint is not None:
            self.seen.add(b.fingerprint)
        if in_sequence and index is not None:
            delta = m.delta if m is not None else None
            if delta is not None:
                self.balance += delta
            if self.on_delta is not None:
                self.on_delta(index, delta, b.fingerprint)
        self._record(line, index, b.receipt_id, fails)

    def _sequence(self, b: Bundle, index: int | None, fails: list[tuple[str, str]]) -> bool:
        """Place the bundle in the customer's chain; True when it extends it."""
        if index is None:  # the format check names it; like an unreadable line, it takes no index
            return False
        if index < self.next_index:
            fails.append(
                (
                    "order",
                    f"customerIndex {index} comes after {self.next_index - 1}: repeated or out of order",
                )
            )
            return False
        if index > self.next_index:
            first = self.next_index
            span = (
                f"customerIndex {first} is missing"
                if index == first + 1
                else (f"customerIndexes {first}..{index - 1} are missing ({index - first}), first missing {first}")
            )
            if first == 0:
                span += ": the export must start at customerIndex 0 to derive the balance"
            fails.append(("gap", span))
        else:
            want = ZERO32 if index == 0 else self.prev_fingerprint
            m = b.message
            if m is not None and want is not None and m.prev_fingerprint != want:
                previous = (
                    "32 zero bytes (customerIndex 0)"
                    if index == 0
                    else (f"the fingerprint of customerIndex {index - 1}, {hx(want)}")
                )
                fails.append(("link", f"prevFingerprint is {hx(m.prev_fingerprint)}, expected {previous}"))
        self.next_index = index + 1
        self.prev_fingerprint = b.fingerprint
        self.head_index, self.head_fingerprint = index, b.fingerprint
        self.head_log_index = b.log_index
        return True

    def summary(self) -> str:
        if self.ok:
            return f"derived: balance {self.balance} over {self.count} verified deltas"
        checks = ", ".join(f"{name} ×{n}" for name, n in self.by_check.most_common())
        return (
            f"NOT DERIVED: {self.failure_count} failure(s) in {self.failed_bundles} of {self.count} "
            f"bundle(s) ({checks})"
        )

    def failures_json(self) -> dict[str, Any]:
        return {
            "failures": [f.to_json() for f in self.failures],
            "failureCount": self.failure_count,
            "failuresOmitted": self.failure_count - len(self.failures),
        }

    def print_failures(self, out: TextIO, limit: int | None = None) -> None:
        limit = PRINTED_FAILURES if limit is None else limit
        for failure in self.failures[:limit]:
            print(failure.describe(), file=out)
        if self.failure_count > limit:
            print(f"… and {self.failure_count - limit} more failure(s)", file=out)
