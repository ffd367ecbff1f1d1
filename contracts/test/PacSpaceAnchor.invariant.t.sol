// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";
import {CommonBase} from "forge-std/Base.sol";
import {StdCheats} from "forge-std/StdCheats.sol";
import {StdUtils} from "forge-std/StdUtils.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

import {PacSpaceAnchor} from "../src/PacSpaceAnchor.sol";
import {IPacSpaceAnchor} from "../src/interfaces/IPacSpaceAnchor.sol";

/// @dev Drives the v2 anchor with its real actors: the anchorer anchors valid batches, the owner authorises
/// and revokes signers, and strangers try both. Calls that must succeed are counted before and after, so a
/// call that reverts shows up as a missing success (the invariants compare the counts with the contract);
/// calls that must fail are checked for their exact revert data. For every log index once it falls below
/// `nextIndex()`, the handler records each key's first `isSignerFor` answer.
contract PacSpaceAnchorHandler is CommonBase, StdCheats, StdUtils {
    struct Answer {
        uint8 key;
        uint64 logIndex;
        bool answer;
    }

    uint64 public constant FIRST_INDEX = 1000;
    uint256 public constant KEYS = 5;
    bytes32 internal constant ROOT = keccak256("root");

    PacSpaceAnchor public immutable anchorContract;
    address public immutable owner;
    address public immutable anchorer;

    address[KEYS] public keys;
    /// @dev Model of each key's window; key 0 is the constructor's signer.
    uint64[KEYS] public ghostFrom;
    uint64[KEYS] public ghostUntil;
    bool[KEYS] public ghostExists;
    bool[KEYS] public ghostRevoked;

    Answer[] internal _answers;

    uint256 public ghostAnchorCalls;
    uint256 public ghostAnchors;
    uint256 public ghostCountSum;
    uint256 public ghostSignerCalls;
    uint256 public ghostSignerChanges;
    uint256 public ghostUnexpected;

    constructor(PacSpaceAnchor anchorContract_, address owner_, address anchorer_, address initialSigner) {
        anchorContract = anchorContract_;
        owner = owner_;
        anchorer = anchorer_;
        keys[0] = initialSigner;
        for (uint256 k = 1; k < KEYS; ++k) {
            keys[k] = makeAddr(string.concat("key", vm.toString(k)));
        }
        (ghostFrom[0], ghostUntil[0], ghostExists[0]) = (FIRST_INDEX, type(uint64).max, true);
        // Log indexes below the first one are already "below nextIndex()": record them from the start.
        _record(FIRST_INDEX - 2, FIRST_INDEX);
    }

    /// @dev The anchorer anchors a valid batch at `nextIndex()`; it must succeed. Small counts keep every
    /// log index recordable.
    function anchor(uint32 count, bytes32 root) external {
        count = uint32(bound(count, 1, 4));
        if (root == bytes32(0)) root = bytes32(uint256(1));
        uint64 start = anchorContract.nextIndex();
        uint256 expectedId = ghostAnchors;

        ++ghostAnchorCalls;
        vm.prank(anchorer);
        try anchorContract.anchor(start, count, root) returns (uint64 batchId) {
            if (batchId != expectedId) ++ghostUnexpected;
            ++ghostAnchors;
            ghostCountSum += count;
            _record(start, start + count);
        } catch {
            ++ghostUnexpected;
        }
    }

    /// @dev The owner authorises a key that never had a window; it must succeed.
    function authorise(uint256 seed) external {
        (bool found, uint256 k) = _findKey(seed, false);
        if (!found) return;
        uint64 head = anchorContract.nextIndex();

        ++ghostSignerCalls;
        vm.prank(owner);
        try anchorContract.authoriseSigner(keys[k]) {
            ++ghostSignerChanges;
            (ghostFrom[k], ghostUntil[k], ghostExists[k]) = (head, type(uint64).max, true);
        } catch {
            ++ghostUnexpected;
        }
    }

    /// @dev The owner revokes an active key; it must succeed.
    function revoke(uint256 seed) external {
        (bool found, uint256 k) = _findKey(seed, true);
        if (!found) return;
        uint64 head = anchorContract.nextIndex();

        ++ghostSignerCalls;
        vm.prank(owner);
        try anchorContract.revokeSigner(keys[k]) {
            ++ghostSignerChanges;
            (ghostUntil[k], ghostRevoked[k]) = (head, true);
        } catch {
            ++ghostUnexpected;
        }
    }

    /// @dev The owner re-authorises a key that has (or had) a window; it must fail with `SignerExists`.
    function reauthorise(uint256 seed) external {
        uint256 k = seed % KEYS;
        if (!ghostExists[k]) return;
        vm.prank(owner);
        _expectFailure(
            abi.encodeCall(IPacSpaceAnchor.authoriseSigner, (keys[k])),
            abi.encodeWithSelector(IPacSpaceAnchor.PacSpaceAnchorSignerExists.selector, keys[k])
        );
    }

    /// @dev The owner revokes a key that is not active; it must fail with `SignerNotActive`.
    function revokeInactive(uint256 seed) external {
        uint256 k = seed % KEYS;
        if (ghostExists[k] && !ghostRevoked[k]) return;
        vm.prank(owner);
        _expectFailure(
            abi.encodeCall(IPacSpaceAnchor.revokeSigner, (keys[k])),
            abi.encodeWithSelector(IPacSpaceAnchor.PacSpaceAnchorSignerNotActive.selector, keys[k])
        );
    }

    /// @dev Someone other than the owner changes a signer, or someone other than the anchorer anchors; each
    /// must fail with the exact error.
    function stranger(address caller, uint256 seed, uint32 count) external {
        // Everything is computed before the prank, which applies to the next external call.
        if (caller == owner || caller == anchorer) caller = address(0xdead);
        address key = keys[seed % KEYS];
        bytes memory notOwner = abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, caller);
        if (seed % 3 == 0) {
            vm.prank(caller);
            _expectFailure(abi.encodeCall(IPacSpaceAnchor.authoriseSigner, (key)), notOwner);
        } else if (seed % 3 == 1) {
            vm.prank(caller);
            _expectFailure(abi.encodeCall(IPacSpaceAnchor.revokeSigner, (key)), notOwner);
        } else {
            bytes memory call =
                abi.encodeCall(IPacSpaceAnchor.anchor, (anchorContract.nextIndex(), uint32(bound(count, 1, 4)), ROOT));
            vm.prank(caller);
            _expectFailure(
                call, abi.encodeWithSelector(IPacSpaceAnchor.PacSpaceAnchorUnauthorizedAnchorer.selector, caller)
            );
        }
    }

    function answersLength() external view returns (uint256) {
        return _answers.length;
    }

    /// @dev The first recorded answer that the contract now gives differently; `found` is false if none.
    function firstChangedAnswer() external view returns (bool found, address key, uint64 logIndex) {
        for (uint256 i; i < _answers.length; ++i) {
            Answer memory a = _answers[i];
            if (anchorContract.isSignerFor(keys[a.key], a.logIndex) != a.answer) {
                return (true, keys[a.key], a.logIndex);
            }
        }
    }

    /// @dev Records every key's `isSignerFor` answer for each log index in `[from, until)`.
    function _record(uint64 from, uint64 until) internal {
        for (uint64 i = from; i < until; ++i) {
            for (uint256 k; k < KEYS; ++k) {
                _answers.push(Answer(uint8(k), i, anchorContract.isSignerFor(keys[k], i)));
            }
        }
    }

    /// @dev A key, searching from `seed`, that is active (`active`) or never had a window (`!active`).
    function _findKey(uint256 seed, bool active) internal view returns (bool found, uint256 k) {
        for (uint256 i; i < KEYS; ++i) {
            k = (seed % KEYS + i) % KEYS;
            bool isActive = ghostExists[k] && !ghostRevoked[k];
            if (active ? isActive : !ghostExists[k]) return (true, k);
        }
    }

    /// @dev Calls the anchor (under the caller's prank) and counts it as unexpected unless it reverts with
    /// exactly `expected`.
    function _expectFailure(bytes memory call, bytes memory expected) internal {
        (bool ok, bytes memory reason) = address(anchorContract).call(call);
        if (ok || keccak256(reason) != keccak256(expected)) ++ghostUnexpected;
    }
}

