// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";

import {Deploy} from "../script/Deploy.s.sol";
import {PacSpaceAnchor} from "../src/PacSpaceAnchor.sol";

contract DeployTest is Test {
    Deploy internal script;
    address internal owner = makeAddr("owner");
    address internal anchorer = makeAddr("anchorer");
    address internal signer = makeAddr("signer");

    function setUp() public {
        script = new Deploy();
    }

    function test_Deploy() public {
        PacSpaceAnchor anchorContract = script.deploy(owner, anchorer, signer, 0);

        assertEq(anchorContract.owner(), owner);
        assertEq(anchorContract.protocolVersion(), 2);
        assertTrue(anchorContract.isAnchorer(anchorer));
        assertFalse(anchorContract.isAnchorer(owner));
        assertFalse(anchorContract.isAnchorer(signer));
        assertTrue(anchorContract.isSignerFor(signer, 0));
        assertFalse(anchorContract.isSignerFor(anchorer, 0));
        assertEq(anchorContract.nextIndex(), 0);
        assertEq(anchorContract.batchCount(), 0);
    }

    function test_DeployContinuingALog() public {
        PacSpaceAnchor anchorContract = script.deploy(owner, anchorer, signer, 1234);

        assertEq(anchorContract.nextIndex(), 1234);
        assertEq(anchorContract.batchCount(), 0);
        (uint64 fromIndex,, bool exists) = anchorContract.signerWindow(signer);
        assertTrue(exists);
        assertEq(fromIndex, 1234);
    }

    /// @dev One test: the environment is shared by every test running in the process.
    function test_RunReadsEnvironment() public {
        vm.setEnv("PACSPACE_OWNER", vm.toString(owner));
        vm.setEnv("PACSPACE_ANCHORER", vm.toString(anchorer));

        // Without PACSPACE_SIGNER and PACSPACE_FIRST_INDEX the anchorer signs and the log starts at 0.
        vm.setEnv("PACSPACE_SIGNER", "");
        vm.setEnv("PACSPACE_FIRST_INDEX", "");
        PacSpaceAnchor anchorContract = PacSpaceAnchor(script.run());

        assertGt(address(anchorContract).code.length, 0);
        assertEq(anchorContract.owner(), owner);
        assertTrue(anchorContract.isAnchorer(anchorer));
        assertTrue(anchorContract.isSignerFor(anchorer, 0));
        assertEq(anchorContract.nextIndex(), 0);

        vm.setEnv("PACSPACE_SIGNER", vm.toString(signer));
        vm.setEnv("PACSPACE_FIRST_INDEX", "77");
        anchorContract = PacSpaceAnchor(script.run());

        assertTrue(anchorContract.isAnchorer(anchorer));
        assertTrue(anchorContract.isSignerFor(signer, 77));
        assertFalse(anchorContract.isSignerFor(signer, 76));
        assertFalse(anchorContract.isSignerFor(anchorer, 77));
        assertEq(anchorContract.nextIndex(), 77);
    }
}
