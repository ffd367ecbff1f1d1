// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {CommonBase} from "forge-std/Base.sol";
import {StdCheats} from "forge-std/StdCheats.sol";
import {StdUtils} from "forge-std/StdUtils.sol";

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

import {IPacSpaceAnchorV1} from "../../src/v1/IPacSpaceAnchorV1.sol";
import {PacSpaceAnchorV1} from "../../src/v1/PacSpaceAnchorV1.sol";

/// @dev Drives the v1 anchor with its real actors: the anchorer anchors valid batches (each must succeed)
/// and invalid ones (empty, zero root, a wrong start: each must fail with its exact error), strangers
/// anchor and manage anchorers (each must fail with its exact error). Successful anchors are counted
/// before and after, so an anchor that reverts shows up as a missing success; every accepted batch is kept
/// in a ghost record.
contract PacSpaceAnchorV1Handler is CommonBase, StdCheats, StdUtils {
    struct Batch {
        uint64 startIndex;
        uint32 count;
        bytes32 root;
        bytes32 commitment;
    }

    PacSpaceAnchorV1 public immutable anchorContract;
    address public immutable owner;
    address public immutable anchorer;

    Batch[] internal _batches;
    uint256 public ghostAnchorCalls;
    uint256 public ghostCountSum;
    uint256 public ghostRefused;
    uint256 public ghostUnexpected;

    constructor(PacSpaceAnchorV1 anchorContract_, address owner_, address anchorer_) {
        anchorContract = anchorContract_;
        owner = owner_;
        anchorer = anchorer_;
    }

    /// @dev The anchorer anchors a valid batch at `nextIndex()`; it must succeed with the next batch id.
    function anchor(uint32 count, bytes32 root) external {
        count = uint32(bound(count, 1, type(uint32).max));
        if (root == bytes32(0)) root = bytes32(uint256(1));
        uint64 start = anchorContract.nextIndex();
        uint256 expectedId = _batches.length;

        ++ghostAnchorCalls;
        vm.prank(anchorer);
        try anchorContract.anchor(start, count, root) returns (uint64 batchId) {
            if (batchId != expectedId) ++ghostUnexpected;
            _batches.push(Batch(start, count, root, keccak256(abi.encode(root, count))));
            ghostCountSum += count;
        } catch {
            ++ghostUnexpected;
        }
    }

    /// @dev The anchorer anchors an empty batch; it must fail with `EmptyBatch`.
    function anchorEmpty(bytes32 root) external {
        bytes memory call = abi.encodeCall(IPacSpaceAnchorV1.anchor, (anchorContract.nextIndex(), 0, root));
        vm.prank(anchorer);
        _expectFailure(call, abi.encodeWithSelector(IPacSpaceAnchorV1.PacSpaceAnchorEmptyBatch.selector));
    }

    /// @dev The anchorer anchors a zero root; it must fail with `ZeroRoot`.
    function anchorZeroRoot(uint32 count) external {
        count = uint32(bound(count, 1, type(uint32).max));
        bytes memory call = abi.encodeCall(IPacSpaceAnchorV1.anchor, (anchorContract.nextIndex(), count, bytes32(0)));
        vm.prank(anchorer);
        _expectFailure(call, abi.encodeWithSelector(IPacSpaceAnchorV1.PacSpaceAnchorZeroRoot.selector));
    }

    /// @dev The anchorer anchors at a start other than `nextIndex()` (sometimes an already-anchored one);
    /// it must fail with `NonContiguousStart`.
    function anchorAt(uint64 startIndex, uint32 count, bytes32 root) external {
        uint64 next = anchorContract.nextIndex();
        if (_batches.length != 0 && startIndex % 3 == 0) {
            startIndex = _batches[_bound(startIndex, 0, _batches.length - 1)].startIndex;
        }
        if (startIndex == next) startIndex = next + 1;
        count = uint32(bound(count, 1, type(uint32).max));
        if (root == bytes32(0)) root = bytes32(uint256(1));
        bytes memory call = abi.encodeCall(IPacSpaceAnchorV1.anchor, (startIndex, count, root));
        vm.prank(anchorer);
        _expectFailure(
            call, abi.encodeWithSelector(IPacSpaceAnchorV1.PacSpaceAnchorNonContiguousStart.selector, next, startIndex)
        );
    }

    /// @dev Someone other than the anchorer anchors a batch that is otherwise valid, or someone other than
    /// the owner changes an anchorer; each must fail with the exact error.
    function stranger(address caller, uint256 seed, uint32 count) external {
        // Everything is computed before the prank, which applies to the next external call.
        if (caller == owner || caller == anchorer) caller = address(0xdead);
        if (seed % 2 == 0) {
            count = uint32(bound(count, 1, type(uint32).max));
            bytes memory call =
                abi.encodeCall(IPacSpaceAnchorV1.anchor, (anchorContract.nextIndex(), count, keccak256("root")));
            vm.prank(caller);
            _expectFailure(
                call, abi.encodeWithSelector(IPacSpaceAnchorV1.PacSpaceAnchorUnauthorizedAnchorer.selector, caller)
            );
        } else {
            vm.prank(caller);
            _expectFailure(
                abi.encodeCall(IPacSpaceAnchorV1.setAnchorer, (caller, true)),
                abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, caller)
            );
        }
    }

    function batchesLength() external view returns (uint256) {
        return _batches.length;
    }

    function batchAt(uint256 i) external view returns (Batch memory) {
        return _batches[i];
    }

    /// @dev Calls the anchor (under the caller's prank) and counts it as unexpected unless it reverts with
    /// exactly `expected`.
    function _expectFailure(bytes memory call, bytes memory expected) internal {
        (bool ok, bytes memory reason) = address(anchorContract).call(call);
        if (ok || keccak256(reason) != keccak256(expected)) ++ghostUnexpected;
        else ++ghostRefused;
    }
}

