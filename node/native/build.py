"""Compile node/native/merkle.c into node/native/_build/ (scripts/bootstrap and the Dockerfile run this).

    python -m node.native.build          # builds if the library is missing or was built from other sources
    python -m node.native.build --force

Portable flags only (-O3, no -march=native): the AVX2 code inside is chosen at run time. Without a C
compiler it says so and exits 0: the node then uses its pure-Python tree (same bytes, slower).
Only the standard library is imported here, so it runs before the virtualenv exists.
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = (HERE / "merkle.c", HERE / "keccak_x4.h")
LIBRARY = HERE / "_build" / "libpacspace_merkle.so"
FLAGS = ["-O3", "-fPIC", "-shared", "-pthread", "-std=gnu11", "-Wall", "-Wextra"]


def source_hash() -> str:
    """What a library built from the current sources reports: the build compiles it in, the loader compares."""
    digest = hashlib.sha256(" ".join(FLAGS).encode())
    for source in SOURCES:
        digest.update(source.read_bytes())
    return digest.hexdigest()[:16]


def find_compiler() -> str | None:
    candidates = [os.environ["CC"]] if os.environ.get("CC") else ["cc", "gcc", "clang"]
    for candidate in candidates:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def built_hash(library: Path) -> str | None:
    """The source hash a built library reports, or None if there is none or it does not load."""
    if not library.exists():
        return None
    try:
        lib = ctypes.CDLL(str(library))
        lib.pacspace_source_hash.restype = ctypes.c_char_p
        return (lib.pacspace_source_hash() or b"").decode()
    except (OSError, AttributeError):
        return None


def build(library: Path = LIBRARY, *, force: bool = False) -> int:
    wanted = source_hash()
    if not force and built_hash(library) == wanted:
        print(f"native Merkle library up to date ({library})", file=sys.stderr)
        return 0
    compiler = find_compiler()
    if compiler is None:
        print(
            "warning: no C compiler (cc, gcc or clang; or set CC): the native Merkle library is not built and the "
            "node uses its pure-Python tree (the same roots, about 8x slower). Debian: apt-get install gcc",
            file=sys.stderr,
        )
        return 0
    library.parent.mkdir(parents=True, exist_ok=True)
    # Compiled next to its final place and renamed over it: a process that has the old one loaded keeps it.
    fd, partial = tempfile.mkstemp(prefix=".libpacspace_merkle.", suffix=".so", dir=library.parent)
    os.close(fd)
    command = [compiler, *FLAGS, f'-DPACSPACE_SOURCE_HASH="{wanted}"', "-o", partial, str(SOURCES[0])]
    try:
        subprocess.run(command, check=True)  # noqa: S603  (our own argv, no shell)
        os.chmod(partial, 0o755)  # noqa: S103  (a shared library: every user that runs the node loads it)
        os.replace(partial, library)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    print(f"built the native Merkle library ({library})", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    parser.add_argument("--output", type=Path, default=LIBRARY, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    return build(args.output, force=args.force)


if __name__ == "__main__":
    sys.exit(main())
