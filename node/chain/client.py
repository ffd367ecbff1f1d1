"""A thin web3 client for the anchor contract.

The caller builds the provider (``connect`` for one URL, ``node.chain.providers.connect_pool`` for
several with failover) and passes the client in; nothing here decides what to anchor. Every RPC call
goes through node/chain/rpc.py, so failures surface as the classes of node/chain/errors.py:
``ChainUnavailable`` (the anchoring job backs off instead of crashing), ``ChainReverted`` with the
contract's custom error decoded, and so on.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Protocol

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress, Hash32, HexStr
from web3 import Web3
from web3.exceptions import BadFunctionCallOutput, BlockNotFound
from web3.types import FilterParams, Nonce, TxParams, Wei

from node.chain import rpc
from node.chain.abi import ANCHOR_ABI, encode_call
from node.chain.errors import (
    ChainMismatch,
    ChainRejected,
    ChainReverted,
    ChainUnavailable,
    FeeBelowBaseFee,
    NonceTooLow,
    TransactionAlreadyKnown,
)
from node.chain.fees import FeeMarket, offered_fees, read_market
from node.chain.providers import FailoverProvider, ProviderPool
from node.chain.receipts import MinedAnchor, mined_from_receipt
from node.core.audit import SignerWindow
from node.core.completeness import ChainBatch
from node.core.fees import FeePolicy, FeeQuote, price_first, price_replacement
from node.core.hashing import keccak256
from node.core.typed_data import UINT64_MAX


@dataclass(frozen=True)
class AnchorEvent:
    """A ``BatchAnchored`` log of the anchor contract, decoded."""

    batch_id: int
    root: bytes
    start_index: int
    count: int
    anchorer: bytes


class _Signed(Protocol):
    @property
    def hash(self) -> bytes: ...
    @property
    def raw_transaction(self) -> bytes: ...


class TransactionSigner(Protocol):
    """The anchoring account: an eth-account LocalAccount, or node.chain.remote_signers.RemoteTransactionSigner."""

    @property
    def address(self) -> ChecksumAddress: ...

    def sign_transaction(self, tx: Any, /) -> _Signed: ...


def connect(rpc_url: str, *, timeout: float = 10.0) -> Web3:
    return Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))


class AnchorClient:
    """Reads and writes one deployed PacSpaceAnchor (v1 or v2) with one anchoring account.

    Without an account (``audit``, verification) it only reads.
    """

    def __init__(self, w3: Web3, contract_address: str, account: TransactionSigner | None = None) -> None:
        self.w3 = w3
        self.pool: ProviderPool | None = w3.provider.pool if isinstance(w3.provider, FailoverProvider) else None
        self.address = Web3.to_checksum_address(contract_address)
        self.contract = w3.eth.contract(address=self.address, abi=ANCHOR_ABI)
        self._account = account
        self._batch_anchored_topic = keccak256(b"BatchAnchored(uint64,bytes32,uint64,uint32,address)")
        self._version: int | None = None

    @property
    def account(self) -> TransactionSigner:
        """The anchoring (gas-paying) account. Requires the client to have been built with one."""
        if self._account is None:
            raise RuntimeError("this AnchorClient is read-only: it was built without an anchoring account")
        return self._account

    # --- start-up checks -------------------------------------------------------------

    def check_identity(self, *, expected_chain_id: int, receipt_signer: bytes | None = None) -> None:
        """Raises ChainMismatch unless the RPC is the expected chain, the contract is ours, the anchoring
        account (if any) may anchor and ``receipt_signer`` (if given) may sign receipts from now on."""
        chain_id = rpc.call(lambda: self.w3.eth.chain_id)
        if chain_id != expected_chain_id:
            raise ChainMismatch(f"RPC reports chain id {chain_id}, but the node is configured for {expected_chain_id}")
        code = rpc.call(lambda: self.w3.eth.get_code(self.address))
        if len(code) == 0:
            raise ChainMismatch(f"no contract at {self.address} on chain {chain_id}")
        try:
            rpc.call(self.contract.functions.nextIndex().call)
            version = self.protocol_version()
        except ChainUnavailable:
            raise
        except Exception as exc:  # a contract without our ABI reverts or returns garbage
            raise ChainMismatch(f"{self.address} is not a PacSpace anchor contract: {exc}") from None
        if self._account is not None and not self.is_anchorer(bytes.fromhex(self._account.address[2:])):
            raise ChainMismatch(
                f"anchoring key {self._account.address} is not an authorised anchorer of {self.address}"
            )
        if receipt_signer is not None:
            window = self.signer_window(receipt_signer)
            if window is None or not window.active:
                what = "an authorised anchorer" if version == 1 else "an active receipt signer"
                raise ChainMismatch(
                    f"receipt signing key {Web3.to_checksum_address(receipt_signer)} is not {what} of {self.address}"
                )

    def protocol_version(self) -> int:
        """The contract's protocol version: 2 answers ``protocolVersion()``; a v1 contract has no such function."""
        if self._version is None:
            try:
                self._version = int(rpc.call(self.contract.functions.protocolVersion().call))
            except (ChainReverted, BadFunctionCallOutput):
                self._version = 1
        return self._version

    def signer_window(self, signer: bytes) -> SignerWindow | None:
        """For which log indexes the contract counts ``signer``'s receipt signatures; None if never.

        v2 keeps each signer's window; a v1 contract only knows who is an anchorer now, which counts
        for every index (so on a v1 contract, revoking a key invalidates its old receipts).
        """
        if self.protocol_version() == 1:
            return SignerWindow(0, UINT64_MAX) if self.is_anchorer(signer) else None
        checksum = Web3.to_checksum_address(signer)
        from_index, until_index, exists = rpc.call(self.contract.functions.signerWindow(checksum).call)
        return SignerWindow(int(from_index), int(until_index)) if exists else None

    # --- reads -----------------------------------------------------------------------

    def head_block_number(self) -> int:
        return int(rpc.call(lambda: self.w3.eth.block_number))

    def rpc_url(self) -> str:
        """The URL reads go to now (with several providers, the preferred one); never for display."""
        if self.pool is not None:
            return self.pool.primary_url()
        return str(getattr(self.w3.provider, "endpoint_uri", ""))

    def refresh_providers(self) -> None:
        """Ask every configured provider for its head, so lagging and dead ones are skipped (one provider: nothing)."""
        if self.pool is not None and len(self.pool) > 1:
            self.pool.refresh()

    def finalized_block_number(self) -> int | None:
        """The chain's ``finalized`` block; None where the RPC does not serve the tag."""
        try:
            block = rpc.call(lambda: self.w3.eth.get_block("finalized"))
        except (ChainRejected, BlockNotFound):
            return None
        return None if block is None else int(block["number"])

    def block_hash_at(self, number: int) -> bytes | None:
        block = rpc.call(lambda: self.w3.eth.get_block(number))
        return bytes(block["hash"]) if block is not None else None

    def next_index(self) -> int:
        return int.from_bytes(rpc.call(partial(self._read_word, encode_call("nextIndex"))), "big")

    def stored_commitment(self, start_index: int) -> bytes:
        return rpc.call(partial(self._read_word, encode_call("batchCommitment", start_index)))

    def _read_word(self, data: bytes) -> bytes:
        """A view call answering one 32-byte word (every cycle reads two: encoded by hand, see encode_call)."""
        answer = bytes(self.w3.eth.call({"to": self.address, "data": HexStr("0x" + data.hex())}))
        if len(answer) != 32:
            raise BadFunctionCallOutput(
                f"{self.address} answered {len(answer)} bytes where a 32-byte word was expected: is it the contract?"
            )
        return answer

    def verify_on_chain(
        self, *, start_index: int, count: int, root: bytes, log_index: int, fingerprint: bytes, proof: list[bytes]
    ) -> bool:
        fn = self.contract.functions.verify(start_index, count, root, log_index, fingerprint, proof)
        return bool(rpc.call(fn.call))

    def is_anchorer(self, account: bytes) -> bool:
        checksum = Web3.to_checksum_address(account)
        return bool(rpc.call(self.contract.functions.isAnchorer(checksum).call))

    def batch_history(self, *, from_block: int = 0, span: int = 10_000) -> tuple[int, list[ChainBatch]]:
        """``nextIndex`` and every ``BatchAnchored`` event of the contract, both as of one head block.

        The logs are read in ranges of ``span`` blocks from ``from_block`` (the deployment block if
        known), as RPC providers cap a single eth_getLogs.
        """
        if span < 1:
            raise ValueError("span must be at least one block")
        head = self.head_block_number()
        next_index = int(rpc.call(lambda: self.contract.functions.nextIndex().call(block_identifier=head)))
        batches: list[ChainBatch] = []
        first = max(from_block, 0)
        while first <= head:
            last = min(first + span - 1, head)
            query: FilterParams = {
                "address": self.address,
                "fromBlock": first,
                "toBlock": last,
                "topics": [self._batch_anchored_topic],  # type: ignore[list-item]
            }
            for log in rpc.call(partial(self.w3.eth.get_logs, query)):
                event = self._decode_anchor_log(log)
                if event is None or log.get("removed"):
                    continue
                batches.append(
                    ChainBatch(
                        batch_id=event.batch_id,
                        start_index=event.start_index,
                        count=event.count,
                        root=event.root,
                        tx_hash=bytes(log["transactionHash"]),
                        block_number=int(log["blockNumber"]),
                    )
                )
            first = last + 1
        return next_index, batches

    def _decode_anchor_log(self, log: Any) -> AnchorEvent | None:
        """A ``BatchAnchored`` log of this contract, decoded; None for any other log."""
        topics = [bytes(t) for t in log["topics"]]
        data = bytes(log["data"])
        if log["address"].lower() != self.address.lower() or len(topics) != 4 or len(data) != 64:
            return None
        if topics[0] != self._batch_anchored_topic:
            return None
        return AnchorEvent(
            batch_id=int.from_bytes(topics[1], "big"),
            root=topics[2],
            start_index=int.from_bytes(data[:32], "big"),
            count=int.from_bytes(data[32:], "big"),
            anchorer=topics[3][12:],
        )

    def get_mined(self, tx_hash: bytes) -> MinedAnchor | None:
        """The receipt of an anchor transaction, or None while it is not mined."""
        receipt = self._receipt(tx_hash)
        return None if receipt is None else mined_from_receipt(receipt, self._batch_anchored_topic)

    def _receipt(self, tx_hash: bytes) -> Any:
        """The transaction's receipt, or None while the chain has not mined it."""
        return rpc.lookup(lambda: self.w3.eth.get_transaction_receipt(Hash32(tx_hash)))

    def is_pending_transaction(self, tx_hash: bytes) -> bool:
        """Known to the node and not yet in a block."""
        tx = rpc.lookup(lambda: self.w3.eth.get_transaction(Hash32(tx_hash)))
        return tx is not None and tx.get("blockNumber") is None

    def is_known_transaction(self, tx_hash: bytes) -> bool:
        return rpc.lookup(lambda: self.w3.eth.get_transaction(Hash32(tx_hash))) is not None

    def find_anchor_transaction(self, *, root: bytes, from_block: int = 0) -> MinedAnchor | None:
        """Find a mined BatchAnchored for ``root`` (after a crash lost the transaction hash)."""
        logs = rpc.call(
            lambda: self.w3.eth.get_logs(
                {
                    "address": self.address,
                    "fromBlock": from_block,
                    "toBlock": "latest",
                    "topics": [self._batch_anchored_topic, None, root],  # type: ignore[list-item]
                }
            )
        )
        if not logs:
            return None
        return self.get_mined(bytes(logs[-1]["transactionHash"]))

    # --- writes ----------------------------------------------------------------------

    def pending_nonce(self) -> int:
        return int(rpc.call(lambda: self.w3.eth.get_transaction_count(self.account.address, "pending")))

    def fee_market(self) -> FeeMarket:
        return read_market(self.w3)

    def quote_fees(self, policy: FeePolicy, *, replacing: bytes | None = None) -> FeeQuote | None:
        """Fees for a new anchor transaction (or one replacing the pending ``replacing``) under ``policy``;
        None while the market is above the cap (or a replacement would have to pass it)."""
        market = self.fee_market()
        old = None if replacing is None else offered_fees(self.w3, replacing)
        if old is None:
            return price_first(base_fee=market.base_fee, suggested_tip=market.suggested_tip, policy=policy)
        return price_replacement(base_fee=market.base_fee, suggested_tip=market.suggested_tip, old=old, policy=policy)

    def sign_anchor(
        self,
        *,
        start_index: int,
        count: int,
        root: bytes,
        nonce: int,
        replacing: bytes | None = None,
        fees: FeeQuote | None = None,
    ) -> tuple[bytes, bytes]:
        """Build and sign ``anchor(startIndex, count, root)``; returns (tx hash, raw signed tx).

        Gas is estimated against the chain, so a call the contract would refuse raises ChainReverted
        (with its custom error decoded) here, before anything is broadcast. ``fees`` come from
        :meth:`quote_fees` (without them: the market's, uncapped; ``replacing`` names a pending
        transaction at the same nonce, to be outbid).
        """
        quote = fees or self.quote_fees(FeePolicy(), replacing=replacing)
        assert quote is not None  # no cap: always priced

        # The calldata encoded by hand, not through a web3 contract function: 13 -> 9 ms of CPU per anchor.
        call: TxParams = {
            "from": self.account.address,
            "to": self.address,
            "data": HexStr("0x" + encode_call("anchor", start_index, count, root).hex()),
        }

        def build() -> TxParams:
            gas = int(self.w3.eth.estimate_gas(call))
            return {
                **call,
                "value": Wei(0),
                "nonce": Nonce(nonce),
                "gas": gas + gas // 5,
                "maxFeePerGas": Wei(quote.max_fee),
                "maxPriorityFeePerGas": Wei(quote.priority),
                "chainId": self.w3.eth.chain_id,
            }

        tx: Any = rpc.call(build)  # TxParams, which sign_transaction types as a plain dict
        signed = self.account.sign_transaction(tx)
        return bytes(signed.hash), bytes(signed.raw_transaction)

    def broadcast(self, raw_tx: bytes, *, again: bool = False) -> bool:
        """Send a signed transaction; False (not an error) while its max fee is below the base fee: it is
        stored and sent again as it is later. A node that already has it is not an error either; nor is,
        for a rebroadcast (``again``), a used nonce: it (or its replacement) was mined meanwhile."""
        try:
            rpc.call(lambda: self.w3.eth.send_raw_transaction(raw_tx))
        except TransactionAlreadyKnown:
            return True
        except FeeBelowBaseFee:
            return False
        except NonceTooLow:
            if not again:
                raise
        return True


def account_from_key(private_key: str) -> LocalAccount:
    acct: LocalAccount = Account.from_key(private_key)
    return acct
