// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {stdError} from "forge-std/StdError.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

import {IPacSpaceAnchorV1} from "../../src/v1/IPacSpaceAnchorV1.sol";
import {MerkleHelpers} from "../utils/MerkleHelpers.sol";

/// @dev The surface every PacSpace anchor shares: v1's interface (which v2 keeps, selector for selector)
/// and OpenZeppelin's `Ownable2Step`. Both `PacSpaceAnchorV1` and `PacSpaceAnchor` satisfy it.
interface IAnchorLog is IPacSpaceAnchorV1 {
    function owner() external view returns (address);

    function pendingOwner() external view returns (address);

    function transferOwnership(address newOwner) external;

    function acceptOwnership() external;
}

/// @dev The behaviour v2 inherited from v1, written once: anchoring, contiguity, commitments, `verify`,
/// anchorers and two-step ownership, with their exact reverts and fuzz tests. A test contract per
/// anchor version inherits it and implements `_deploy`; v2's test adds its signer windows.
/// Errors and events are named through `IPacSpaceAnchorV1`; v2's `IPacSpaceAnchor` declares the same
/// signatures, so the selectors and topics are the same bytes (checked in v2's test).
abstract contract AnchorLogBehaviour is Test, MerkleHelpers {
    IAnchorLog internal anchorContract;

    address internal owner = makeAddr("owner");
    address internal anchorer = makeAddr("anchorer");
    address internal stranger = makeAddr("stranger");

    bytes32 internal constant ROOT = keccak256("root");

    /// @dev Storage slots both versions share: Ownable2Step uses 0 and 1; anchorers 2, commitments 3, log head 4.
    uint256 internal constant COMMITMENTS_SLOT = 3;
    uint256 internal constant HEAD_SLOT = 4;

    /// @dev Deploys the contract under test with this owner and first anchorer (and, for v2, a log
    /// starting at index 0 with a first signer); reverts as its constructor does.
    function _deploy(address owner_, address anchorer_) internal virtual returns (IAnchorLog);

    /// @dev Further checks on the storage slots one `anchor` call read; none by default.
    function _checkAnchorReads(bytes32[] memory reads) internal view virtual {}

    function setUp() public virtual {
        anchorContract = _deploy(owner, anchorer);
    }

    function _anchor(uint64 startIndex, uint32 count, bytes32 root) internal returns (uint64) {
        vm.prank(anchorer);
        return anchorContract.anchor(startIndex, count, root);
    }

    // ---------------------------------------------------------------- construction

    /// @dev v2 extends this with its signer state (override, then `super`).
    function test_Constructor() public view virtual {
        assertEq(anchorContract.owner(), owner);
        assertEq(anchorContract.pendingOwner(), address(0));
        assertTrue(anchorContract.isAnchorer(anchorer));
        assertFalse(anchorContract.isAnchorer(owner));
        assertEq(anchorContract.nextIndex(), 0);
        assertEq(anchorContract.batchCount(), 0);
        assertEq(anchorContract.batchCommitment(0), bytes32(0));
    }

    function test_ConstructorEmitsAnchorerUpdated() public {
        vm.expectEmit(true, true, true, true);
        emit IPacSpaceAnchorV1.AnchorerUpdated(anchorer, true);
        _deploy(owner, anchorer);
    }

    function test_RevertWhen_ConstructorAnchorerIsZero() public {
        vm.expectRevert(abi.encodeWithSelector(IPacSpaceAnchorV1.PacSpaceAnchorZeroAddress.selector));
        _deploy(owner, address(0));
    }

    function test_RevertWhen_ConstructorOwnerIsZero() public {
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableInvalidOwner.selector, address(0)));
        _deploy(address(0), anchorer);
    }

    // ---------------------------------------------------------------- anchor

    function test_Anchor() public {
        uint64 batchId = _anchor(0, 10, ROOT);

        assertEq(batchId, 0);
        assertEq(anchorContract.nextIndex(), 10);
        assertEq(anchorContract.batchCount(), 1);
        assertEq(anchorContract.batchCommitment(0), keccak256(abi.encode(ROOT, uint32(10))));
        assertTrue(anchorContract.isAnchored(0, 10, ROOT));
    }

    function test_AnchorEmitsBatchAnchored() public {
        _anchor(0, 3, keccak256("first"));

        vm.expectEmit(true, true, true, true, address(anchorContract));
        emit IPacSpaceAnchorV1.BatchAnchored(1, ROOT, 3, 7, anchorer);
        _anchor(3, 7, ROOT);
    }

    function test_AnchorSequence() public {
        uint32[4] memory counts = [uint32(1), 2, 1000, type(uint32).max];
        uint64 start;
        for (uint256 i; i < counts.length; ++i) {
            bytes32 root = keccak256(abi.encode("batch", i));
            assertEq(_anchor(start, counts[i], root), i);
            assertEq(anchorContract.batchCommitment(start), keccak256(abi.encode(root, counts[i])));
            start += counts[i];
            assertEq(anchorContract.nextIndex(), start);
            assertEq(anchorContract.batchCount(), i + 1);
        }
        assertEq(anchorContract.batchCommitment(start), bytes32(0));
    }

    /// @dev The gas target: per batch one SSTORE to the packed log head (slot 4, never zero after the
    /// constructor) and one to a fresh commitment slot (mapping at slot 3); the slots read go to
    /// `_checkAnchorReads`.
    function test_AnchorWritesTwoSlots() public {
        for (uint64 i; i < 2; ++i) {
            assertNotEq(vm.load(address(anchorContract), bytes32(HEAD_SLOT)), bytes32(0));
            bytes32 commitmentSlot = keccak256(abi.encode(uint256(i * 10), COMMITMENTS_SLOT));
            assertEq(vm.load(address(anchorContract), commitmentSlot), bytes32(0));

            vm.record();
            _anchor(i * 10, 10, ROOT);
            (bytes32[] memory reads, bytes32[] memory writes) = vm.accesses(address(anchorContract));

            assertEq(writes.length, 2);
            assertEq(writes[0], bytes32(HEAD_SLOT));
            assertEq(writes[1], commitmentSlot);
            assertEq(vm.load(address(anchorContract), commitmentSlot), keccak256(abi.encode(ROOT, uint32(10))));
            _checkAnchorReads(reads);
        }
    }

    /// @dev With the log starting at index 0 the head slot holds only the `initialised` flag before the first batch.
    function test_HeadSlotIsNeverZero() public view {
        assertEq(vm.load(address(anchorContract), bytes32(HEAD_SLOT)), bytes32(uint256(1) << 128));
    }

    function test_AnchorByAddedAnchorer() public {
        vm.prank(owner);
        anchorContract.setAnchorer(stranger, true);

        vm.prank(stranger);
        assertEq(anchorContract.anchor(0, 1, ROOT), 0);
    }

    function test_AnchorUpToEndOfIndexSpace() public {
        // Move the log head next to the end of the uint64 index space.
        // Slot 4 packs nextIndex | batchCount << 64 | initialised << 128.
        uint64 start = type(uint64).max - 1;
        vm.store(address(anchorContract), bytes32(HEAD_SLOT), bytes32(uint256(start) | (1 << 128)));
        assertEq(anchorContract.nextIndex(), start);

        vm.prank(anchorer);
        vm.expectRevert(stdError.arithmeticError);
        anchorContract.anchor(start, 2, ROOT);

        bytes32 fingerprint = _fingerprint(start);
        bytes32 root = _leaf(start, fingerprint);
        _anchor(start, 1, root);
        assertEq(anchorContract.nextIndex(), type(uint64).max);
        assertTrue(anchorContract.verify(start, 1, root, start, fingerprint, _proof()));
        assertFalse(anchorContract.verify(start, 1, root, type(uint64).max, fingerprint, _proof()));
    }

    function test_RevertWhen_CallerNotAnchorer() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IPacSpaceAnchorV1.PacSpaceAnchorUnauthorizedAnchorer.selector, stranger));
        anchorContract.anchor(0, 1, ROOT);
    }

    function test_RevertWhen_OwnerNotAnchorer() public {
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(IPacSpaceAnchorV1.PacSpaceAnchorUnauthorizedAnchorer.selector, owner));
        anchorContract.anchor(0, 1, ROOT);
    }

    function test_RevertWhen_AnchorerRevoked() public {
        vm.prank(owner);
        anchorContract.setAnchorer(anchorer, false);

        vm.prank(anchorer);
        vm.expectRevert(abi.encodeWithSelector(IPacSpaceAnchorV1.PacSpaceAnchorUnauthorizedAnchorer.selector, anchorer));
        anchorContract.anchor(0, 1, ROOT);
    }

    function test_RevertWhen_StartNotContiguous() public {
        vm.prank(anchorer);
        vm.expectRevert(abi.encodeWithSelector(IPacSpaceAnchorV1.PacSpaceAnchorNonContiguousStart.selector, 0, 1));
        anchorContract.anchor(1, 1, ROOT);

        _anchor(0, 5, ROOT);

        vm.prank(anchorer);
        vm.expectRevert(abi.encodeWithSelector(IPacSpaceAnchorV1.PacSpaceAnchorNonContiguousStart.selector, 5, 6));
        anchorContract.anchor(6, 1, ROOT);

        vm.prank(anchorer);
        vm.expectRevert(abi.encodeWithSelector(IPacSpaceAnchorV1.PacSpaceAnchorNonContiguousStart.selector, 5, 4));
        anchorContract.anchor(4, 1, ROOT);
    }

    function test_RevertWhen_StartAlreadyAnchored() public {
        _anchor(0, 5, ROOT);
        bytes32 commitment = anchorContract.batchCommitment(0);

        vm.prank(anchorer);
        vm.expectRevert(abi.encodeWithSelector(IPacSpaceAnchorV1.PacSpaceAnchorNonContiguousStart.selector, 5, 0));
        anchorContract.anchor(0, 5, keccak256("other root"));

        assertEq(anchorContract.batchCommitment(0), commitment);
        assertEq(anchorContract.batchCount(), 1);
    }

    function test_RevertWhen_EmptyBatch() public {
        vm.prank(anchorer);
        vm.expectRevert(abi.encodeWithSelector(IPacSpaceAnchorV1.PacSpaceAnchorEmptyBatch.selector));
        anchorContract.anchor(0, 0, ROOT);
    }

    function test_RevertWhen_ZeroRoot() public {
        vm.prank(anchorer);
        vm.expectRevert(abi.encodeWithSelector(IPacSpaceAnchorV1.PacSpaceAnchorZeroRoot.selector));
        anchorContract.anchor(0, 1, bytes32(0));
    }

    function test_RevertOrder_AuthorisationBeforeArguments() public {
        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(IPacSpaceAnchorV1.PacSpaceAnchorUnauthorizedAnchorer.selector, stranger));
        anchorContract.anchor(7, 0, bytes32(0));

        vm.prank(anchorer);
        vm.expectRevert(abi.encodeWithSelector(IPacSpaceAnchorV1.PacSpaceAnchorEmptyBatch.selector));
        anchorContract.anchor(7, 0, bytes32(0));

        vm.prank(anchorer);
        vm.expectRevert(abi.encodeWithSelector(IPacSpaceAnchorV1.PacSpaceAnchorZeroRoot.selector));
        anchorContract.anchor(7, 1, bytes32(0));
    }

    // ---------------------------------------------------------------- anchorers and ownership

    function test_SetAnchorer() public {
        vm.expectEmit(true, true, true, true, address(anchorContract));
        emit IPacSpaceAnchorV1.AnchorerUpdated(stranger, true);
        vm.prank(owner);
        anchorContract.setAnchorer(stranger, true);
        assertTrue(anchorContract.isAnchorer(stranger));

        vm.expectEmit(true, true, true, true, address(anchorContract));
        emit IPacSpaceAnchorV1.AnchorerUpdated(stranger, false);
        vm.prank(owner);
        anchorContract.setAnchorer(stranger, false);
        assertFalse(anchorContract.isAnchorer(stranger));
        assertTrue(anchorContract.isAnchorer(anchorer));
    }

    function test_RevertWhen_SetAnchorerCallerNotOwner() public {
        vm.prank(anchorer);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, anchorer));
        anchorContract.setAnchorer(stranger, true);
        assertFalse(anchorContract.isAnchorer(stranger));
    }

    function test_RevertWhen_SetAnchorerZeroAddress() public {
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(IPacSpaceAnchorV1.PacSpaceAnchorZeroAddress.selector));
        anchorContract.setAnchorer(address(0), true);
    }

    /// @dev v2 extends this with its signer functions (override, then `super`).
    function test_TransferOwnership2Step() public virtual {
        address newOwner = makeAddr("newOwner");

        vm.prank(owner);
        anchorContract.transferOwnership(newOwner);
        assertEq(anchorContract.owner(), owner);
        assertEq(anchorContract.pendingOwner(), newOwner);

        vm.prank(stranger);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, stranger));
        anchorContract.acceptOwnership();

        vm.prank(newOwner);
        anchorContract.acceptOwnership();
        assertEq(anchorContract.owner(), newOwner);
        assertEq(anchorContract.pendingOwner(), address(0));

        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, owner));
        anchorContract.setAnchorer(stranger, true);

        vm.prank(newOwner);
        anchorContract.setAnchorer(stranger, true);
        assertTrue(anchorContract.isAnchorer(stranger));
    }

    // ---------------------------------------------------------------- verify

    function test_Verify() public {
        bytes32[5] memory leaves;
        for (uint256 i; i < leaves.length; ++i) {
            leaves[i] = _leaf(i, _fingerprint(i));
        }

        // Two-leaf batch [0, 2).
        bytes32 root2 = _hashPair(leaves[0], leaves[1]);
        _anchor(0, 2, root2);
        assertTrue(anchorContract.verify(0, 2, root2, 0, _fingerprint(0), _proof(leaves[1])));
        assertTrue(anchorContract.verify(0, 2, root2, 1, _fingerprint(1), _proof(leaves[0])));

        // Three-leaf batch [2, 5): root = H(H(l2, l3), l4).
        bytes32 node23 = _hashPair(leaves[2], leaves[3]);
        bytes32 root3 = _hashPair(node23, leaves[4]);
        _anchor(2, 3, root3);
        assertTrue(anchorContract.verify(2, 3, root3, 2, _fingerprint(2), _proof(leaves[3], leaves[4])));
        assertTrue(anchorContract.verify(2, 3, root3, 3, _fingerprint(3), _proof(leaves[2], leaves[4])));
        assertTrue(anchorContract.verify(2, 3, root3, 4, _fingerprint(4), _proof(node23)));

        // An entry of one batch does not verify against the other.
        assertFalse(anchorContract.verify(2, 3, root3, 1, _fingerprint(1), _proof(leaves[0])));
        assertFalse(anchorContract.verify(0, 2, root2, 2, _fingerprint(2), _proof(leaves[3], leaves[4])));
    }

    /// @dev Vector from @openzeppelin/merkle-tree 1.0.8:
    /// `StandardMerkleTree.of([["7", f7], ["8", f8], ["9", f9]], ["uint256", "bytes32"])`
    /// with `fN = keccak256("fingerprint-N")`.
    function test_Verify_OpenZeppelinMerkleTreeVector() public {
        bytes32 root = 0x9f66c80c16e357082575fe4cb301c133fb26311d1d38ced6bfbbd2a1a0f8ad0e;
        bytes32 leaf7 = 0x40c9a9537379f56d24f1d5ceebf639efc4fad286ad928465160023b679a87389;
        bytes32 leaf8 = 0x4735b3d691a8de7f60aa3a776e23edf37a0562425689e8839e7460bf32df5962;
        bytes32 leaf9 = 0xd246bd584ccbd4254d950e0ec1d388d5b90e2ab088448762eaddbe8affe6efe6;
        bytes32 node78 = 0x70d28797ddecf02e3212dad030290e40f8cbba4e7c900e8c2473a400f5b75ad6;

        assertEq(_leaf(7, keccak256("fingerprint-7")), leaf7);
        assertEq(_leaf(8, keccak256("fingerprint-8")), leaf8);
        assertEq(_leaf(9, keccak256("fingerprint-9")), leaf9);
        assertEq(_hashPair(leaf7, leaf8), node78);
        assertEq(_hashPair(node78, leaf9), root);

        _anchor(0, 7, keccak256("padding"));
        _anchor(7, 3, root);

        assertTrue(anchorContract.verify(7, 3, root, 7, keccak256("fingerprint-7"), _proof(leaf8, leaf9)));
        assertTrue(anchorContract.verify(7, 3, root, 8, keccak256("fingerprint-8"), _proof(leaf7, leaf9)));
        assertTrue(anchorContract.verify(7, 3, root, 9, keccak256("fingerprint-9"), _proof(node78)));
    }

    function test_VerifyFalseWhen_WrongRoot() public {
        (bytes32 root, bytes32 leaf1) = _anchorTwoLeafBatch();
        bytes32 otherRoot = keccak256("other root");
        assertFalse(anchorContract.verify(0, 2, otherRoot, 0, _fingerprint(0), _proof(leaf1)));
        assertFalse(anchorContract.isAnchored(0, 2, otherRoot));
        assertTrue(anchorContract.isAnchored(0, 2, root));
    }

    function test_VerifyFalseWhen_WrongCount() public {
        (bytes32 root, bytes32 leaf1) = _anchorTwoLeafBatch();
        assertFalse(anchorContract.verify(0, 3, root, 0, _fingerprint(0), _proof(leaf1)));
        assertFalse(anchorContract.verify(0, 1, root, 0, _fingerprint(0), _proof(leaf1)));
        assertFalse(anchorContract.isAnchored(0, 3, root));
    }

    function test_VerifyFalseWhen_LogIndexOutOfRange() public {
        _anchor(0, 5, keccak256("padding"));
        // A single-leaf batch [5, 6) whose root is the leaf: the empty proof is valid for logIndex 5 only.
        bytes32 fingerprint = _fingerprint(5);
        bytes32 root = _leaf(5, fingerprint);
        _anchor(5, 1, root);
        assertTrue(anchorContract.verify(5, 1, root, 5, fingerprint, _proof()));

        // Anchor a root that is the leaf of an out-of-range index: the proof checks, the range must not.
        bytes32 outsideRoot = _leaf(9, fingerprint);
        _anchor(6, 2, outsideRoot);
        assertFalse(anchorContract.verify(6, 2, outsideRoot, 9, fingerprint, _proof()));
        assertFalse(anchorContract.verify(6, 2, outsideRoot, 8, fingerprint, _proof()));
        assertFalse(anchorContract.verify(6, 2, outsideRoot, 5, fingerprint, _proof()));
        assertFalse(anchorContract.verify(5, 1, root, 4, fingerprint, _proof()));
        assertFalse(anchorContract.verify(5, 1, root, 6, fingerprint, _proof()));
    }

    function test_VerifyFalseWhen_BadProof() public {
        (bytes32 root, bytes32 leaf1) = _anchorTwoLeafBatch();
        bytes32 fingerprint = _fingerprint(0);
        assertFalse(anchorContract.verify(0, 2, root, 0, fingerprint, _proof()));
        assertFalse(anchorContract.verify(0, 2, root, 0, fingerprint, _proof(keccak256("sibling"))));
        assertFalse(anchorContract.verify(0, 2, root, 0, fingerprint, _proof(leaf1, leaf1)));
        assertFalse(anchorContract.verify(0, 2, root, 0, keccak256("wrong fingerprint"), _proof(leaf1)));
        // The right fingerprint at the sibling's index is a different leaf.
        assertFalse(anchorContract.verify(0, 2, root, 1, fingerprint, _proof(leaf1)));
    }

    function test_VerifyFalseWhen_StartNotAnchored() public {
        (bytes32 root, bytes32 leaf1) = _anchorTwoLeafBatch();
        assertFalse(anchorContract.verify(1, 2, root, 1, _fingerprint(0), _proof(leaf1)));
        assertFalse(anchorContract.verify(2, 2, root, 2, _fingerprint(0), _proof(leaf1)));
        assertEq(anchorContract.batchCommitment(1), bytes32(0));
        assertFalse(anchorContract.isAnchored(1, 2, root));
    }

    function test_VerifyFalseOnEmptyContract() public view {
        assertFalse(anchorContract.verify(0, 0, bytes32(0), 0, bytes32(0), _proof()));
        assertFalse(anchorContract.isAnchored(0, 0, bytes32(0)));
        assertFalse(
            anchorContract.verify(
                type(uint64).max, type(uint32).max, bytes32(0), type(uint64).max, bytes32(0), _proof()
            )
        );
    }

    function _anchorTwoLeafBatch() internal returns (bytes32 root, bytes32 leaf1) {
        bytes32 leaf0 = _leaf(0, _fingerprint(0));
        leaf1 = _leaf(1, _fingerprint(1));
        root = _hashPair(leaf0, leaf1);
        _anchor(0, 2, root);
        assertTrue(anchorContract.verify(0, 2, root, 0, _fingerprint(0), _proof(leaf1)));
    }

    // ---------------------------------------------------------------- fuzz

    function testFuzz_AnchorSequence(uint32[8] memory counts, uint256 batches, bytes32 salt) public {
        batches = bound(batches, 1, counts.length);
        uint64 sum;
        bytes32[8] memory roots;
        for (uint256 i; i < batches; ++i) {
            counts[i] = uint32(bound(counts[i], 1, type(uint32).max));
            roots[i] = keccak256(abi.encode(salt, i));
            assertEq(_anchor(sum, counts[i], roots[i]), i);
            sum += counts[i];
        }

        assertEq(anchorContract.nextIndex(), sum);
        assertEq(anchorContract.batchCount(), batches);
        uint64 start;
        for (uint256 i; i < batches; ++i) {
            assertEq(anchorContract.batchCommitment(start), keccak256(abi.encode(roots[i], counts[i])));
            assertTrue(anchorContract.isAnchored(start, counts[i], roots[i]));
            start += counts[i];
        }
        assertEq(anchorContract.batchCommitment(sum), bytes32(0));
    }

    function testFuzz_RevertWhen_StartNotContiguous(uint32 firstCount, uint64 start) public {
        firstCount = uint32(bound(firstCount, 1, type(uint32).max));
        _anchor(0, firstCount, ROOT);
        if (start == firstCount) start = firstCount + 1;

        vm.prank(anchorer);
        vm.expectRevert(
            abi.encodeWithSelector(IPacSpaceAnchorV1.PacSpaceAnchorNonContiguousStart.selector, firstCount, start)
        );
        anchorContract.anchor(start, 1, ROOT);
    }

    function testFuzz_RevertWhen_CallerNotAnchorer(address caller) public {
        if (caller == anchorer) caller = stranger;
        vm.prank(caller);
        vm.expectRevert(abi.encodeWithSelector(IPacSpaceAnchorV1.PacSpaceAnchorUnauthorizedAnchorer.selector, caller));
        anchorContract.anchor(0, 1, ROOT);
    }

    function testFuzz_VerifyRejectsWrongLogIndex(
        uint32 padding,
        uint32 count,
        uint256 offset,
        uint64 logIndex,
        bytes32 fingerprint
    ) public {
        uint64 start = _pad(padding);
        count = uint32(bound(count, 1, type(uint32).max));
        uint64 end = start + count;
        if (logIndex >= start && logIndex < end) {
            // Move an in-range index out of [start, end): just below start, or anywhere at or after end.
            logIndex =
                start != 0 && offset % 2 == 1 ? start - 1 : end + uint64(bound(offset, 0, type(uint64).max - end));
        }

        // The root is the out-of-range entry's own leaf, so the empty proof checks: only the range can reject.
        bytes32 root = _leaf(logIndex, fingerprint);
        _anchor(start, count, root);
        assertFalse(anchorContract.verify(start, count, root, logIndex, fingerprint, _proof()));

        // Control: the same construction for an index inside the next batch's range verifies.
        uint64 insideIndex = end + uint64(bound(offset, 0, count - 1));
        bytes32 insideRoot = _leaf(insideIndex, fingerprint);
        _anchor(end, count, insideRoot);
        assertTrue(anchorContract.verify(end, count, insideRoot, insideIndex, fingerprint, _proof()));
    }

    function testFuzz_VerifySingleLeafBatch(uint32 padding, bytes32 fingerprint, bytes32 otherFingerprint) public {
        if (otherFingerprint == fingerprint) otherFingerprint = ~fingerprint;
        uint64 start = _pad(padding);
        bytes32 root = _leaf(start, fingerprint);
        _anchor(start, 1, root);

        assertTrue(anchorContract.verify(start, 1, root, start, fingerprint, _proof()));
        assertFalse(anchorContract.verify(start, 1, root, start, otherFingerprint, _proof()));
        assertFalse(anchorContract.verify(start, 1, root, start + 1, fingerprint, _proof()));
        assertFalse(anchorContract.verify(start, 2, root, start, fingerprint, _proof()));
        assertFalse(anchorContract.verify(start, 1, root, start, fingerprint, _proof(root)));
    }

    /// @dev Builds a tree of every small size with the StandardMerkleTree array layout (leaves at the end
    /// in reverse order, `tree[i] = H(tree[2i+1], tree[2i+2])`) and checks every entry's proof.
    function testFuzz_VerifyEveryEntryOfTree(uint32 padding, uint256 size, bytes32 salt) public {
        uint64 start = _pad(padding);
        size = bound(size, 1, 33);
        bytes32[] memory tree = new bytes32[](2 * size - 1);
        for (uint256 i; i < size; ++i) {
            tree[tree.length - 1 - i] = _leaf(start + i, keccak256(abi.encode(salt, i)));
        }
        for (uint256 i = tree.length - size; i > 0; --i) {
            tree[i - 1] = _hashPair(tree[2 * i - 1], tree[2 * i]);
        }
        _anchor(start, uint32(size), tree[0]);

        for (uint256 i; i < size; ++i) {
            bytes32[] memory proof = _treeProof(tree, tree.length - 1 - i);
            bytes32 fingerprint = keccak256(abi.encode(salt, i));
            assertTrue(anchorContract.verify(start, uint32(size), tree[0], uint64(start + i), fingerprint, proof));
            assertFalse(anchorContract.verify(start, uint32(size), tree[0], uint64(start + size), fingerprint, proof));
        }
    }

    function _treeProof(bytes32[] memory tree, uint256 node) internal pure returns (bytes32[] memory proof) {
        uint256 depth;
        for (uint256 k = node; k > 0; k = (k - 1) / 2) {
            ++depth;
        }
        proof = new bytes32[](depth);
        for (uint256 d; node > 0; ++d) {
            proof[d] = tree[node % 2 == 1 ? node + 1 : node - 1];
            node = (node - 1) / 2;
        }
    }

    function testFuzz_VerifyNeverReverts(
        uint64 startIndex,
        uint32 count,
        bytes32 root,
        uint64 logIndex,
        bytes32 fingerprint,
        bytes32[] calldata proof
    ) public {
        _anchor(0, 1, _leaf(0, fingerprint));
        bool ok = anchorContract.verify(startIndex, count, root, logIndex, fingerprint, proof);
        if (ok) {
            assertEq(startIndex, 0);
            assertEq(count, 1);
            assertEq(logIndex, 0);
        }
    }

    /// @dev Anchors a padding batch so the next batch starts at a fuzzed index; returns that index.
    function _pad(uint32 padding) internal returns (uint64 start) {
        start = padding;
        if (start != 0) _anchor(0, padding, keccak256("padding"));
    }
}
