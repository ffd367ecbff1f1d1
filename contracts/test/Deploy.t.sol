// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";

import {Deploy} from "../script/Deploy.s.sol";
import {PacSpaceAnchor} from "../src/PacSpaceAnchor.sol";

contract DeployTest is Test {
    Deploy internal script;
    address internal owner = makeAddr("owner");
    address internal anchorer = makeAddr("anchorer");

    function setUp() public {
        script = new Deploy();
    }

    function test_Deploy() public {
        PacSpaceAnchor anchorContract = script.deploy(owner, anchorer);

        assertEq(anchorContract.owner(), owner);
        assertTrue(anchorContract.isAnchorer(anchorer));
        assertFalse(anchorContract.isAnchorer(owner));
        assertEq(anchorContract.nextIndex(), 0);
        assertEq(anchorContract.batchCount(), 0);
    }

    function test_RunReadsEnvironment() public {
        vm.setEnv("PACSPACE_OWNER", vm.toString(owner));
        vm.setEnv("PACSPACE_ANCHORER", vm.toString(anchorer));

        PacSpaceAnchor anchorContract = PacSpaceAnchor(script.run());

        assertGt(address(anchorContract).code.length, 0);
        assertEq(anchorContract.owner(), owner);
        assertTrue(anchorContract.isAnchorer(anchorer));
    }
}
