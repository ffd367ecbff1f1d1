"""Compile node/native/merkle.c into node/native/_build/ (run by scripts/bootstrap, the Dockerfile, hatch_build.py).

    python -m node.native.build             # builds if the library is missing or was built from other sources
    python -m node.native.build --force
    python -m node.native.build --sanitize  # a copy with AddressSanitizer and UBSan, for scripts/test

Portable flags only (-O3, no -march=native): the AVX2 code inside is chosen at run time. Without a C
compiler it says so and exits 0: the node then uses its pure-Python tree (same bytes, slower); the
sanitized build exits 1 instead. It goes to its own file (SANITIZED_LIBRARY), which the node loads only
when PACSPACE_NATIVE_LIBRARY names it, and the process must start with the sanitizer's runtime
(LD_PRELOAD, as scripts/test-native-sanitized does). Each library reports the hash of its sources and
flags (source_hash), which node/native/loader.py compares with the files beside it.
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
SANITIZED_LIBRARY = HERE / "_build" / "libpacspace_merkle_asan.so"
_COMMON = ["-fPIC", "-shared", "-pthread", "-std=gnu11", "-Wall", "-Wextra"]
FLAGS = ["-O3", *_COMMON]
# Every report aborts (-fno-sanitize-recover): a test run that touches a byte it should not fails.
SANITIZE_FLAGS = [
    "-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined", "-fno-sanitize-recover=all", *_COMMON,
]  # fmt: skip


def source_hash(flags: list[str] = FLAGS) -> str:
    """What a library built from the current sources with ``flags`` reports: the build compiles it in, the loader
    compares (with the hash for FLAGS and for SANITIZE_FLAGS, the two builds there are)."""
    digest = hashlib.sha256(" ".join(flags).encode())
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


def _up_to_date(library: Path, wanted: str, *, sanitized: bool) -> bool:
    if not sanitized:
        return built_hash(library) == wanted
    # A sanitized library cannot be loaded into this process (the sanitizer's runtime must be loaded first, or it
    # ends the process), so its bytes are searched for the hash it would report: a 16-hex-digit string literal.
    return library.exists() and f"{wanted}\0".encode() in library.read_bytes()


def build(library: Path | None = None, *, force: bool = False, sanitize: bool = False) -> int:
    """Builds LIBRARY (SANITIZED_LIBRARY with ``sanitize``, or ``library``) unless it is up to date; the exit code."""
    flags = SANITIZE_FLAGS if sanitize else FLAGS
    library = library if library is not None else SANITIZED_LIBRARY if sanitize else LIBRARY
    wanted = source_hash(flags)
    if not force and _up_to_date(library, wanted, sanitized=sanitize):
        print(f"native Merkle library up to date ({library})", file=sys.stderr)
        return 0
    compiler = find_compiler()
    if compiler is None and sanitize:
        print(
            "error: the sanitized native Merkle library needs a C compiler (cc, gcc or clang; or set CC)",
            file=sys.stderr,
        )
        return 1
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
    command = [compiler, *flags, f'-DPACSPACE_SOURCE_HASH="{wanted}"', "-o", partial, str(SOURCES[0])]
    try:
        subprocess.run(command, check=True)  # noqa: S603  (our own argv, no shell)
        os.chmod(partial, 0o755)  # noqa: S103  (a shared library: every user that runs the node loads it)
        os.replace(partial, library)
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    print(f"built the {'sanitized ' if sanitize else ''}native Merkle library ({library})", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    parser.add_argument(
        "--sanitize", action="store_true", help=f"AddressSanitizer and UBSan, -O1 -g, into {SANITIZED_LIBRARY.name}"
    )
    parser.add_argument("--output", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    return build(args.output, force=args.force, sanitize=args.sanitize)


if __name__ == "__main__":
    sys.exit(main())
