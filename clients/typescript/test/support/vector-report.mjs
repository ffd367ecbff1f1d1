// Prints one JSON line per committed vector: {"vector": "v1/bundle/valid-metadata", "exit": 0, "failed": []},
// what the TypeScript verifier gave. tests/integration/test_verifier_parity.py compares it with the Python one.
import { loadVector, runVector, vectorFiles, vectorId } from "./vectors.mjs";

for (const path of vectorFiles()) {
  const { exit, failed } = await runVector(loadVector(path));
  process.stdout.write(JSON.stringify({ vector: vectorId(path), exit, failed }) + "\n");
}
