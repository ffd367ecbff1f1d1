"""Rotating the two node keys without a gap: ``pacspace-node signer …`` and ``pacspace-node anchorer …``.

The receipt signer's authorisation is a window of log indexes kept by the v2 contract: authorising
opens it at the contract's ``nextIndex``, revoking closes it there, and neither touches an index
already anchored, so every receipt a key signed while authorised keeps verifying (docs/KEYS.md).
Revoking is refused while any delta the key signed is not yet anchored: those would fall outside
its window and could never verify. The anchoring key only pays gas; it is an anchorer or not.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from node.chain.client import AnchorClient
from node.chain.owner import OwnerCallRefused, send_owner_transaction
from node.chain.providers import connect_configured
from node.core.errors import PacSpaceError
from node.core.hashing import from_hex, to_hex
from node.settings import Settings, load_settings
from node.store.db import Store
from node.store.deltas import count_unanchored_signed_by


class RotationRefused(PacSpaceError):
    """A key change that would leave receipts unverifiable, or that this contract cannot make."""

    code = "rotation_refused"
    status = 409
    title = "Key change refused"


def authorise_signer(chain: AnchorClient, owner: LocalAccount, signer: bytes) -> bytes:
    """Open ``signer``'s window at the contract's nextIndex. Returns the transaction hash."""
    _require_v2(chain, "authorise a receipt signer")
    return send_owner_transaction(chain, owner, "authoriseSigner", Web3.to_checksum_address(signer))


def revoke_signer(chain: AnchorClient, store: Store, owner: LocalAccount, signer: bytes) -> bytes:
    """Close ``signer``'s window at nextIndex, once everything it signed is anchored."""
    _require_v2(chain, "revoke a receipt signer")
    next_index = chain.next_index()
    with store.session() as session:
        waiting = count_unanchored_signed_by(session=session, signer=signer, next_index=next_index)
    if waiting:
        raise RotationRefused(
            f"{waiting} delta(s) signed by {to_hex(signer)} are not anchored yet (the contract is at log index "
            f"{next_index}); revoking now would leave them outside the key's window forever. Let the node "
            "anchor them (and make sure no process still signs with this key), then revoke."
        )
    return send_owner_transaction(chain, owner, "revokeSigner", Web3.to_checksum_address(signer))


def set_anchorer(chain: AnchorClient, owner: LocalAccount, account: bytes, authorised: bool) -> bytes:
    return send_owner_transaction(chain, owner, "setAnchorer", Web3.to_checksum_address(account), authorised)


def _require_v2(chain: AnchorClient, what: str) -> None:
    if chain.protocol_version() < 2:
        raise RotationRefused(
            f"cannot {what} on {chain.address}: a v1 anchor contract keeps no key history, so revoking its "
            "anchorer would invalidate every receipt that key signed. Move to a v2 contract (docs/KEYS.md)."
        )


# --- command line ----------------------------------------------------------------------------


def _owner() -> LocalAccount:
    key = os.environ.get("PACSPACE_OWNER_KEY")
    keystore = os.environ.get("PACSPACE_OWNER_KEYSTORE")
    if keystore:
        password = os.environ.get("PACSPACE_OWNER_KEYSTORE_PASSWORD")
        if password is None:
            raise SystemExit("error: PACSPACE_OWNER_KEYSTORE needs PACSPACE_OWNER_KEYSTORE_PASSWORD")
        key = "0x" + bytes(Account.decrypt(Path(keystore).read_text(), password)).hex()
    if not key:
        raise SystemExit("error: set PACSPACE_OWNER_KEY (or PACSPACE_OWNER_KEYSTORE) to the contract owner's key")
    account: LocalAccount = Account.from_key(key)
    return account


def _address(text: str) -> bytes:
    try:
        return from_hex(text.lower(), length=20, field="address")
    except ValueError as exc:
        raise SystemExit(f"error: {exc}") from None


def cmd_signer(args: argparse.Namespace) -> int:
    settings = load_settings()
    chain = AnchorClient(connect_configured(settings), settings.contract_address)
    chain.check_identity(expected_chain_id=settings.chain_id)
    if args.signer_command == "show":
        address = _address(args.address) if args.address else _own_signer(settings)
        window = chain.signer_window(address)
        state = "never authorised" if window is None else "active" if window.active else "revoked"
        span = "" if window is None else f" from log index {window.from_index}"
        if window is not None and not window.active:
            span += f" until {window.until_index} (exclusive)"
        print(
            f"{to_hex(address)}: {state}{span} (contract v{chain.protocol_version()}, nextIndex {chain.next_index()})"
        )
        return 0
    store = Store(settings.database_url)
    try:
        address = _address(args.address)
        if args.signer_command == "authorise":
            tx = authorise_signer(chain, _owner(), address)
        else:
            tx = revoke_signer(chain, store, _owner(), address)
    except (RotationRefused, OwnerCallRefused) as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 1
    finally:
        store.close()
    window = chain.signer_window(address)
    assert window is not None
    edge = window.from_index if args.signer_command == "authorise" else window.until_index
    print(f"{args.signer_command}d {to_hex(address)} at log index {edge} in transaction {to_hex(tx)}")
    return 0


def cmd_anchorer(args: argparse.Namespace) -> int:
    settings = load_settings()
    chain = AnchorClient(connect_configured(settings), settings.contract_address)
    chain.check_identity(expected_chain_id=settings.chain_id)
    address = _address(args.address)
    try:
        tx = set_anchorer(chain, _owner(), address, args.anchorer_command == "add")
    except OwnerCallRefused as exc:
        print(f"error: {exc.detail}", file=sys.stderr)
        return 1
    verb = "added" if args.anchorer_command == "add" else "removed"
    print(f"{verb} anchorer {to_hex(address)} in transaction {to_hex(tx)}")
    return 0


def _own_signer(settings: Settings) -> bytes:
    from node.core.signing import Signer

    remote = settings.remote_signer("receipt_signer")
    if remote is not None and remote[1] is not None:
        return from_hex(remote[1], length=20)  # held by an external signer: its configured address
    return Signer(settings.receipt_signer_private_key()).address


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    owner = "owner key in PACSPACE_OWNER_KEY or PACSPACE_OWNER_KEYSTORE (+ _PASSWORD)"
    signer = sub.add_parser("signer", help="the receipt signing key's window on the anchor contract (docs/KEYS.md)")
    signer_sub = signer.add_subparsers(dest="signer_command", required=True)
    show = signer_sub.add_parser("show", help="a signer's window (default: this node's PACSPACE_RECEIPT_SIGNER_KEY)")
    show.add_argument("address", nargs="?", help="0x address of a receipt signer")
    authorise = signer_sub.add_parser("authorise", help=f"authorise a new receipt signer from nextIndex on ({owner})")
    authorise.add_argument("address", help="0x address of the new receipt signing key")
    revoke = signer_sub.add_parser(
        "revoke", help=f"close a signer's window at nextIndex; refused while its deltas are unanchored ({owner})"
    )
    revoke.add_argument("address", help="0x address of the receipt signing key to retire")
    signer.set_defaults(func=cmd_signer)

    anchorer = sub.add_parser("anchorer", help="authorise or remove a gas-paying anchoring key (docs/KEYS.md)")
    anchorer_sub = anchorer.add_subparsers(dest="anchorer_command", required=True)
    for verb, text in (("add", "may send anchor() from now on"), ("remove", "may no longer send anchor()")):
        command = anchorer_sub.add_parser(verb, help=f"the account {text} ({owner})")
        command.add_argument("address", help="0x address of the anchoring key")
    anchorer.set_defaults(func=cmd_anchorer)