/// @dev The handler itself never reverts (it catches and counts what the anchor does), so each invariant
/// runs with `fail-on-revert`: a handler bug cannot hide behind discarded calls.
contract PacSpaceAnchorInvariantTest is Test {
    PacSpaceAnchor internal anchorContract;
    PacSpaceAnchorHandler internal handler;

    function setUp() public {
        address owner = makeAddr("owner");
        address anchorer = makeAddr("anchorer");
        address signer = makeAddr("signer");
        anchorContract = new PacSpaceAnchor(owner, anchorer, signer, 1000);
        handler = new PacSpaceAnchorHandler(anchorContract, owner, anchorer, signer);
        targetContract(address(handler));
        bytes4[] memory selectors = new bytes4[](6);
        selectors[0] = PacSpaceAnchorHandler.anchor.selector;
        selectors[1] = PacSpaceAnchorHandler.authorise.selector;
        selectors[2] = PacSpaceAnchorHandler.revoke.selector;
        selectors[3] = PacSpaceAnchorHandler.reauthorise.selector;
        selectors[4] = PacSpaceAnchorHandler.revokeInactive.selector;
        selectors[5] = PacSpaceAnchorHandler.stranger.selector;
        targetSelector(FuzzSelector({addr: address(handler), selectors: selectors}));
    }

    /// @notice No past authorisation answer ever changes: for every key and every log index once below
    /// `nextIndex()`, `isSignerFor` still gives the answer first seen.
    /// forge-config: default.invariant.fail-on-revert = true
    function invariant_NoPastAuthorisationAnswerEverChanges() public view {
        (bool found, address key, uint64 logIndex) = handler.firstChangedAnswer();
        assertFalse(found, string.concat("answer changed for ", vm.toString(key), " at ", vm.toString(logIndex)));
        // Every log index below nextIndex() has been recorded for every key.
        uint256 indexes = anchorContract.nextIndex() - (handler.FIRST_INDEX() - 2);
        assertEq(handler.answersLength(), indexes * handler.KEYS());
    }

    /// @notice Every anchor the anchorer sent succeeded, and the contract counted exactly those.
    /// forge-config: default.invariant.fail-on-revert = true
    function invariant_BatchCountIsSuccessfulAnchors() public view {
        assertEq(handler.ghostAnchors(), handler.ghostAnchorCalls(), "an anchor by the anchorer reverted");
        assertEq(anchorContract.batchCount(), handler.ghostAnchors());
        assertEq(anchorContract.nextIndex(), handler.FIRST_INDEX() + handler.ghostCountSum());
    }

    /// @notice Every signer change the owner made succeeded, every call that had to fail failed with its
    /// exact error, and every window is where the model puts it.
    /// forge-config: default.invariant.fail-on-revert = true
    function invariant_SignerWindowsMatchModel() public view {
        assertEq(handler.ghostSignerChanges(), handler.ghostSignerCalls(), "a signer change by the owner reverted");
        assertEq(handler.ghostUnexpected(), 0, "a call succeeded or failed unexpectedly");
        for (uint256 k; k < handler.KEYS(); ++k) {
            (uint64 fromIndex, uint64 untilIndex, bool exists) = anchorContract.signerWindow(handler.keys(k));
            assertEq(fromIndex, handler.ghostFrom(k));
            assertEq(untilIndex, handler.ghostUntil(k));
            assertEq(exists, handler.ghostExists(k));
        }
    }

    /// @dev Each run anchored at least once: the invariants above were not checked on an empty log only.
    function afterInvariant() public view {
        assertGt(handler.ghostAnchors(), 0, "no anchor succeeded in this run");
    }
}
