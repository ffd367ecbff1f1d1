"""The auditor's verifier of PacSpace proof bundles, exports and checkpoints.

Written from docs/PROTOCOL.md alone: nothing here imports the ``node`` package. Run it through
``scripts/verify_receipt.py``. Modules, from the protocol up to the command line:

* ``protocol``: constants, type strings, hashing, the Merkle tree, signatures, canonical JSON
* ``bundle``: the ``Bundle`` model and its parsing (the ``format`` check)
* ``offline``: section 4's offline checks
* ``chain``: ``ChainSource``, ``RpcChain``, ``CachedChain`` and fetching ``ChainFacts``
* ``onchain``: section 4's on-chain checks
* ``derive``: ``ExportChecker``, the checks across an export's bundles (section 6)
* ``inputs``: reading a bundle, a proofToken and an export (``UnusableInput``)
* ``proof_token``: decoding a checkpoint's proofToken and its digest (section 5)
* ``checkpoint``: section 5's checkpoint checks
* ``cli``: argument parsing, output and exit status (``main``)
"""
