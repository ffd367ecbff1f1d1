"""``CachedChain``: a ChainSource memo for exports, where thousands of bundles share a few chain facts."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import cast

from pacspace_verify.chain import ChainSource, T, TxReceipt
from pacspace_verify.protocol import ZERO32, batch_commitment, proof_root

CHAIN_CACHE_SIZE = 4096


class CachedChain:
    """A ChainSource that asks the real one once per distinct question (bounded LRU memo).

    The bundles of an export share the chain id, the contract, the signer and, a batch at a
    time, the batch facts (commitment, transaction receipt, block hash); the head is read once.
    Errors are remembered too, so an unreachable RPC is reported for every bundle without a
    timeout each. ``verify`` asks the contract for the first proof of each batch; the batch's
    other proofs are checked locally by the contract's own rule (section 3: stored commitment
    matches, index in range, proof folds to the root) against the commitment read from chain.
    """

    def __init__(self, chain: ChainSource, size: int = CHAIN_CACHE_SIZE) -> None:
        self.url = chain.url
        self.inner = chain
        self._size = size
        self._memo: OrderedDict[tuple[object, ...], tuple[bool, object]] = OrderedDict()

    def _ask(self, key: tuple[object, ...], fn: Callable[[], T]) -> T:
        hit = self._memo.get(key)
        if hit is None:
            try:
                hit = (True, fn())
            except Exception as exc:
                hit = (False, exc)
            self._memo[key] = hit
            if len(self._memo) > self._size:
                self._memo.popitem(last=False)
        else:
            self._memo.move_to_end(key)
        ok, value = hit
        if not ok:
            assert isinstance(value, BaseException)
            raise value.with_traceback(None)
        return cast("T", value)

    def chain_id(self) -> int:
        return self._ask(("chain_id",), self.inner.chain_id)

    def code_size(self, contract: bytes) -> int:
        return self._ask(("code", contract), lambda: self.inner.code_size(contract))

    def is_anchorer(self, contract: bytes, account: bytes) -> bool:
        return self._ask(("anchorer", contract, account), lambda: self.inner.is_anchorer(contract, account))

    def protocol_version(self, contract: bytes) -> int:
        return self._ask(("protocol", contract), lambda: self.inner.protocol_version(contract))

    def signer_window(self, contract: bytes, signer: bytes) -> tuple[int, int, bool]:
        return self._ask(("window", contract, signer), lambda: self.inner.signer_window(contract, signer))

    def is_signer_for(self, contract: bytes, signer: bytes, log_index: int) -> bool:
        """Answered from the signer's window (read once per signer), by the contract's own rule."""
        from_index, until_index, exists = self.signer_window(contract, signer)
        return exists and from_index <= log_index < until_index

    def batch_commitment(self, contract: bytes, start_index: int) -> bytes:
        return self._ask(
            ("commitment", contract, start_index), lambda: self.inner.batch_commitment(contract, start_index)
        )

    def verify(
        self,
        contract: bytes,
        start_index: int,
        count: int,
        root: bytes,
        log_index: int,
        fingerprint: bytes,
        proof: list[bytes],
    ) -> bool:
        key = ("verify", contract, start_index, count, root)
        if key not in self._memo:
            args = (contract, start_index, count, root, log_index, fingerprint, proof)
            return self._ask(key, lambda: self.inner.verify(*args))
        self._ask(key, lambda: False)  # re-raises the RPC error of the batch's first call, if any
        stored = self.batch_commitment(contract, start_index)
        return (
            stored != ZERO32
            and stored == batch_commitment(root, count)
            and start_index <= log_index < start_index + count
            and proof_root(log_index, fingerprint, proof) == root
        )

    def transaction_receipt(self, tx_hash: bytes) -> TxReceipt | None:
        return self._ask(("receipt", tx_hash), lambda: self.inner.transaction_receipt(tx_hash))

    def block_hash(self, number: int) -> bytes | None:
        return self._ask(("block", number), lambda: self.inner.block_hash(number))

    def head(self) -> int:
        return self._ask(("head",), self.inner.head)
