"""The hand-rolled EIP-712 encoding against eth-account's generic encoder, for arbitrary deltas."""

from __future__ import annotations

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from node.core.protocol import PROTOCOLS
from node.core.signing import Signer, recover_signer
from node.core.typed_data import (
    INT256_MAX,
    INT256_MIN,
    UINT64_MAX,
    Delta,
    Domain,
    build_typed_data,
    compute_fingerprint,
)

texts = st.text(min_size=0, max_size=40)
digests = st.binary(min_size=32, max_size=32)
deltas = st.builds(
    Delta,
    tenant=texts,
    customer_id=texts,
    delta=st.integers(INT256_MIN, INT256_MAX),
    reason=texts,
    reference_id=texts,
    metadata_hash=digests,
    customer_index=st.integers(0, UINT64_MAX),
    prev_fingerprint=digests,
    recorded_at=st.integers(0, UINT64_MAX),
    salt=digests,
    corrects=digests,
)
domains = st.builds(
    Domain,
    chain_id=st.integers(1, 2**64),
    verifying_contract=st.binary(min_size=20, max_size=20),
    protocol=st.sampled_from(list(PROTOCOLS.values())),
)


def _reference_digest(typed: dict[str, object]) -> bytes:
    message = encode_typed_data(full_message=typed)
    return bytes(keccak(b"\x19" + message.version + message.header + message.body))


@settings(max_examples=200, deadline=None)
@given(domain=domains, delta=deltas)
def test_fingerprint_equals_eth_account_digest_of_the_served_typed_data(domain: Domain, delta: Delta) -> None:
    assert compute_fingerprint(domain, delta) == _reference_digest(build_typed_data(domain, delta))


@settings(max_examples=50, deadline=None)
@given(domain=domains, delta=deltas, field=st.sampled_from(["delta", "customer_index", "recorded_at"]))
def test_changing_any_number_changes_the_fingerprint(domain: Domain, delta: Delta, field: str) -> None:
    value = getattr(delta, field)
    changed = Delta(**{**delta.__dict__, field: value - 1 if value > 0 else value + 1})
    assert compute_fingerprint(domain, changed) != compute_fingerprint(domain, delta)


def test_signature_recovers_with_eth_account_and_with_core() -> None:
    key = bytes(range(1, 33))
    signer = Signer(key)
    digest = keccak(b"a fingerprint")
    signature = signer.sign_digest(digest)
    assert recover_signer(digest, signature) == signer.address
    assert Account._recover_hash(digest, signature=signature).lower() == "0x" + signer.address.hex()
    assert "0x" + signer.address.hex() == Account.from_key(key).address.lower()
    assert key.hex() not in repr(signer)


def test_domain_rejects_bad_inputs() -> None:
    import pytest

    with pytest.raises(ValueError, match="20 bytes"):
        Domain(1, b"\x00" * 19)
    with pytest.raises(ValueError, match="positive"):
        Domain(0, b"\x00" * 20)
