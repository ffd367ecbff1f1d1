"""The pure rules behind the chain settings: fee pricing never passes a cap, finality and the provider
quorum, the per-chain defaults, how provider URLs are shown, and the settings that configure them."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from node.chain.providers import redact_url
from node.core.fees import FeePolicy, FeeQuote, bumped, market_above_cap, price_first, price_replacement
from node.core.finality import (
    KNOWN_CHAINS,
    FinalityMode,
    FinalityRule,
    ProviderReport,
    decide_settlement,
    default_rule,
    is_settled,
)
from node.settings import Settings

GWEI = 10**9
fees = st.integers(min_value=0, max_value=10_000 * GWEI)
caps = st.one_of(st.none(), st.integers(min_value=1, max_value=10_000 * GWEI))


@given(base=fees, tip=fees, max_fee=caps, max_tip=caps)
def test_a_first_price_never_passes_a_cap_and_holds_exactly_when_the_market_is_above_it(
    base: int, tip: int, max_fee: int | None, max_tip: int | None
) -> None:
    policy = FeePolicy(max_fee=max_fee, max_priority_fee=max_tip)
    quote = price_first(base_fee=base, suggested_tip=tip, policy=policy)
    assert (quote is None) == market_above_cap(base_fee=base, suggested_tip=tip, policy=policy)
    if quote is None:
        return
    assert quote.priority <= quote.max_fee
    assert max_fee is None or quote.max_fee <= max_fee
    assert max_tip is None or quote.priority <= max_tip
    assert quote.max_fee >= base + quote.priority, "the quote is includable at the latest base fee"


@given(base=fees, tip=fees, old_fee=fees, old_tip=fees, max_fee=caps, max_tip=caps)
def test_a_replacement_outbids_the_old_transaction_and_never_passes_a_cap(
    base: int, tip: int, old_fee: int, old_tip: int, max_fee: int | None, max_tip: int | None
) -> None:
    old = FeeQuote(max_fee=max(old_fee, old_tip), priority=old_tip)
    policy = FeePolicy(max_fee=max_fee, max_priority_fee=max_tip)
    quote = price_replacement(base_fee=base, suggested_tip=tip, old=old, policy=policy)
    if quote is None:
        needed_tip = max(tip if max_tip is None else min(tip, max_tip), bumped(old.priority))
        over_fee = max_fee is not None and max(bumped(old.max_fee), needed_tip) > max_fee
        over_tip = max_tip is not None and needed_tip > max_tip
        assert over_fee or over_tip, "refused only when a cap forbids the bump"
        return
    assert quote.max_fee >= bumped(old.max_fee) and quote.priority >= bumped(old.priority)
    assert quote.priority <= quote.max_fee
    assert max_fee is None or quote.max_fee <= max_fee
    assert max_tip is None or quote.priority <= max_tip


def test_prices_in_gwei_worked_out() -> None:
    policy = FeePolicy(max_fee=50 * GWEI, max_priority_fee=2 * GWEI)
    assert price_first(base_fee=10 * GWEI, suggested_tip=3 * GWEI, policy=policy) == FeeQuote(22 * GWEI, 2 * GWEI)
    assert price_first(base_fee=30 * GWEI, suggested_tip=1 * GWEI, policy=policy) == FeeQuote(50 * GWEI, 1 * GWEI)
    assert price_first(base_fee=49 * GWEI, suggested_tip=2 * GWEI, policy=policy) is None
    assert (
        price_replacement(base_fee=30 * GWEI, suggested_tip=GWEI, old=FeeQuote(50 * GWEI, GWEI), policy=policy) is None
    )


def test_finality_rules() -> None:
    three = FinalityRule(FinalityMode.CONFIRMATIONS, 3)
    assert not is_settled(three, block_number=10, head=11, finalized=None)
    assert is_settled(three, block_number=10, head=12, finalized=None)
    final = FinalityRule(FinalityMode.FINALIZED, 3)
    assert not is_settled(final, block_number=10, head=100, finalized=9)
    assert is_settled(final, block_number=10, head=10, finalized=10)
    assert not is_settled(final, block_number=10, head=100, finalized=None), "no finalized tag: never final"


def _report(name: str, block_hash: bytes | None, head: int = 20, block: int | None = 10) -> ProviderReport:
    return ProviderReport(name, block if block_hash else None, block_hash, head, None)


@pytest.mark.parametrize(
    ("reports", "quorum", "verified", "reason"),
    [
        ([_report("rpc1", b"A")], 1, True, None),
        ([_report("rpc1", b"A")], 2, False, "quorum"),
        ([_report("rpc1", b"A"), _report("rpc2", b"A")], 2, True, None),
        ([_report("rpc1", b"A"), _report("rpc2", None)], 2, False, "quorum"),
        ([_report("rpc1", b"A"), _report("rpc2", b"B"), _report("rpc3", b"A")], 2, False, "providers_disagree"),
        ([_report("rpc1", b"A"), _report("rpc2", b"A", head=10)], 2, False, "not_final"),
    ],
)
def test_the_provider_quorum(reports: list[ProviderReport], quorum: int, verified: bool, reason: str | None) -> None:
    rule = FinalityRule(FinalityMode.CONFIRMATIONS, 3)
    settlement = decide_settlement(rule, block_number=10, block_hash=b"A", reports=reports, quorum=quorum)
    assert (settlement.verified, settlement.reason) == (verified, reason)


def test_the_default_rule_per_chain() -> None:
    assert default_rule(1) == FinalityRule(FinalityMode.FINALIZED, 64)
    assert default_rule(8453) == FinalityRule(FinalityMode.FINALIZED, 30)
    assert default_rule(31337) == FinalityRule(FinalityMode.CONFIRMATIONS, 1)
    assert default_rule(999_999) == FinalityRule(FinalityMode.CONFIRMATIONS, 1), "an unknown chain: depth only"
    assert default_rule(1, mode="confirmations", confirmations=96) == FinalityRule(FinalityMode.CONFIRMATIONS, 96)
    assert {chain.mode for chain in KNOWN_CHAINS.values()} <= set(FinalityMode)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://eth-mainnet.example.com/v2/SECRETKEY", "https://eth-mainnet.example.com/…"),
        ("https://user:pass@rpc.example.com:8545", "https://rpc.example.com:8545"),
        ("https://rpc.example.com/?apikey=SECRET", "https://rpc.example.com/…"),
        ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
        ("http://[::1]:8545/x", "http://[::1]:8545/…"),
    ],
)
def test_provider_urls_are_shown_without_path_query_or_credentials(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def _settings(**values: Any) -> Settings:
    return Settings(chain_id=values.pop("chain_id", 1), contract_address="0x" + "11" * 20, **values)


def test_rpc_urls_settings() -> None:
    assert _settings().rpc_endpoints() == ["http://127.0.0.1:8545"]
    several = _settings(rpc_urls="https://a.example/k1, https://b.example/k2 https://c.example")
    assert several.rpc_endpoints() == ["https://a.example/k1", "https://b.example/k2", "https://c.example"]
    assert several.quorum() == 2 and _settings().quorum() == 1
    assert "k1" not in repr(several), "the URLs (and their keys) are a secret in the settings' repr"
    with pytest.raises(ValidationError, match="PACSPACE_RPC_QUORUM is 3 but only 2"):
        _settings(rpc_urls="https://a.example,https://b.example", rpc_quorum=3)


def test_finality_and_fee_settings() -> None:
    mainnet = _settings()
    assert mainnet.finality_rule() == FinalityRule(FinalityMode.FINALIZED, 64)
    assert mainnet.confirmations == 64, "the chain's depth when PACSPACE_CONFIRMATIONS is not set"
    assert _settings(confirmations=12, finality="confirmations").finality_rule() == FinalityRule(
        FinalityMode.CONFIRMATIONS, 12
    )
    policy = _settings(max_fee_gwei="30.5", max_priority_fee_gwei="0.001", daily_gas_budget_eth="0.25").fee_policy()
    assert policy == FeePolicy(max_fee=30_500_000_000, max_priority_fee=1_000_000, daily_budget=25 * 10**16)
    with pytest.raises(ValidationError):
        _settings(finality="soon")


def test_external_signer_settings() -> None:
    remote = _settings(
        receipt_signer_url="http://signer.internal:9000",
        receipt_signer_address="0x" + "22" * 20,
        anchor_signer_url="http://signer.internal:9000",
        anchor_address="0x" + "33" * 20,
    )
    assert remote.remote_signer("receipt_signer") == ("http://signer.internal:9000", "0x" + "22" * 20)
    assert remote.remote_signer("anchor") == ("http://signer.internal:9000", "0x" + "33" * 20)
    with pytest.raises(ValueError, match="held by an external signer"):
        remote.anchor_private_key()
    with pytest.raises(ValidationError, match="needs PACSPACE_RECEIPT_SIGNER_ADDRESS"):
        _settings(receipt_signer_url="http://signer.internal:9000")
    with pytest.raises(ValidationError, match="set only one of PACSPACE_ANCHOR_SIGNER_URL"):
        _settings(anchor_signer_url="http://s:1", anchor_address="0x" + "33" * 20, anchor_key="0x" + "44" * 32)
