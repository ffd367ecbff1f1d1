"""Pure domain logic: no I/O, no frameworks. Everything here is consensus-critical.

Third parties re-implement these rules from docs/PROTOCOL.md; a change here that alters
a digest is a protocol change and needs a new domain ``version``.
"""
