// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

import {PacSpaceAnchor} from "../src/PacSpaceAnchor.sol";
import {IPacSpaceAnchor} from "../src/interfaces/IPacSpaceAnchor.sol";
import {PacSpaceAnchorV1} from "../src/v1/PacSpaceAnchorV1.sol";
import {IPacSpaceAnchorV1} from "../src/v1/IPacSpaceAnchorV1.sol";
import {AnchorLogBehaviour, IAnchorLog} from "./shared/AnchorLogBehaviour.sol";

/// @dev v2 runs the shared anchor-log tests of `AnchorLogBehaviour` (against a log starting at index 0
/// with one signer) and adds its own: receipt-signer windows, `firstIndex` and `protocolVersion`.
contract PacSpaceAnchorTest is AnchorLogBehaviour {
    /// @dev The contract under test with its v2 type: always the same contract as `anchorContract`.
    PacSpaceAnchor internal v2;

    address internal signer = makeAddr("signer");

    uint64 internal constant OPEN = type(uint64).max;

    /// @dev Storage slot of the signer windows (the others are in `AnchorLogBehaviour`).
    uint256 internal constant SIGNERS_SLOT = 5;

    function _deploy(address owner_, address anchorer_) internal override returns (IAnchorLog) {
        return IAnchorLog(address(new PacSpaceAnchor(owner_, anchorer_, signer, 0)));
    }

    function setUp() public override {
        super.setUp();
        v2 = PacSpaceAnchor(address(anchorContract));
    }

    /// @dev v2's `anchor` reads no signer storage (the constructor's signer slot is set, so the check bites).
    function _checkAnchorReads(bytes32[] memory reads) internal view override {
        bytes32 signerSlot = keccak256(abi.encode(signer, SIGNERS_SLOT));
        assertNotEq(vm.load(address(v2), signerSlot), bytes32(0));
        for (uint256 r; r < reads.length; ++r) {
            assertNotEq(reads[r], signerSlot, "anchor reads no signer storage");
        }
    }

    /// @dev Anchors one batch of `count` entries at `nextIndex()`.
    function _anchorNext(uint32 count) internal {
        _anchor(v2.nextIndex(), count, ROOT);
    }

    function _authorise(address account) internal {
        vm.prank(owner);
        v2.authoriseSigner(account);
    }

    function _revoke(address account) internal {
        vm.prank(owner);
        v2.revokeSigner(account);
    }

    function _assertWindow(address account, uint64 fromIndex, uint64 untilIndex, bool exists) internal view {
        (uint64 from, uint64 until, bool present) = v2.signerWindow(account);
        assertEq(from, fromIndex, "fromIndex");
        assertEq(until, untilIndex, "untilIndex");
        assertEq(present, exists, "exists");
    }

    // ---------------------------------------------------------------- construction

    /// @dev The shared constructor state, then v2's: protocol version and the first signer's window.
    function test_Constructor() public view override {
        super.test_Constructor();
        assertEq(v2.protocolVersion(), 2);
        assertFalse(v2.isAnchorer(signer));
        _assertWindow(signer, 0, OPEN, true);
        _assertWindow(anchorer, 0, 0, false);
        assertTrue(v2.isSignerFor(signer, 0));
        assertFalse(v2.isSignerFor(anchorer, 0));
    }

    function test_ConstructorEmitsAnchorerUpdatedAndSignerAuthorised() public {
        vm.expectEmit(true, true, true, true);
        emit IPacSpaceAnchor.AnchorerUpdated(anchorer, true);
        vm.expectEmit(true, true, true, true);
        emit IPacSpaceAnchor.SignerAuthorised(signer, 42);
        new PacSpaceAnchor(owner, anchorer, signer, 42);
    }

    function test_ConstructorAnchorerMayAlsoSign() public {
        PacSpaceAnchor both = new PacSpaceAnchor(owner, anchorer, anchorer, 0);
        assertTrue(both.isAnchorer(anchorer));
        assertTrue(both.isSignerFor(anchorer, 0));
    }

    /// @dev A log continuing a v1 contract's: it starts at `firstIndex`, batch ids still start at 0,
    /// and the first signer's window opens at `firstIndex`.
    function test_ConstructorWithFirstIndex() public {
        PacSpaceAnchor continued = new PacSpaceAnchor(owner, anchorer, signer, 1000);
        assertEq(continued.nextIndex(), 1000);
        assertEq(continued.batchCount(), 0);
        (uint64 fromIndex, uint64 untilIndex, bool exists) = continued.signerWindow(signer);
        assertEq(fromIndex, 1000);
        assertEq(untilIndex, OPEN);
        assertTrue(exists);
        assertFalse(continued.isSignerFor(signer, 999));
        assertTrue(continued.isSignerFor(signer, 1000));

        vm.prank(anchorer);
        vm.expectRevert(abi.encodeWithSelector(IPacSpaceAnchor.PacSpaceAnchorNonContiguousStart.selector, 1000, 0));
        continued.anchor(0, 1, ROOT);

        vm.prank(anchorer);
        assertEq(continued.anchor(1000, 5, ROOT), 0);
        assertEq(continued.nextIndex(), 1005);
        assertEq(continued.batchCount(), 1);
        assertTrue(continued.isAnchored(1000, 5, ROOT));
    }

    function test_RevertWhen_ConstructorSignerIsZero() public {
        vm.expectRevert(abi.encodeWithSelector(IPacSpaceAnchor.PacSpaceAnchorZeroAddress.selector));
        new PacSpaceAnchor(owner, anchorer, address(0), 0);
    }

    /// @dev The shared tests name errors and events through `IPacSpaceAnchorV1`: v2 declares every one of
    /// them with the same signature, so the selectors and topics they check are v2's own.
    function test_SharedErrorsAndEventsMatchV1() public pure {
        assertEq(
            IPacSpaceAnchor.PacSpaceAnchorUnauthorizedAnchorer.selector,
            IPacSpaceAnchorV1.PacSpaceAnchorUnauthorizedAnchorer.selector
        );
        assertEq(
            IPacSpaceAnchor.PacSpaceAnchorNonContiguousStart.selector,
            IPacSpaceAnchorV1.PacSpaceAnchorNonContiguousStart.selector
        );
        assertEq(IPacSpaceAnchor.PacSpaceAnchorEmptyBatch.selector, IPacSpaceAnchorV1.PacSpaceAnchorEmptyBatch.selector);
        assertEq(IPacSpaceAnchor.PacSpaceAnchorZeroRoot.selector, IPacSpaceAnchorV1.PacSpaceAnchorZeroRoot.selector);
        assertEq(
            IPacSpaceAnchor.PacSpaceAnchorZeroAddress.selector, IPacSpaceAnchorV1.PacSpaceAnchorZeroAddress.selector
        );
        assertEq(IPacSpaceAnchor.BatchAnchored.selector, IPacSpaceAnchorV1.BatchAnchored.selector);
        assertEq(IPacSpaceAnchor.AnchorerUpdated.selector, IPacSpaceAnchorV1.AnchorerUpdated.selector);
    }

    // ---------------------------------------------------------------- protocol version

    function test_ProtocolVersion() public view {
        assertEq(v2.protocolVersion(), 2);
    }

    /// @dev A verifier tells the versions apart by this call: on a v1 contract it reverts (no such function).
    function test_RevertWhen_ProtocolVersionOnV1() public {
        PacSpaceAnchorV1 v1 = new PacSpaceAnchorV1(owner, anchorer);
        vm.expectRevert(bytes(""));
        IPacSpaceAnchor(address(v1)).protocolVersion();
    }

    // ---------------------------------------------------------------- anchor and anchorers

    /// @dev Receipt signers are not gas wallets: a signer that is not an anchorer cannot anchor.
    function test_RevertWhen_SignerNotAnchorer() public {
        vm.prank(signer);
        vm.expectRevert(abi.encodeWithSelector(IPacSpaceAnchor.PacSpaceAnchorUnauthorizedAnchorer.selector, signer));
        v2.anchor(0, 1, ROOT);
    }

    /// @dev Anchorers and signers are separate: changing one never changes the other.
    function test_SetAnchorerDoesNotChangeSigners() public {
        vm.startPrank(owner);
        v2.setAnchorer(signer, true);
        v2.setAnchorer(signer, false);
        v2.setAnchorer(stranger, true);
        vm.stopPrank();

        _assertWindow(signer, 0, OPEN, true);
        _assertWindow(stranger, 0, 0, false);
        assertFalse(v2.isSignerFor(stranger, 0));
    }

    // ---------------------------------------------------------------- signers

    function test_AuthoriseSigner() public {
        vm.expectEmit(true, true, true, true, address(v2));
        emit IPacSpaceAnchor.SignerAuthorised(stranger, 0);
        _authorise(stranger);

        _assertWindow(stranger, 0, OPEN, true);
        assertTrue(v2.isSignerFor(stranger, 0));
        assertTrue(v2.isSignerFor(stranger, type(uint64).max - 1));
        assertFalse(v2.isAnchorer(stranger), "a signer is not an anchorer");
        _assertWindow(signer, 0, OPEN, true);
    }

    /// @dev The window opens at `nextIndex()`: entries already anchored stay unsigned for the new key.
    function test_AuthoriseSignerOpensAtNextIndex() public {
        _anchorNext(10);
        _anchorNext(5);

        vm.expectEmit(true, true, true, true, address(v2));
        emit IPacSpaceAnchor.SignerAuthorised(stranger, 15);
        _authorise(stranger);

        _assertWindow(stranger, 15, OPEN, true);
        assertFalse(v2.isSignerFor(stranger, 0));
        assertFalse(v2.isSignerFor(stranger, 14));
        assertTrue(v2.isSignerFor(stranger, 15));
        assertTrue(v2.isSignerFor(stranger, 1000));
    }

    function test_RevertWhen_AuthoriseSignerCallerNotOwner() public {
        vm.prank(anchorer);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, anchorer));
        v2.authoriseSigner(stranger);

        vm.prank(signer);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, signer));
        v2.authoriseSigner(stranger);

        _assertWindow(stranger, 0, 0, false);
    }

    function test_RevertWhen_AuthoriseSignerZeroAddress() public {
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(IPacSpaceAnchor.PacSpaceAnchorZeroAddress.selector));
        v2.authoriseSigner(address(0));
    }

    function test_RevertWhen_AuthoriseSignerAlreadyActive() public {
        _anchorNext(3);
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(IPacSpaceAnchor.PacSpaceAnchorSignerExists.selector, signer));
        v2.authoriseSigner(signer);
        _assertWindow(signer, 0, OPEN, true);
    }

    /// @dev A revoked key may be compromised: it is never authorised again.
    function test_RevertWhen_AuthoriseSignerRevoked() public {
        _anchorNext(3);
        _revoke(signer);
        _anchorNext(3);

        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(IPacSpaceAnchor.PacSpaceAnchorSignerExists.selector, signer));
        v2.authoriseSigner(signer);
        _assertWindow(signer, 0, 3, true);
    }

    function test_RevokeSigner() public {
        _anchorNext(10);

        vm.expectEmit(true, true, true, true, address(v2));
        emit IPacSpaceAnchor.SignerRevoked(signer, 10);
        _revoke(signer);

        _assertWindow(signer, 0, 10, true);
        assertTrue(v2.isSignerFor(signer, 0));
        assertTrue(v2.isSignerFor(signer, 9));
        assertFalse(v2.isSignerFor(signer, 10));

        // Later batches do not reopen or move the window.
        _anchorNext(10);
        _assertWindow(signer, 0, 10, true);
        assertTrue(v2.isSignerFor(signer, 9));
        assertFalse(v2.isSignerFor(signer, 15));
    }

    /// @dev Key rotation: the new key signs from the rotation point on, the old one for everything before it.
    function test_RotateSigner() public {
        _anchorNext(10);
        _authorise(stranger);
        _revoke(signer);
        _anchorNext(10);

        for (uint64 i; i < 20; ++i) {
            assertEq(v2.isSignerFor(signer, i), i < 10);
            assertEq(v2.isSignerFor(stranger, i), i >= 10);
        }
    }

    /// @dev Authorised and revoked at the same `nextIndex()`: the window is empty and signs for nothing.
    function test_RevokeSignerAtItsAuthorisationIndex() public {
        _anchorNext(4);
        _authorise(stranger);
        _revoke(stranger);
        _anchorNext(4);

        _assertWindow(stranger, 4, 4, true);
        for (uint64 i; i < 10; ++i) {
            assertFalse(v2.isSignerFor(stranger, i));
        }
    }

    /// @dev Revoking every signer is allowed: the log then has no valid signer until one is authorised.
    function test_RevokeLastSigner() public {
        _revoke(signer);
        _assertWindow(signer, 0, 0, true);
        assertFalse(v2.isSignerFor(signer, 0));
        _anchorNext(1);
        assertEq(v2.batchCount(), 1, "anchoring needs no signer");
    }

    /// @dev At the end of the index space `untilIndex` of a revoked window equals that of an open one;
    /// the window still counts as revoked (no second revocation, no re-authorisation).
    function test_RevokeSignerAtEndOfIndexSpace() public {
        vm.store(address(v2), bytes32(HEAD_SLOT), bytes32(uint256(type(uint64).max) | (1 << 128)));
        _revoke(signer);
        _assertWindow(signer, 0, OPEN, true);

        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(IPacSpaceAnchor.PacSpaceAnchorSignerNotActive.selector, signer));
        v2.revokeSigner(signer);

        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(IPacSpaceAnchor.PacSpaceAnchorSignerExists.selector, signer));
        v2.authoriseSigner(signer);
    }

    function test_RevertWhen_RevokeSignerCallerNotOwner() public {
        vm.prank(signer);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, signer));
        v2.revokeSigner(signer);

        vm.prank(anchorer);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, anchorer));
        v2.revokeSigner(signer);

        _assertWindow(signer, 0, OPEN, true);
    }

    function test_RevertWhen_RevokeSignerNeverAuthorised() public {
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(IPacSpaceAnchor.PacSpaceAnchorSignerNotActive.selector, stranger));
        v2.revokeSigner(stranger);

        // An anchorer is not a signer either.
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(IPacSpaceAnchor.PacSpaceAnchorSignerNotActive.selector, anchorer));
        v2.revokeSigner(anchorer);
    }

    function test_RevertWhen_RevokeSignerZeroAddress() public {
        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(IPacSpaceAnchor.PacSpaceAnchorSignerNotActive.selector, address(0)));
        v2.revokeSigner(address(0));
    }

    function test_RevertWhen_RevokeSignerAlreadyRevoked() public {
        _anchorNext(2);
        _revoke(signer);
        _anchorNext(2);

        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(IPacSpaceAnchor.PacSpaceAnchorSignerNotActive.selector, signer));
        v2.revokeSigner(signer);
        _assertWindow(signer, 0, 2, true);
    }

    function test_SignerWindowOfUnknownAccount() public view {
        _assertWindow(stranger, 0, 0, false);
        _assertWindow(address(0), 0, 0, false);
    }

    function test_IsSignerForBounds() public {
        _anchorNext(5);
        _authorise(stranger);
        _anchorNext(5);
        _revoke(stranger);

        assertFalse(v2.isSignerFor(stranger, 4));
        assertTrue(v2.isSignerFor(stranger, 5));
        assertTrue(v2.isSignerFor(stranger, 9));
        assertFalse(v2.isSignerFor(stranger, 10));
        assertFalse(v2.isSignerFor(stranger, type(uint64).max));
        assertFalse(v2.isSignerFor(address(0), 0));
        // An open window ends below type(uint64).max, which is never a valid log index.
        assertTrue(v2.isSignerFor(signer, type(uint64).max - 1));
        assertFalse(v2.isSignerFor(signer, type(uint64).max));
    }

    // ---------------------------------------------------------------- ownership

    /// @dev The shared two-step transfer, then v2's signer functions: only the new owner may call them.
    function test_TransferOwnership2Step() public override {
        super.test_TransferOwnership2Step();
        address newOwner = makeAddr("newOwner");

        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, owner));
        v2.authoriseSigner(stranger);

        vm.prank(owner);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, owner));
        v2.revokeSigner(signer);

        vm.startPrank(newOwner);
        v2.authoriseSigner(stranger);
        v2.revokeSigner(signer);
        vm.stopPrank();
        _assertWindow(stranger, 0, OPEN, true);
        _assertWindow(signer, 0, 0, true);
    }

    // ---------------------------------------------------------------- fuzz: signers

    /// @dev Any log may start at any index: batch ids start at 0 and the first signer's window at `firstIndex`.
    function testFuzz_FirstIndex(uint64 firstIndex, uint32 count, uint64 logIndex) public {
        firstIndex = uint64(bound(firstIndex, 0, type(uint64).max - type(uint32).max));
        count = uint32(bound(count, 1, type(uint32).max));
        PacSpaceAnchor continued = new PacSpaceAnchor(owner, anchorer, signer, firstIndex);
        assertEq(continued.nextIndex(), firstIndex);

        if (firstIndex != 0) {
            uint64 wrongStart = uint64(bound(logIndex, 0, firstIndex - 1));
            vm.prank(anchorer);
            vm.expectRevert(
                abi.encodeWithSelector(
                    IPacSpaceAnchor.PacSpaceAnchorNonContiguousStart.selector, firstIndex, wrongStart
                )
            );
            continued.anchor(wrongStart, count, ROOT);
        }

        vm.prank(anchorer);
        assertEq(continued.anchor(firstIndex, count, ROOT), 0);
        assertEq(continued.nextIndex(), firstIndex + count);
        assertEq(continued.batchCount(), 1);
        assertTrue(continued.isAnchored(firstIndex, count, ROOT));
        assertEq(continued.isSignerFor(signer, logIndex), logIndex >= firstIndex && logIndex < type(uint64).max);
    }

    function testFuzz_RevertWhen_NonOwnerChangesSigners(address caller) public {
        if (caller == owner) caller = stranger;

        vm.prank(caller);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, caller));
        v2.authoriseSigner(stranger);

        vm.prank(caller);
        vm.expectRevert(abi.encodeWithSelector(Ownable.OwnableUnauthorizedAccount.selector, caller));
        v2.revokeSigner(signer);

        _assertWindow(signer, 0, OPEN, true);
        _assertWindow(stranger, 0, 0, false);
    }

    function testFuzz_IsSignerForMatchesWindow(uint32 before, uint32 during, uint64 logIndex) public {
        before = uint32(bound(before, 0, type(uint32).max));
        during = uint32(bound(during, 0, type(uint32).max));
        if (before != 0) _anchorNext(before);
        _authorise(stranger);
        if (during != 0) _anchorNext(during);
        _revoke(stranger);
        _anchorNext(1);

        uint64 fromIndex = before;
        uint64 untilIndex = uint64(before) + during;
        _assertWindow(stranger, fromIndex, untilIndex, true);
        assertEq(v2.isSignerFor(stranger, logIndex), fromIndex <= logIndex && logIndex < untilIndex);
    }

    /// @dev A model of the signer rules over a few keys, for `testFuzz_SignerWindowsStayConsistent`.
    struct SignerModel {
        address[4] keys;
        uint64[4] fromIndex;
        uint64[4] untilIndex;
        bool[4] exists;
        bool[4] revoked;
        // Log indexes where a window opened or closed; each and the one below it are probed once below nextIndex().
        uint64[] edges;
        uint256 edgeCount;
    }

    /// @dev Any sequence of anchors, authorisations and revocations (valid or not) over a few keys leaves
    /// every window where a model of the rules puts it, reverts exactly where the model says, and answers
    /// `isSignerFor` by the model at every window edge below `nextIndex()` after every step, so no such
    /// answer ever changes.
    function testFuzz_SignerWindowsStayConsistent(uint64 firstIndex, uint256[24] memory ops) public {
        firstIndex = uint64(bound(firstIndex, 0, type(uint64).max / 2));
        // Both handles move together: `_anchor` (shared) anchors through `anchorContract`.
        v2 = new PacSpaceAnchor(owner, anchorer, signer, firstIndex);
        anchorContract = IAnchorLog(address(v2));

        SignerModel memory m;
        m.keys = [signer, stranger, makeAddr("key2"), makeAddr("key3")];
        (m.fromIndex[0], m.untilIndex[0], m.exists[0]) = (firstIndex, OPEN, true);
        m.edges = new uint64[](ops.length + 1);
        m.edges[m.edgeCount++] = firstIndex;

        for (uint256 step; step < ops.length; ++step) {
            _modelStep(m, ops[step]);
            _assertModel(m);
        }
    }

    function _modelStep(SignerModel memory m, uint256 op) internal {
        uint256 k = (op >> 8) % m.keys.length;
        uint64 head = v2.nextIndex();
        if (op % 3 == 0) {
            _anchorNext(uint32(bound(op >> 16, 1, type(uint32).max)));
        } else if (op % 3 == 1) {
            vm.prank(owner);
            if (m.exists[k]) {
                vm.expectRevert(abi.encodeWithSelector(IPacSpaceAnchor.PacSpaceAnchorSignerExists.selector, m.keys[k]));
            } else {
                (m.fromIndex[k], m.untilIndex[k], m.exists[k]) = (head, OPEN, true);
                m.edges[m.edgeCount++] = head;
            }
            v2.authoriseSigner(m.keys[k]);
        } else {
            vm.prank(owner);
            if (!m.exists[k] || m.revoked[k]) {
                vm.expectRevert(
                    abi.encodeWithSelector(IPacSpaceAnchor.PacSpaceAnchorSignerNotActive.selector, m.keys[k])
                );
            } else {
                (m.untilIndex[k], m.revoked[k]) = (head, true);
                m.edges[m.edgeCount++] = head;
            }
            v2.revokeSigner(m.keys[k]);
        }
    }

    function _assertModel(SignerModel memory m) internal view {
        uint64 next = v2.nextIndex();
        for (uint256 j; j < m.keys.length; ++j) {
            _assertWindow(m.keys[j], m.fromIndex[j], m.untilIndex[j], m.exists[j]);
            for (uint256 e; e < m.edgeCount; ++e) {
                for (uint64 d; d < 2 && d <= m.edges[e]; ++d) {
                    uint64 logIndex = m.edges[e] - d;
                    if (logIndex >= next) continue;
                    bool expected = m.exists[j] && m.fromIndex[j] <= logIndex && logIndex < m.untilIndex[j];
                    assertEq(v2.isSignerFor(m.keys[j], logIndex), expected);
                }
            }
        }
    }
}
