// Reference oracle for tests: reads {"trees": [[[logIndex, fingerprint], ...], ...]} on stdin and
// prints, for each tree, the root and the proof of every value from @openzeppelin/merkle-tree.
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const { trees } = JSON.parse(input);
  const out = trees.map((values) => {
    const tree = StandardMerkleTree.of(
      values.map(([i, fp]) => [String(i), fp]),
      ["uint256", "bytes32"],
    );
    return { root: tree.root, proofs: values.map((_, i) => tree.getProof(i)) };
  });
  process.stdout.write(JSON.stringify(out));
});
