"""Development tooling, never used by a deployed node.

``chain``: a local Anvil and the anchor contract (``pacspace-node dev``); ``postgres``: a throwaway
PostgreSQL cluster; ``cluster``: several API processes on one database (``scripts/cluster``).
"""
