// Times @openzeppelin/merkle-tree on the node's leaf encoding: build a StandardMerkleTree of N
// (uint256 logIndex, bytes32 fingerprint) values, then get the proof of every value.
//   node bench/oz_tree_bench.mjs N      -> {"leaves": N, "buildSeconds": s, "proofSeconds": s, "root": "0x…"}
// Fingerprints are deterministic (logIndex repeated), so the Python side can check the same root.
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";

const n = Number(process.argv[2]);
const values = [];
for (let i = 0; i < n; i++) {
  values.push([String(i), "0x" + (i + 1).toString(16).padStart(64, "0")]);
}
let t = process.hrtime.bigint();
const tree = StandardMerkleTree.of(values, ["uint256", "bytes32"]);
const buildSeconds = Number(process.hrtime.bigint() - t) / 1e9;
t = process.hrtime.bigint();
for (let i = 0; i < n; i++) tree.getProof(i);
const proofSeconds = Number(process.hrtime.bigint() - t) / 1e9;
process.stdout.write(JSON.stringify({ leaves: n, buildSeconds, proofSeconds, root: tree.root }) + "\n");
