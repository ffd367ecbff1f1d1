// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {CommonBase} from "forge-std/Base.sol";
import {StdCheats} from "forge-std/StdCheats.sol";
import {StdUtils} from "forge-std/StdUtils.sol";

import {PacSpaceAnchorV1} from "../../src/v1/PacSpaceAnchorV1.sol";

/// @dev Drives the anchor with valid and invalid batches and keeps a ghost record of every accepted one.
contract PacSpaceAnchorV1Handler is CommonBase, StdCheats, StdUtils {
    struct Batch {
        uint64 startIndex;
        uint32 count;
        bytes32 root;
        bytes32 commitment;
    }

    PacSpaceAnchorV1 public immutable anchorContract;
    address public immutable anchorer;

    Batch[] internal _batches;
    uint256 public ghostCountSum;
    uint256 public ghostRejected;

    constructor(PacSpaceAnchorV1 anchorContract_, address anchorer_) {
        anchorContract = anchorContract_;
        anchorer = anchorer_;
    }

    /// @dev Anchors at the expected start; `count` and `root` may be zero, so some calls are rejected.
    function anchorNext(uint32 count, bytes32 root) external {
        _tryAnchor(anchorer, anchorContract.nextIndex(), count, root);
    }

    /// @dev Anchors at an arbitrary start (mostly wrong, sometimes an already-anchored one).
    function anchorAt(uint64 startIndex, uint32 count, bytes32 root) external {
        if (_batches.length != 0 && startIndex % 3 == 0) {
            startIndex = _batches[_bound(startIndex, 0, _batches.length - 1)].startIndex;
        }
        _tryAnchor(anchorer, startIndex, count, root);
    }

    /// @dev Anchors from an account that is not authorised.
    function anchorAsStranger(address caller, uint32 count, bytes32 root) external {
        if (caller == anchorer) caller = address(0xdead);
        _tryAnchor(caller, anchorContract.nextIndex(), count, root);
    }

    function batchesLength() external view returns (uint256) {
        return _batches.length;
    }

    function batchAt(uint256 i) external view returns (Batch memory) {
        return _batches[i];
    }

    function _tryAnchor(address caller, uint64 startIndex, uint32 count, bytes32 root) internal {
        uint256 expectedId = _batches.length;
        vm.prank(caller);
        try anchorContract.anchor(startIndex, count, root) returns (uint64 batchId) {
            require(batchId == expectedId, "unexpected batch id");
            _batches.push(Batch(startIndex, count, root, keccak256(abi.encode(root, count))));
            ghostCountSum += count;
        } catch {
            ++ghostRejected;
        }
    }
}

contract PacSpaceAnchorV1InvariantTest is Test {
    PacSpaceAnchorV1 internal anchorContract;
    PacSpaceAnchorV1Handler internal handler;

    function setUp() public {
        address anchorer = makeAddr("anchorer");
        anchorContract = new PacSpaceAnchorV1(makeAddr("owner"), anchorer);
        handler = new PacSpaceAnchorV1Handler(anchorContract, anchorer);
        targetContract(address(handler));
    }

    function invariant_NextIndexIsSumOfCounts() public view {
        assertEq(anchorContract.nextIndex(), handler.ghostCountSum());
    }

    function invariant_BatchCountIsNumberOfAnchors() public view {
        assertEq(anchorContract.batchCount(), handler.batchesLength());
    }

    function invariant_CommitmentsNeverChange() public view {
        uint256 n = handler.batchesLength();
        uint256 expectedStart;
        for (uint256 i; i < n; ++i) {
            PacSpaceAnchorV1Handler.Batch memory batch = handler.batchAt(i);
            assertEq(batch.startIndex, expectedStart, "batches are contiguous");
            assertEq(anchorContract.batchCommitment(batch.startIndex), batch.commitment);
            assertTrue(anchorContract.isAnchored(batch.startIndex, batch.count, batch.root));
            expectedStart += batch.count;
        }
        assertEq(anchorContract.batchCommitment(anchorContract.nextIndex()), bytes32(0));
    }
}
