"""A thin web3 client for the anchor contract.

The caller builds the provider (``connect``) and passes the client in; nothing here decides
what to anchor. Errors from the RPC surface as ``ChainUnavailable`` so the anchoring job can
back off instead of crashing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.exceptions import TransactionNotFound
from web3.types import Nonce, TxParams, Wei

from node.chain.abi import ANCHOR_ABI
from node.core.errors import ChainUnavailable, PacSpaceError
from node.core.hashing import keccak256


class ChainMismatch(PacSpaceError):
    """The RPC or contract is not the one the node was configured for. Refuse to start."""

    code = "chain_mismatch"
    status = 500
    title = "Chain configuration mismatch"


@dataclass(frozen=True)
class AnchorEvent:
    """A ``BatchAnchored`` log of the anchor contract, decoded."""

    batch_id: int
    root: bytes
    start_index: int
    count: int
    anchorer: bytes


@dataclass(frozen=True)
class AnchorTransaction:
    """A mined transaction's receipt: where it landed and the contract's ``BatchAnchored`` logs."""

    status: int
    to: bytes | None
    block_number: int
    block_hash: bytes
    events: list[AnchorEvent]


@dataclass(frozen=True)
class MinedAnchor:
    tx_hash: bytes
    block_number: int
    block_hash: bytes
    status: int
    gas_used: int
    effective_gas_price: int
    batch_id: int | None


def connect(rpc_url: str, *, timeout: float = 10.0) -> Web3:
    return Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))


class AnchorClient:
    """Reads and writes one deployed PacSpaceAnchor with one anchoring account."""

    def __init__(self, w3: Web3, contract_address: str, account: LocalAccount) -> None:
        self.w3 = w3
        self.address = Web3.to_checksum_address(contract_address)
        self.contract = w3.eth.contract(address=self.address, abi=ANCHOR_ABI)
        self.account = account
        self._batch_anchored_topic = keccak256(b"BatchAnchored(uint64,bytes32,uint64,uint32,address)")

    # --- start-up checks -------------------------------------------------------------

    def check_identity(self, *, expected_chain_id: int) -> None:
        """Raises ChainMismatch unless the RPC is the expected chain and the contract is ours."""
        chain_id = self._rpc(lambda: self.w3.eth.chain_id)
        if chain_id != expected_chain_id:
            raise ChainMismatch(f"RPC reports chain id {chain_id}, but the node is configured for {expected_chain_id}")
        code = self._rpc(lambda: self.w3.eth.get_code(self.address))
        if len(code) == 0:
            raise ChainMismatch(f"no contract at {self.address} on chain {chain_id}")
        try:
            authorised = bool(self.contract.functions.isAnchorer(self.account.address).call())
        except Exception as exc:  # a contract without our ABI reverts or returns garbage
            raise ChainMismatch(f"{self.address} is not a PacSpace anchor contract: {exc}") from None
        if not authorised:
            raise ChainMismatch(f"signer {self.account.address} is not an authorised anchorer of {self.address}")

    # --- reads -----------------------------------------------------------------------

    def head_block_number(self) -> int:
        return int(self._rpc(lambda: self.w3.eth.block_number))

    def block_hash_at(self, number: int) -> bytes | None:
        block = self._rpc(lambda: self.w3.eth.get_block(number))
        return bytes(block["hash"]) if block is not None else None

    def next_index(self) -> int:
        return int(self._rpc(lambda: self.contract.functions.nextIndex().call()))

    def stored_commitment(self, start_index: int) -> bytes:
        return bytes(self._rpc(lambda: self.contract.functions.batchCommitment(start_index).call()))

    def verify_on_chain(
        self, *, start_index: int, count: int, root: bytes, log_index: int, fingerprint: bytes, proof: list[bytes]
    ) -> bool:
        fn = self.contract.functions.verify(start_index, count, root, log_index, fingerprint, proof)
        return bool(self._rpc(fn.call))

    def chain_id(self) -> int:
        return int(self._rpc(lambda: self.w3.eth.chain_id))

    def code_size(self) -> int:
        return len(self._rpc(lambda: self.w3.eth.get_code(self.address)))

    def is_anchorer(self, account: bytes) -> bool:
        checksum = Web3.to_checksum_address(account)
        return bool(self._rpc(self.contract.functions.isAnchorer(checksum).call))

    def anchor_transaction(self, tx_hash: bytes) -> AnchorTransaction | None:
        """A mined transaction with the contract's BatchAnchored logs decoded; None if the chain lacks it."""
        receipt = self._receipt(tx_hash)
        if receipt is None:
            return None
        events = []
        for log in receipt["logs"]:
            topics = [bytes(t) for t in log["topics"]]
            data = bytes(log["data"])
            if log["address"].lower() != self.address.lower() or len(topics) != 4 or len(data) != 64:
                continue
            if topics[0] != self._batch_anchored_topic:
                continue
            events.append(
                AnchorEvent(
                    batch_id=int.from_bytes(topics[1], "big"),
                    root=topics[2],
                    start_index=int.from_bytes(data[:32], "big"),
                    count=int.from_bytes(data[32:], "big"),
                    anchorer=topics[3][12:],
                )
            )
        to = receipt.get("to")
        return AnchorTransaction(
            status=int(receipt["status"]),
            to=None if to is None else bytes.fromhex(str(to)[2:]),
            block_number=int(receipt["blockNumber"]),
            block_hash=bytes(receipt["blockHash"]),
            events=events,
        )

    def get_mined(self, tx_hash: bytes) -> MinedAnchor | None:
        """The receipt of an anchor transaction, or None while it is not mined."""
        receipt = self._receipt(tx_hash)
        return None if receipt is None else self._mined_from_receipt(receipt)

    def _receipt(self, tx_hash: bytes) -> Any:
        """The transaction's receipt, or None while the chain has not mined it."""
        try:
            return self.w3.eth.get_transaction_receipt(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return None
        except Exception as exc:
            raise ChainUnavailable(f"RPC failed: {exc}") from None

    def is_pending_transaction(self, tx_hash: bytes) -> bool:
        """Known to the node and not yet in a block."""
        try:
            tx = self.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return False
        except Exception as exc:
            raise ChainUnavailable(f"RPC failed: {exc}") from None
        return tx.get("blockNumber") is None

    def is_known_transaction(self, tx_hash: bytes) -> bool:
        try:
            self.w3.eth.get_transaction(tx_hash)  # type: ignore[arg-type]
        except TransactionNotFound:
            return False
        except Exception as exc:
            raise ChainUnavailable(f"RPC failed: {exc}") from None
        return True

    def find_anchor_transaction(self, *, root: bytes, from_block: int = 0) -> MinedAnchor | None:
        """Find a mined BatchAnchored for ``root`` (after a crash lost the transaction hash)."""
        logs = self._rpc(
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
        return int(self._rpc(lambda: self.w3.eth.get_transaction_count(self.account.address, "pending")))

    def sign_anchor(
        self, *, start_index: int, count: int, root: bytes, nonce: int, replacing: bytes | None = None
    ) -> tuple[bytes, bytes]:
        """Build and sign ``anchor(startIndex, count, root)``; returns (tx hash, raw signed tx).

        Gas is estimated against the chain, so a call the contract would refuse fails here,
        before anything is broadcast. ``replacing`` names a pending transaction at the same nonce:
        the new one pays at least 12.5% more in both fee fields, as nodes require to replace it.
        """

        def build() -> TxParams:
            latest = self.w3.eth.get_block("latest")
            base_fee = int(latest.get("baseFeePerGas", 0) or 0)
            priority = int(self.w3.eth.max_priority_fee)
            max_fee = 2 * base_fee + priority
            if replacing is not None:
                old = self.w3.eth.get_transaction(replacing)  # type: ignore[arg-type]
                priority = max(priority, int(old.get("maxPriorityFeePerGas", 0)) * 9 // 8 + 1)
                max_fee = max(2 * base_fee + priority, int(old.get("maxFeePerGas", 0)) * 9 // 8 + 1)
            fn = self.contract.functions.anchor(start_index, count, root)
            gas = int(fn.estimate_gas({"from": self.account.address}))
            params: TxParams = {
                "from": self.account.address,
                "nonce": Nonce(nonce),
                "gas": gas + gas // 5,
                "maxFeePerGas": Wei(max_fee),
                "maxPriorityFeePerGas": Wei(priority),
                "chainId": self.w3.eth.chain_id,
            }
            return fn.build_transaction(params)

        signed = self.account.sign_transaction(self._rpc(build))
        return bytes(signed.hash), bytes(signed.raw_transaction)

    def broadcast(self, raw_tx: bytes) -> None:
        """Send a signed transaction; a node that already has it is not an error."""
        try:
            self._rpc(lambda: self.w3.eth.send_raw_transaction(raw_tx))
        except ChainUnavailable:
            raise
        except Exception as exc:
            text = str(exc).lower()
            if "already known" in text or "already imported" in text or "known transaction" in text:
                return
            raise

    # --- helpers ---------------------------------------------------------------------

    def _mined_from_receipt(self, receipt: Any) -> MinedAnchor:
        batch_id: int | None = None
        for log in receipt["logs"]:
            topics = log["topics"]
            if topics and bytes(topics[0]) == self._batch_anchored_topic:
                batch_id = int.from_bytes(bytes(topics[1]), "big")
        return MinedAnchor(
            tx_hash=bytes(receipt["transactionHash"]),
            block_number=int(receipt["blockNumber"]),
            block_hash=bytes(receipt["blockHash"]),
            status=int(receipt["status"]),
            gas_used=int(receipt["gasUsed"]),
            effective_gas_price=int(receipt.get("effectiveGasPrice", 0) or 0),
            batch_id=batch_id,
        )

    @staticmethod
    def _rpc(call: Any) -> Any:
        try:
            return call()
        except PacSpaceError:
            raise
        except (ConnectionError, OSError, TimeoutError) as exc:
            raise ChainUnavailable(f"RPC unreachable: {exc}") from None
        except Exception as exc:
            if "Connection" in type(exc).__name__ or "Timeout" in type(exc).__name__:
                raise ChainUnavailable(f"RPC unreachable: {exc}") from None
            raise


def load_artifact(path: Path) -> tuple[list[dict[str, Any]], str]:
    """ABI and creation bytecode from a forge artifact (out/PacSpaceAnchor.sol/PacSpaceAnchor.json)."""
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found; build the contracts with scripts/bootstrap (forge build)")
    data = json.loads(path.read_text())
    return data["abi"], data["bytecode"]["object"]


def deploy_anchor(
    w3: Web3, *, deployer: LocalAccount, owner: str, anchorer: str, artifact: Path, timeout: float = 60.0
) -> str:
    """Deploy PacSpaceAnchor(owner, anchorer); returns the contract address once mined."""
    abi, bytecode = load_artifact(artifact)
    factory = w3.eth.contract(abi=abi, bytecode=bytecode)
    tx = factory.constructor(Web3.to_checksum_address(owner), Web3.to_checksum_address(anchorer)).build_transaction(
        {
            "from": deployer.address,
            "nonce": w3.eth.get_transaction_count(deployer.address, "pending"),
            "chainId": w3.eth.chain_id,
        }
    )
    signed = deployer.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout, poll_latency=0.05)
    if receipt["status"] != 1 or receipt["contractAddress"] is None:
        raise RuntimeError(f"deployment transaction 0x{bytes(tx_hash).hex()} failed")
    return str(receipt["contractAddress"])


def account_from_key(private_key: str) -> LocalAccount:
    acct: LocalAccount = Account.from_key(private_key)
    return acct
