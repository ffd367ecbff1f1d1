"""The auditor's verifier of PacSpace proof bundles, exports, checkpoints and evidence packs.

Written from docs/PROTOCOL.md alone: nothing here imports the ``node`` package. Run it as
``pacspace-verify`` (or ``python -m pacspace_verify``); README.md beside pyproject.toml says more::

    pacspace-verify BUNDLE.json [--rpc URL] [--contract 0x..] [--confirmations N] [--explorer URL] [--json]
    pacspace-verify derive EXPORT.jsonl [--rpc URL] [--contract 0x..] [--confirmations N] [--json] [--quiet]
    pacspace-verify checkpoint TOKEN --export EXPORT.jsonl [--rpc URL] [--contract 0x..] [--json] [--quiet]
    pacspace-verify evidence PACK.json [--rpc URL] [--contract 0x..] [--confirmations N] [--json]

Modules, from the protocol up to the command line:

* ``protocol``: constants, type strings, hashing, the Merkle tree, signatures, canonical JSON
* ``bundle``: the ``Bundle`` model and its parsing (the ``format`` check)
* ``offline``: section 4's offline checks
* ``chain``: ``ChainSource``, ``RpcChain``, ``CachedChain`` and fetching ``ChainFacts``
* ``onchain``: section 4's on-chain checks
* ``derive``: ``ExportChecker``, the checks across an export's bundles (section 6)
* ``inputs``: reading a bundle, a proofToken and an export (``UnusableInput``)
* ``progress``: the export pass's progress bar on a terminal (``ProgressBar``)
* ``proof_token``: decoding a checkpoint's proofToken and its digest (section 5)
* ``checkpoint``: section 5's checkpoint checks
* ``evidence_pack``: a comparison's evidence pack parsed (the ``Pack`` model, ``format``'s problems)
* ``evidence``: the evidence pack's checks (arithmetic, coverage, items, bundles, resolution)
* ``cli``: argument parsing, output and exit status (``main``)
"""