contract PacSpaceAnchorV1InvariantTest is Test {
    PacSpaceAnchorV1 internal anchorContract;
    PacSpaceAnchorV1Handler internal handler;

    function setUp() public {
        address owner = makeAddr("owner");
        address anchorer = makeAddr("anchorer");
        anchorContract = new PacSpaceAnchorV1(owner, anchorer);
        handler = new PacSpaceAnchorV1Handler(anchorContract, owner, anchorer);
        targetContract(address(handler));
        bytes4[] memory selectors = new bytes4[](5);
        selectors[0] = PacSpaceAnchorV1Handler.anchor.selector;
        selectors[1] = PacSpaceAnchorV1Handler.anchorEmpty.selector;
        selectors[2] = PacSpaceAnchorV1Handler.anchorZeroRoot.selector;
        selectors[3] = PacSpaceAnchorV1Handler.anchorAt.selector;
        selectors[4] = PacSpaceAnchorV1Handler.stranger.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// @notice Every anchor the anchorer sent succeeded, and the contract counted exactly those.
    /// forge-config: default.invariant.fail-on-revert = true
    function invariant_BatchCountIsSuccessfulAnchors() public view {
        assertEq(handler.batchesLength(), handler.ghostAnchorCalls(), "an anchor by the anchorer reverted");
        assertEq(anchorContract.batchCount(), handler.batchesLength());
    }

    /// @notice Every call that had to fail failed with its exact error (a stranger's anchor among them).
    /// forge-config: default.invariant.fail-on-revert = true
    function invariant_RefusedCallsFailWithTheirError() public view {
        assertEq(handler.ghostUnexpected(), 0, "a call succeeded or failed unexpectedly");
        assertFalse(anchorContract.isAnchorer(address(0xdead)), "a stranger became an anchorer");
    }

    /// forge-config: default.invariant.fail-on-revert = true
    function invariant_NextIndexIsSumOfCounts() public view {
        assertEq(anchorContract.nextIndex(), handler.ghostCountSum());
    }

    /// forge-config: default.invariant.fail-on-revert = true
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

    /// @dev Each run anchored and was refused at least once: the invariants were not checked on an empty log
    /// or with no refused call only.
    function afterInvariant() public view {
        assertGt(handler.batchesLength(), 0, "no anchor succeeded in this run");
        assertGt(handler.ghostRefused(), 0, "no call was refused in this run");
    }
}
