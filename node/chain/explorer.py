"""What an auditor needs to read the deployed contract's source on a block explorer.

``pacspace-node deploy`` writes, next to the address it prints:

- ``<name>.standard-input.json``: the compiler's standard-JSON input (every source, byte for byte, and
  the exact settings) that recompiles to the deployed bytecode; what Etherscan, Blockscout and
  Sourcify accept as "Standard JSON input";
- ``<name>.metadata.json``: the compiler's metadata, whose IPFS hash is embedded in the bytecode
  (Sourcify's "full match" checks it);
- ``<name>.constructor-args.txt``: the ABI-encoded constructor arguments (hex), which Etherscan and
  Blockscout ask for;
- ``sourcify-request.json``: the body of Sourcify's ``POST /v2/verify/{chainId}/{address}``.

The standard-JSON input is rebuilt from the forge artifact's metadata, as Sourcify does: the source
files are read from the repository and each must hash to the keccak256 the metadata records, so a
source changed since the build is refused instead of producing an input that cannot verify.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node.core.hashing import keccak256, to_hex

OUTPUT_SELECTION = {"*": {"*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object", "metadata"]}}


class SourceMismatch(ValueError):
    """A source file differs from the one the artifact was compiled from (rebuild with forge build)."""


@dataclass(frozen=True)
class VerificationFiles:
    directory: Path
    standard_input: Path
    metadata: Path
    constructor_args: Path
    sourcify_request: Path
    contract_identifier: str  # path:Name, as explorers want it
    compiler_version: str  # e.g. 0.8.37+commit.f401782d


def standard_json_input(metadata: dict[str, Any], root: Path) -> dict[str, Any]:
    """The standard-JSON input that reproduces ``metadata`` (and so the bytecode) from the sources under
    ``root``. Raises SourceMismatch when a file is missing or differs from the compiled one."""
    sources: dict[str, dict[str, str]] = {}
    for name, entry in metadata["sources"].items():
        path = root / name
        if not path.is_file():
            raise SourceMismatch(f"{name} is missing under {root}")
        content = path.read_bytes()
        if to_hex(keccak256(content)) != entry["keccak256"]:
            raise SourceMismatch(f"{name} changed since the contract was compiled; run forge build")
        sources[name] = {"content": content.decode()}
    settings = {k: v for k, v in metadata["settings"].items() if k != "compilationTarget"}
    # The metadata writes libraries as {"file:Lib": address}; the input as {file: {Lib: address}}.
    libraries: dict[str, dict[str, str]] = {}
    for key, address in settings.pop("libraries", {}).items():
        file, _, lib = key.rpartition(":")
        libraries.setdefault(file, {})[lib] = address
    settings["libraries"] = libraries
    settings["outputSelection"] = OUTPUT_SELECTION
    return {"language": metadata["language"], "sources": sources, "settings": settings}


def write_verification_files(
    *,
    artifact: Path,
    root: Path,
    directory: Path,
    address: str,
    chain_id: int,
    constructor_args: bytes,
    creation_tx: bytes | None,
) -> VerificationFiles:
    """Write the files an explorer needs to verify the contract at ``address`` (see the module doc)."""
    data = json.loads(artifact.read_text())
    raw_metadata: str = data["rawMetadata"]
    metadata = json.loads(raw_metadata)
    ((source, name),) = metadata["settings"]["compilationTarget"].items()
    standard = standard_json_input(metadata, root)
    directory.mkdir(parents=True, exist_ok=True)
    files = VerificationFiles(
        directory=directory,
        standard_input=directory / f"{name}.standard-input.json",
        metadata=directory / f"{name}.metadata.json",
        constructor_args=directory / f"{name}.constructor-args.txt",
        sourcify_request=directory / "sourcify-request.json",
        contract_identifier=f"{source}:{name}",
        compiler_version=metadata["compiler"]["version"],
    )
    files.standard_input.write_text(json.dumps(standard, indent=2) + "\n")
    files.metadata.write_text(raw_metadata)  # byte for byte: its hash is in the bytecode
    files.constructor_args.write_text(constructor_args.hex() + "\n")
    request: dict[str, Any] = {
        "stdJsonInput": standard,
        "compilerVersion": files.compiler_version,
        "contractIdentifier": files.contract_identifier,
    }
    if creation_tx is not None:
        request["creationTransactionHash"] = to_hex(creation_tx)
    files.sourcify_request.write_text(json.dumps(request) + "\n")
    (directory / "deployment.json").write_text(
        json.dumps(
            {"chainId": chain_id, "address": address.lower(), "creationTransaction": to_hex(creation_tx or b"")},
            indent=2,
        )
        + "\n"
    )
    return files


def verification_instructions(files: VerificationFiles, *, address: str, chain_id: int) -> str:
    """How to publish the source on Sourcify, an Etherscan-family explorer and a Blockscout explorer."""
    d = files.directory
    return f"""
Verify the source on an explorer (docs/AUDITORS.md). Files in {d}/:
  {files.standard_input.name}   standard-JSON input (compiler {files.compiler_version})
  {files.metadata.name}   compiler metadata     {files.constructor_args.name}   constructor arguments

Sourcify (any chain it knows; full match through the metadata hash):
  curl -X POST https://sourcify.dev/server/v2/verify/{chain_id}/{address} \\
       -H 'Content-Type: application/json' --data @{d / files.sourcify_request.name}
  then GET https://sourcify.dev/server/v2/verify/<verificationId> until it is done.

Etherscan family (Etherscan, Basescan, Arbiscan...; API key needed):
  web: Verify & Publish, compiler type "Solidity (Standard-Json-Input)", version v{files.compiler_version},
       upload {files.standard_input.name}, paste the constructor arguments from {files.constructor_args.name}
  api: curl https://api.etherscan.io/v2/api?chainid={chain_id} -d module=contract -d action=verifysourcecode \\
       -d apikey=$ETHERSCAN_API_KEY -d contractaddress={address} -d codeformat=solidity-standard-json-input \\
       -d contractname={files.contract_identifier} -d compilerversion=v{files.compiler_version} \\
       --data-urlencode sourceCode@{d / files.standard_input.name} \\
       -d constructorArguements=$(cat {d / files.constructor_args.name})

Blockscout (no key): the contract's page, "Verify & publish", method "Solidity (Standard JSON input)",
  compiler v{files.compiler_version}, upload {files.standard_input.name}; the constructor arguments are read
  from the chain (or paste {files.constructor_args.name}).
"""
