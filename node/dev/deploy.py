"""``pacspace-node deploy``: deploy the anchor contract (v2) and write what an explorer needs to verify it.

Besides the address, it writes the standard-JSON input, the compiler metadata and the constructor
arguments (node/chain/explorer.py) into ``--verification-dir`` and prints how to publish the source
on Sourcify, an Etherscan-family explorer and a Blockscout explorer, so an auditor can read the code
the chain runs (docs/AUDITORS.md).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from node.chain.client import account_from_key, connect
from node.chain.deploy import deploy_anchor_contract
from node.chain.explorer import SourceMismatch, verification_instructions, write_verification_files
from node.dev.chain import ARTIFACT, REPO_ROOT


def cmd_deploy(args: argparse.Namespace) -> int:
    key = os.environ.get("PACSPACE_DEPLOYER_KEY")
    if not key:
        print("error: set PACSPACE_DEPLOYER_KEY to the deployer's private key", file=sys.stderr)
        return 2
    deployer = account_from_key(key)
    w3 = connect(args.rpc_url)
    artifact = Path(args.artifact) if args.artifact else ARTIFACT
    deployed = deploy_anchor_contract(
        w3,
        deployer=deployer,
        owner=args.owner or deployer.address,
        anchorer=args.anchorer,
        artifact=artifact,
        signer=args.signer,
        first_index=args.first_index,
    )
    address = deployed.address.lower()
    print(address)
    chain_id = int(w3.eth.chain_id)
    directory = Path(args.verification_dir or f"deployments/{chain_id}-{address}")
    try:
        files = write_verification_files(
            artifact=artifact,
            root=REPO_ROOT,
            directory=directory,
            address=address,
            chain_id=chain_id,
            constructor_args=deployed.constructor_args,
            creation_tx=deployed.tx_hash,
        )
    except (SourceMismatch, OSError, KeyError) as exc:
        print(f"warning: deployed, but the explorer verification files were not written: {exc}", file=sys.stderr)
        return 0
    print(verification_instructions(files, address=address, chain_id=chain_id), file=sys.stderr)
    return 0


def add_deploy_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The ``deploy`` subcommand (contract v2: anchorer, first receipt signer, first log index)."""
    deploy = sub.add_parser("deploy", help="deploy the anchor contract (deployer key in PACSPACE_DEPLOYER_KEY)")
    deploy.add_argument("--rpc-url", required=True, help="JSON-RPC URL of the chain to deploy to")
    deploy.add_argument("--anchorer", required=True, help="address that anchors (the gas wallet)")
    deploy.add_argument("--signer", help="first receipt signer (default: the anchorer)")
    deploy.add_argument("--first-index", type=int, default=0, help="first log index (a v1 contract's nextIndex)")
    deploy.add_argument("--owner", help="contract owner (default: the deployer)")
    deploy.add_argument("--artifact", help="forge artifact (default: out/PacSpaceAnchor.sol/PacSpaceAnchor.json)")
    deploy.add_argument(
        "--verification-dir",
        help="where to write the explorer verification files (default: deployments/<chainId>-<address>/)",
    )
    deploy.set_defaults(func=cmd_deploy)
