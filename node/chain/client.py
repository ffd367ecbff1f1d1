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
from web3.exceptions import BadFunctionCallOutput, ContractLogicError, TransactionNotFound
from web3.types import FilterParams, Nonce, TxParams, Wei

from node.chain.abi import ANCHOR_ABI
from node.core.audit import SignerWindow
from node.core.completeness import ChainBatch
from node.core.errors import ChainUnavailable, PacSpaceError
from node.core.hashing import keccak256
from node.core.typed_data import UINT64_MAX


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
    """Reads and writes one deployed PacSpaceAnchor (v1 or v2) with one anchoring account.

    Without an account (``audit``, verification) it only reads.
    """

    def __init__(self, w3: Web3, contract_address: str, account: LocalAccount | None = None) -> None:
        self.w3 = w3
        self.address = Web3.to_checksum_address(contract_address)
        self.contract = w3.eth.contract(address=self.address, abi=ANCHOR_ABI)
        self._account = account
        self._batch_anchored_topic = keccak256(b"BatchAnchored(uint64,bytes32,uint64,uint32,address)")
        self._version: int | None = None

    @property
    def account(self) -> LocalAccount:
        """The anchoring (gas-paying) account. Requires the client to have been built with one."""
        if self._account is None:
            raise RuntimeError("this AnchorClient is read-only: it was built without an anchoring account")
        return self._account

    # --- start-up checks -------------------------------------------------------------

    def check_identity(self, *, expected_chain_id: int, receipt_signer: bytes | None = None) -> None:
        """Raises ChainMismatch unless the RPC is the expected chain, the contract is ours, the anchoring
        account (if any) may anchor and ``receipt_signer`` (if given) may sign receipts from now on."""
        chain_id = self._rpc(lambda: self.w3.eth.chain_id)
        if chain_id != expected_chain_id:
            raise ChainMismatch(f"RPC reports chain id {chain_id}, but the node is configured for {expected_chain_id}")
        code = self._rpc(lambda: self.w3.eth.get_code(self.address))
        if len(code) == 0:
            raise ChainMismatch(f"no contract at {self.address} on chain {chain_id}")
        try:
            self.contract.functions.nextIndex().call()
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
                self._version = int(self._rpc(self.contract.functions.protocolVersion().call))
            except ChainUnavailable:
                raise
            except (ContractLogicError, BadFunctionCallOutput):
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
        from_index, until_index, exists = self._rpc(self.contract.functions.signerWindow(checksum).call)
        return SignerWindow(int(from_index), int(until_index)) if exists else None

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
        events = [e for e in (self._decode_anchor_log(log) for log in receipt["logs"]) if e is not None]
        to = receipt.get("to")
        return AnchorTransaction(
            status=int(receipt["status"]),
            to=None if to is None else bytes.fromhex(str(to)[2:]),
            block_number=int(receipt["blockNumber"]),
            block_hash=bytes(receipt["blockHash"]),
            events=events,
        )

    def batch_history(self, *, from_block: int = 0, span: int = 10_000) -> tuple[int, list[ChainBatch]]:
        """``nextIndex`` and every ``BatchAnchored`` event of the contract, both as of one head block.

        The logs are read in ranges of ``span`` blocks from ``from_block`` (the deployment block if
        known), as RPC providers cap a single eth_getLogs.
        """
        if span < 1:
            raise ValueError("span must be at least one block")
        head = self.head_block_number()
        next_index = int(self._rpc(lambda: self.contract.functions.nextIndex().call(block_identifier=head)))
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
            for log in self._rpc(lambda q=query: self.w3.eth.get_logs(q)):
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
    w3: Web3,
    *,
    deployer: LocalAccount,
    owner: str,
    anchorer: str,
    artifact: Path,
    signer: str | None = None,
    first_index: int = 0,
    timeout: float = 60.0,
) -> str:
    """Deploy PacSpaceAnchor v2(owner, anchorer, signer, first_index); returns the address once mined.

    ``signer`` (the first receipt signer) defaults to the anchorer; ``first_index`` is where the log
    starts (0 for a new log, or a v1 contract's nextIndex to continue its log).
    """
    args = [
        Web3.to_checksum_address(owner),
        Web3.to_checksum_address(anchorer),
        Web3.to_checksum_address(signer if signer is not None else anchorer),
        first_index,
    ]
    return _deploy(w3, deployer=deployer, artifact=artifact, args=args, timeout=timeout)


