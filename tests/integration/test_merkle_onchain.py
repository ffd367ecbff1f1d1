"""Proofs from the Python tree verify on-chain through the deployed contract's verify()."""

from __future__ import annotations

import random
from functools import partial

from node.core.merkle import MerkleTree, compute_leaf_hash
from tests.conftest import Deployment


def test_every_proof_of_many_tree_sizes_verifies_through_the_contract(deployment: Deployment) -> None:
    chain = deployment.client()
    rng = random.Random(42)
    start = 0
    for size in (1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33):
        fingerprints = [rng.randbytes(32) for _ in range(size)]
        tree = MerkleTree.build([compute_leaf_hash(start + i, fp) for i, fp in enumerate(fingerprints)])
        tx_hash, raw = chain.sign_anchor(start_index=start, count=size, root=tree.root, nonce=chain.pending_nonce())
        chain.broadcast(raw)
        assert chain.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)["status"] == 1  # type: ignore[arg-type]
        for i, fp in enumerate(fingerprints):
            verify = partial(chain.verify_on_chain, start_index=start, count=size, root=tree.root, proof=tree.proof(i))
            assert verify(log_index=start + i, fingerprint=fp), (size, i)
            # The same proof for the neighbouring index, or another fingerprint, is refused.
            assert not verify(log_index=start + i, fingerprint=bytes(32))
            if size > 1:
                assert not verify(log_index=start + (i + 1) % size, fingerprint=fp)
        start += size
