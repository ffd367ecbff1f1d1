// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";

import {PacSpaceAnchor} from "../../src/PacSpaceAnchor.sol";
import {PacSpaceAnchorV1} from "../../src/v1/PacSpaceAnchorV1.sol";

/// @dev Signer windows cost `anchor` nothing: v2's `anchor` uses the same gas as v1's at the same batch.
contract AnchorGasTest is Test {
    address internal owner = makeAddr("owner");
    address internal anchorer = makeAddr("anchorer");
    address internal signer = makeAddr("signer");

    /// @dev Gas of `anchor` (the call itself, without the transaction's intrinsic cost) for the first and
    /// a later batch of `count` entries; each contract's storage is cold at its first call.
    function _anchorGas(address target, uint32 count) internal returns (uint256 first, uint256 later) {
        vm.prank(anchorer);
        PacSpaceAnchor(target).anchor(0, count, keccak256("first"));
        first = vm.lastCallGas().gasTotalUsed;
        vm.prank(anchorer);
        PacSpaceAnchor(target).anchor(count, count, keccak256("later"));
        later = vm.lastCallGas().gasTotalUsed;
    }

    function test_V2AnchorCostsWhatV1Costs() public {
        address v1 = address(new PacSpaceAnchorV1(owner, anchorer));
        address v2 = address(new PacSpaceAnchor(owner, anchorer, signer, 0));
        (uint256 v1First, uint256 v1Later) = _anchorGas(v1, 1000);
        (uint256 v2First, uint256 v2Later) = _anchorGas(v2, 1000);
        emit log_named_uint("v1 anchor() gas, first batch of 1000", v1First);
        emit log_named_uint("v2 anchor() gas, first batch of 1000", v2First);
        emit log_named_uint("v1 anchor() gas, later batch of 1000", v1Later);
        emit log_named_uint("v2 anchor() gas, later batch of 1000", v2Later);
        // The same code path; only the selector dispatch differs (v2 has more functions).
        assertApproxEqAbs(v2First, v1First, 100);
        assertApproxEqAbs(v2Later, v1Later, 100);
    }
}
