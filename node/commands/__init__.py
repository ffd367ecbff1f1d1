"""``pacspace-node``'s commands that work on the node's database without running the node: ``keys``,
``db`` and ``audit``, and what they share (a progress line on a terminal). ``node.cli`` adds them to its
parser; each module here owns its subcommand's arguments (with help on every one) and its output."""