def deploy_anchor_v1(
    w3: Web3, *, deployer: LocalAccount, owner: str, anchorer: str, artifact: Path, timeout: float = 60.0
) -> str:
    """Deploy the protocol v1 contract PacSpaceAnchorV1(owner, anchorer); returns the address once mined.

    ``artifact`` is out/PacSpaceAnchorV1.sol/PacSpaceAnchorV1.json. For tests and tools that need a
    real v1 contract; new deployments use :func:`deploy_anchor`.
    """
    args = [Web3.to_checksum_address(owner), Web3.to_checksum_address(anchorer)]
    return _deploy(w3, deployer=deployer, artifact=artifact, args=args, timeout=timeout)


def _deploy(w3: Web3, *, deployer: LocalAccount, artifact: Path, args: list[Any], timeout: float) -> str:
    abi, bytecode = load_artifact(artifact)
    factory = w3.eth.contract(abi=abi, bytecode=bytecode)
    tx = factory.constructor(*args).build_transaction(
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


# The contract's custom errors (v1 and v2), so a refused owner call says why in words.
_CUSTOM_ERRORS: dict[bytes, tuple[str, list[str]]] = {
    keccak256(f"{name}({','.join(types)})".encode())[:4]: (name, types)
    for name, types in (
        ("PacSpaceAnchorUnauthorizedAnchorer", ["address"]),
        ("PacSpaceAnchorNonContiguousStart", ["uint64", "uint64"]),
        ("PacSpaceAnchorEmptyBatch", []),
        ("PacSpaceAnchorZeroRoot", []),
        ("PacSpaceAnchorZeroAddress", []),
        ("PacSpaceAnchorSignerExists", ["address"]),
        ("PacSpaceAnchorSignerNotActive", ["address"]),
        ("OwnableUnauthorizedAccount", ["address"]),
    )
}


def decode_revert(data: bytes) -> str:
    """``Name(arg, ...)`` of a custom error the contract reverted with, or the raw data in hex."""
    from eth_abi.abi import decode

    known = _CUSTOM_ERRORS.get(data[:4])
    if known is None:
        return "0x" + data.hex()
    name, types = known
    try:
        values = decode(types, data[4:])
    except Exception:
        return "0x" + data.hex()
    return f"{name}({', '.join(str(v) for v in values)})"


class OwnerCallRefused(PacSpaceError):
    """The contract refused an owner transaction (it would revert); nothing was sent."""

    code = "owner_call_refused"
    status = 409
    title = "The anchor contract refused the call"


def send_owner_transaction(
    chain: AnchorClient, owner: LocalAccount, function: str, *args: Any, timeout: float = 120.0
) -> bytes:
    """Sign and send ``function(*args)`` from the contract owner; returns the mined transaction hash.

    The call is estimated first, so a call the contract would refuse raises OwnerCallRefused (with
    the decoded custom error) before anything is broadcast.
    """
    from web3.exceptions import ContractCustomError

    fn = getattr(chain.contract.functions, function)(*args)
    try:
        gas = int(fn.estimate_gas({"from": owner.address}))
    except ContractCustomError as exc:
        data = exc.data if isinstance(exc.data, str) else str(exc.args[0] if exc.args else "")
        raw = bytes.fromhex(data[2:]) if data.startswith("0x") else b""
        raise OwnerCallRefused(f"{function} refused by {chain.address}: {decode_revert(raw)}") from None
    except ContractLogicError as exc:
        raise OwnerCallRefused(f"{function} refused by {chain.address}: {exc}") from None
    w3 = chain.w3
    tx = fn.build_transaction(
        {
            "from": owner.address,
            "nonce": w3.eth.get_transaction_count(owner.address, "pending"),
            "gas": gas + gas // 5,
            "chainId": w3.eth.chain_id,
        }
    )
    signed = owner.sign_transaction(tx)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=timeout, poll_latency=0.1)
    if receipt["status"] != 1:
        raise OwnerCallRefused(f"{function} transaction 0x{bytes(tx_hash).hex()} reverted")
    return bytes(tx_hash)
