// Every committed protocol vector (tests/vectors/) through pacspace-verify-js: the exit status and the
// set of failed check names must be what the vector wants, and the verifier must ask the chain nothing
// the transcript does not hold (but the protocolVersion() probe, which old transcripts lack).
import assert from "node:assert/strict";
import { test } from "node:test";

import { loadVector, runVector, vectorFiles, vectorId } from "../support/vectors.mjs";

const files = vectorFiles();

test("there are vectors of every mode and outcome in every protocol version", () => {
  const kinds = new Set(files.map((f) => vectorId(f).replace(/-.*$/, "")));
  for (const v of ["v1", "v2"]) {
    for (const mode of ["bundle", "derive", "checkpoint", "evidence"]) {
      for (const kind of ["valid", "invalid", "unusable"]) assert.ok(kinds.has(`${v}/${mode}/${kind}`), `${v}/${mode}/${kind}`);
    }
  }
});

for (const path of files) {
  test(vectorId(path), async () => {
    const vector = loadVector(path);
    const { exit, failed, stdout, stderr } = await runVector(vector);
    assert.deepEqual({ exit, failed }, { exit: vector.want.exit, failed: vector.want.failed }, stdout.slice(-3000) + stderr);
    if (exit === 2) {
      assert.equal(stdout, "");
      assert.equal(stderr.trim().split("\n").length, 1, stderr);
    }
  });
}
