// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {Test} from "forge-std/Test.sol";

import {HashChainAnchor, StorageEventFloorAnchor, StorageFloorAnchor} from "./AnchorDesigns.sol";

/// @dev The gas benchmark's reference designs do the work they claim to do: otherwise their figures
/// would compare against a shortcut.
contract AnchorDesignsTest is Test {
    address internal anchorer = makeAddr("anchorer");

    function test_StorageFloorKeepsCommitmentsAndContiguity() public {
        StorageFloorAnchor design = new StorageFloorAnchor(address(this), anchorer, anchorer, 0);
        design.anchor(0, 10, keccak256("a"));
        design.anchor(10, 5, keccak256("b"));
        assertEq(design.batchCommitment(10), keccak256(abi.encode(keccak256("b"), uint256(5))));
        vm.expectRevert("not contiguous");
        design.anchor(10, 1, keccak256("c"));
    }

    function test_StorageEventFloorKeepsCommitmentsAndContiguity() public {
        StorageEventFloorAnchor design = new StorageEventFloorAnchor(address(this), anchorer, anchorer, 0);
        vm.expectEmit(address(design));
        emit StorageEventFloorAnchor.BatchAnchored(keccak256("a"), 0, 10);
        design.anchor(0, 10, keccak256("a"));
        assertEq(design.batchCommitment(0), keccak256(abi.encode(keccak256("a"), uint256(10))));
        vm.expectRevert("not contiguous");
        design.anchor(3, 1, keccak256("c"));
    }

    function test_HashChainAuthorisesChainsAndEmits() public {
        HashChainAnchor design = new HashChainAnchor(address(this), anchorer, anchorer, 0);
        bytes32 before = design.chainHead();
        vm.expectRevert("not an anchorer");
        design.anchor(0, 10, keccak256("a"));

        vm.expectEmit(address(design));
        emit HashChainAnchor.BatchAnchored(0, keccak256("a"), 0, 10, anchorer);
        vm.prank(anchorer);
        assertEq(design.anchor(0, 10, keccak256("a")), 0);
        assertEq(design.chainHead(), keccak256(abi.encode(before, keccak256("a"), uint256(0), uint256(10))));

        vm.prank(anchorer);
        vm.expectRevert("not contiguous");
        design.anchor(0, 1, keccak256("b"));
    }
}
