"""The native backend (node/native/merkle.c) against the pure-Python tree: the same bytes, for every SIMD level.

scripts/bootstrap builds the library, so these tests FAIL when it is missing (a node without it is ~8x
slower at building trees); PACSPACE_NATIVE=0 is the explicit way to skip them (no C compiler).
The Python side is itself checked against @openzeppelin/merkle-tree (test_merkle_reference.py, which
also runs with this backend).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.core.hashing import keccak256
from node.core.merkle import MerkleTree, compute_leaf_hash, compute_leaf_hashes, proof_from_packed, verify_proof
from node.native import loader
from node.native.build import FLAGS, LIBRARY, SANITIZE_FLAGS, SANITIZED_LIBRARY, build, source_hash
from node.native.loader import NativeMerkle, NativeUnavailable
from tests.support import native_merkle

# keccak256 as Ethereum defines it (not SHA3-256): published values.
KNOWN = {
    b"": "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470",
    b"abc": "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45",
    b"hello world": "47173285a8d7341e5e972fc677286384f802f8ef42a5ec5f03bbfa254cb01fad",
}
SIMD_LEVELS = (0, 1, 2)  # one hash at a time; four at once (baseline instructions); four at once with AVX2


@pytest.fixture(scope="module")
def native() -> NativeMerkle:
    return native_merkle()


@pytest.fixture(params=SIMD_LEVELS, ids=["scalar", "x4", "x4-avx2"])
def simd(request: pytest.FixtureRequest, native: NativeMerkle) -> Iterator[NativeMerkle]:
    level = int(request.param)
    if native.set_simd(level) != level:
        native.set_simd(-1)
        pytest.skip(f"this CPU has no SIMD level {level} (AVX2)")
    try:
        yield native
    finally:
        native.set_simd(-1)


def _python_tree(start: int, fps: list[bytes]) -> MerkleTree:
    return MerkleTree.build(compute_leaf_hashes(start, fps))


def _assert_same_tree(native_tree: MerkleTree, python_tree: MerkleTree) -> None:
    assert native_tree.root == python_tree.root
    assert native_tree.pack() == python_tree.pack()
    assert native_tree.nodes == python_tree.nodes
    assert native_tree.tree_index == python_tree.tree_index
    for i in range(python_tree.leaf_count):
        assert native_tree.proof(i) == python_tree.proof(i)


def test_keccak256_matches_published_vectors_and_every_length_around_the_rate(native: NativeMerkle) -> None:
    for message, digest in KNOWN.items():
        assert native.keccak256(message).hex() == digest
    rng = random.Random(1)
    for length in [*range(0, 300), 64, 135, 136, 137, 271, 272, 273, 1000, 5000]:
        message = rng.randbytes(length)
        assert native.keccak256(message) == keccak256(message), f"length {length}"


def test_leaf_hashes_equal_python_across_index_carries(simd: NativeMerkle) -> None:
    rng = random.Random(2)
    for start, count in [(0, 1), (0, 9), (250, 20), (2**64 - 3, 11), (2**256 - 13, 13), (7, 9001)]:
        fps = [rng.randbytes(32) for _ in range(count)]
        expected = [compute_leaf_hash(start + i, fp) for i, fp in enumerate(fps)]
        assert compute_leaf_hashes(start, fps, backend=simd) == expected, (start, count)


def test_index_range_and_fingerprint_length_are_refused_like_python(native: NativeMerkle) -> None:
    fps = [bytes(32)] * 3
    for backend in (None, native):
        with pytest.raises(OverflowError):
            compute_leaf_hashes(2**256 - 2, fps, backend=backend)
        with pytest.raises(OverflowError):
            compute_leaf_hashes(-1, fps, backend=backend)
        with pytest.raises(OverflowError):
            MerkleTree.of(2**256 - 2, fps, backend=backend)
        with pytest.raises(ValueError, match="32 bytes"):
            compute_leaf_hashes(0, [bytes(31), bytes(33)], backend=backend)
        with pytest.raises(ValueError, match="32 bytes"):
            MerkleTree.of(0, [bytes(31), bytes(33)], backend=backend)
        with pytest.raises(ValueError, match="at least one leaf"):
            MerkleTree.of(0, [], backend=backend)
        with pytest.raises(ValueError, match="at least one leaf"):
            MerkleTree.build([], backend=backend)
    with pytest.raises(ValueError, match="32 bytes"):
        MerkleTree.build([bytes(32), bytes(31)], backend=native)


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 1000, 1023, 1024, 1025])
def test_small_and_odd_sizes_build_the_python_tree(simd: NativeMerkle, size: int) -> None:
    rng = random.Random(size)
    start = rng.randrange(0, 2**40)
    fps = [rng.randbytes(32) for _ in range(size)]
    expected = _python_tree(start, fps)
    _assert_same_tree(MerkleTree.of(start, fps, backend=simd), expected)
    _assert_same_tree(MerkleTree.build(compute_leaf_hashes(start, fps), backend=simd), expected)


@pytest.mark.parametrize("threads", [1, 2, 3, 8])
@pytest.mark.parametrize("size", [4095, 4096, 8191, 8192, 8193, 12_289, 16_383, 16_384, 20_001])
def test_thread_split_boundaries_give_the_same_tree(native: NativeMerkle, threads: int, size: int) -> None:
    """merkle.c gives a thread at least 4,096 hashes (parts of multiples of 4) and buckets 16,384 leaves or more."""
    rng = random.Random(size * 10 + threads)
    fps = [rng.randbytes(32) for _ in range(size)]
    backend = NativeMerkle(native.library, threads=threads)
    expected = _python_tree(size, fps)
    tree = MerkleTree.of(size, fps, backend=backend)
    assert tree.pack() == expected.pack()
    assert tree.tree_index == expected.tree_index
    for i in rng.sample(range(size), 50):
        assert tree.proof(i) == expected.proof(i)
        assert proof_from_packed(tree.pack(), tree.leaf_hash(i)) == expected.proof(i)


def test_random_sizes_with_every_simd_level(simd: NativeMerkle) -> None:
    rng = random.Random(3)
    for _ in range(5):
        size = rng.randrange(1, 30_000)
        fps = [rng.randbytes(32) for _ in range(size)]
        start = rng.randrange(0, 2**63)
        tree, expected = MerkleTree.of(start, fps, backend=simd), _python_tree(start, fps)
        assert tree.pack() == expected.pack(), size
        assert tree.tree_index == expected.tree_index, size


def test_equal_leaves_are_placed_as_pythons_stable_sort_places_them(simd: NativeMerkle) -> None:
    """Distinct values never give equal leaves, but ``build`` takes any hashes: ties go by value index."""
    rng = random.Random(4)
    pool = [rng.randbytes(32) for _ in range(3)]
    for size in [2, 3, 5, 64, 9000, 20_000]:  # 16,384 leaves or more are bucketed before they are sorted
        leaves = [pool[rng.randrange(3)] for _ in range(size)]
        expected = MerkleTree.build(leaves)
        tree = MerkleTree.build(leaves, backend=simd)
        assert tree.pack() == expected.pack()
        assert tree.tree_index == expected.tree_index
        for i, leaf in enumerate(leaves):
            assert tree.proof(i) == expected.proof(i)
            verify_proof(leaf, tree.proof(i), tree.root)
    # equal in their first 8 bytes only: the comparison must read the rest of the hash
    prefix = rng.randbytes(8)
    for size in [5000, 20_000]:
        leaves = [prefix + rng.randbytes(24) for _ in range(size)]
        assert MerkleTree.build(leaves, backend=simd).pack() == MerkleTree.build(leaves).pack()


def test_a_missing_or_stale_library_is_refused(native: NativeMerkle, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(NativeUnavailable, match="not built"):
        NativeMerkle(native.library.parent / "missing.so")
    # the library in use (the release build, or the sanitized one under scripts/test-native-sanitized) is current
    assert native.lib.pacspace_source_hash().decode() in (source_hash(FLAGS), source_hash(SANITIZE_FLAGS))
    monkeypatch.setattr(loader, "source_hash", lambda flags: "0123456789abcdef")
    with pytest.raises(NativeUnavailable, match="other sources"):
        NativeMerkle(native.library)


def test_release_and_sanitized_builds_have_their_own_hash_and_file() -> None:
    assert source_hash(FLAGS) != source_hash(SANITIZE_FLAGS)
    assert LIBRARY != SANITIZED_LIBRARY and LIBRARY.parent == SANITIZED_LIBRARY.parent


def test_a_sanitized_library_is_up_to_date_by_the_hash_in_its_bytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """It cannot be loaded without its runtime, so build.py reads the hash it was compiled with from the file."""
    library = tmp_path / "libpacspace_merkle_asan.so"
    library.write_bytes(b"\x7fELF..." + source_hash(SANITIZE_FLAGS).encode() + b"\0...")
    assert build(library, sanitize=True) == 0
    assert "up to date" in capsys.readouterr().err
    library.write_bytes(b"\x7fELF..." + source_hash(FLAGS).encode() + b"\0...")  # the release build's hash: stale
    monkeypatch.setattr("node.native.build.find_compiler", lambda: None)
    assert build(library, sanitize=True) == 1
    assert "needs a C compiler" in capsys.readouterr().err


def test_backend_choice_follows_pacspace_native(native: NativeMerkle, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PACSPACE_NATIVE_LIBRARY", str(native.library))
    monkeypatch.setenv("PACSPACE_NATIVE", "0")
    assert loader._choose() is None
    monkeypatch.setenv("PACSPACE_NATIVE", "auto")
    chosen = loader._choose()
    assert isinstance(chosen, NativeMerkle) and chosen.name.startswith("native")
    assert chosen.library == native.library
    monkeypatch.setenv("PACSPACE_NATIVE_LIBRARY", str(native.library.parent / "missing.so"))
    assert loader._choose() is None
    monkeypatch.setenv("PACSPACE_NATIVE", "1")
    with pytest.raises(NativeUnavailable, match=r"missing\.so is not built"):
        loader._choose()
    monkeypatch.delenv("PACSPACE_NATIVE_LIBRARY")
    assert loader.configured_library() == LIBRARY
