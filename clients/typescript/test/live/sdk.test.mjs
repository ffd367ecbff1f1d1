// The SDK against a real node and Anvil (./scripts/run): recording, retries, errors, bulk, export,
// compare, checkpoints countersigned with viem and ethers, webhooks delivered and verified.
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

import { Wallet } from "ethers";
import { privateKeyToAccount } from "viem/accounts";

import {
  AuthenticationError,
  ConflictError,
  NotFoundError,
  PacSpace,
  RateLimitedError,
  stringifyJson,
  ValidationError,
  verifyBundle,
} from "../../dist/index.js";
import { verifyCli } from "../../dist/verify/index.js";
import { live, proxy, unique } from "../support/live.mjs";

const { baseUrl, apiKey, rpcUrl, client } = live();
const ANVIL_KEY_3 = "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a";
const ANVIL_KEY_4 = "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6";

async function recordVerified(customerId, amounts) {
  const receipts = [];
  for (const delta of amounts) receipts.push(await client.balance.delta({ customerId, delta, reason: "usage", referenceId: unique("ref") }));
  for (const r of receipts) await client.receipts.wait(r.receiptId, { status: "verified", timeoutMs: 30_000, pollIntervalMs: 100 });
  return receipts;
}

test("a delta is recorded once, retried for its first receipt, verified, proven and derived", async () => {
  const customerId = unique("cust");
  const input = { customerId, delta: -1000, reason: "api_usage", referenceId: unique("req"), metadata: { plan: "pro" } };
  const first = await client.balance.delta(input);
  assert.equal(first.created, true);
  assert.equal(first.delta, -1000n);
  const again = await client.balance.delta(input);
  assert.equal(again.created, false);
  assert.equal(again.receiptId, first.receiptId);
  const verified = await client.receipts.wait(first.receiptId, { status: "verified", timeoutMs: 30_000, pollIntervalMs: 100 });
  assert.equal(verified.status, "verified");
  const verdict = await verifyBundle(await client.receipts.proof(first.receiptId), { rpcUrl });
  assert.ok(verdict.ok, JSON.stringify(verdict.checks.filter((c) => !c.ok)));
  assert.equal((await client.balance.derive(customerId)).balance, -1000n);
});

test("amounts beyond 2^53 travel as bigints without losing a digit", async () => {
  const customerId = unique("cust");
  const delta = -(2n ** 200n) - 12345n;
  const receipt = await client.balance.delta({ customerId, delta, reason: "huge", referenceId: unique("req") });
  assert.equal(receipt.delta, delta);
  assert.equal((await client.receipts.get(receipt.receiptId)).delta, delta);
});

test("errors are typed and carry the problem code, the fields and the request id", async () => {
  const customerId = unique("cust");
  const referenceId = unique("req");
  const first = await client.balance.delta({ customerId, delta: 5, reason: "x", referenceId });
  await assert.rejects(client.balance.delta({ customerId, delta: 6, reason: "x", referenceId }), (e) => {
    assert.ok(e instanceof ConflictError);
    assert.equal(e.code, "reference_conflict");
    assert.equal(e.receiptId, first.receiptId);
    assert.match(e.requestId, /^req_/);
    return true;
  });
  await assert.rejects(client.balance.delta({ customerId, delta: 0, reason: "x", referenceId: unique("req") }), (e) => {
    assert.ok(e instanceof ValidationError);
    assert.equal(e.status, 422);
    assert.deepEqual(e.errors.map((x) => x.field), ["delta"]);
    return true;
  });
  await assert.rejects(client.receipts.get("rcpt_000000000000000000000000"), NotFoundError);
  await assert.rejects(new PacSpace({ baseUrl, apiKey: "sk_test_wrong" }).me(), AuthenticationError);
});

test("bulk: one result per item, in order; a retry of the whole request records nothing twice", async () => {
  const customerId = unique("cust");
  const items = [
    { customerId, delta: -1, reason: "a", referenceId: unique("req") },
    { customerId, delta: 0, reason: "b", referenceId: unique("req") },
    { customerId, delta: -3, reason: "c", referenceId: unique("req") },
  ];
  const result = await client.balance.deltas(items);
  assert.deepEqual(result.results.map((r) => r.status), [201, 422, 201]);
  assert.ok(result.results[1].error instanceof ValidationError);
  assert.deepEqual([result.created, result.replayed, result.failed], [2, 0, 1]);
  const again = await client.balance.deltas(items);
  assert.deepEqual(again.results.map((r) => r.status), [200, 422, 200]);
  assert.equal(again.results[2].receipt.receiptId, result.results[2].receipt.receiptId);
});

test("a network error after the node acted is retried with the same Idempotency-Key and answers the first receipt", async () => {
  const through = await proxy(baseUrl, ["drop-after-forward", "forward"]);
  try {
    const sdk = new PacSpace({ baseUrl: through.url, apiKey, backoffMs: 10 });
    const customerId = unique("cust");
    const receipt = await sdk.balance.delta({ customerId, delta: -7, reason: "retry", referenceId: unique("req") });
    assert.equal(through.seen.length, 2);
    assert.equal(receipt.created, false, "the second attempt is the node's replay of the first");
    assert.equal(through.seen[0].headers["idempotency-key"], through.seen[1].headers["idempotency-key"]);
    assert.equal(through.seen[0].headers["x-request-id"], through.seen[1].headers["x-request-id"]);
    const balance = await client.balance.derive(customerId);
    assert.equal(balance.balance + balance.pendingBalance, -7n, "recorded once");
    assert.equal(balance.verifiedCount + balance.pendingCount, 1);
  } finally {
    await through.close();
  }
});

test("503 and 429 are retried after Retry-After, with the same Idempotency-Key", async () => {
  const through = await proxy(baseUrl, [{ status: 503, headers: { "Retry-After": "1" } }, { status: 429, headers: { "Retry-After": "0" } }, "forward"]);
  try {
    const sdk = new PacSpace({ baseUrl: through.url, apiKey, backoffMs: 10 });
    const started = Date.now();
    const result = await sdk.balance.deltas([{ customerId: unique("cust"), delta: 2, reason: "r", referenceId: unique("req") }]);
    assert.ok(Date.now() - started >= 900, "Retry-After: 1 was honoured");
    assert.equal(result.created, 1);
    const keys = new Set(through.seen.map((s) => s.headers["idempotency-key"]));
    assert.equal(through.seen.length, 3);
    assert.equal(keys.size, 1);
  } finally {
    await through.close();
  }
});

test("a Retry-After too long to wait inside a call goes to the caller as RateLimitedError", async () => {
  const through = await proxy(baseUrl, [{ status: 429, headers: { "Retry-After": "120" } }]);
  try {
    const sdk = new PacSpace({ baseUrl: through.url, apiKey, backoffMs: 10 });
    await assert.rejects(sdk.me(), (e) => {
      assert.ok(e instanceof RateLimitedError);
      assert.equal(e.retryAfter, 120);
      return true;
    });
    assert.equal(through.seen.length, 1, "not retried");
  } finally {
    await through.close();
  }
});

test("export streams every verified bundle; the TypeScript verifier derives the node's balance from it", async () => {
  const customerId = unique("cust");
  await recordVerified(customerId, [-100, 250, -30]);
  const bundles = [];
  for await (const bundle of client.balance.export(customerId)) bundles.push(bundle);
  assert.deepEqual(bundles.map((b) => b.typedData.message.customerIndex), ["0", "1", "2"]);
  const file = join(mkdtempSync(join(tmpdir(), "pacspace-export-")), "export.jsonl");
  writeFileSync(file, bundles.map((b) => stringifyJson(b) + "\n").join(""));
  const out = [];
  const code = await verifyCli(["derive", file, "--rpc", rpcUrl, "--json", "--quiet"], { out: (l) => out.push(l), err: (l) => out.push(l) }, {});
  assert.equal(code, 0, out.join("\n"));
  assert.equal(JSON.parse(out.join("\n")).balance, String((await client.balance.derive(customerId)).balance));
  assert.equal((await client.balance.derive(customerId)).balance, 120n);
});

test("an export stream broken part way is resumed after the last bundle received", async () => {
  const customerId = unique("cust");
  await recordVerified(customerId, [-1, -2, -3, -4, -5, -6]);
  const through = await proxy(baseUrl, ["cut-body-in-half", "forward"]);
  try {
    const sdk = new PacSpace({ baseUrl: through.url, apiKey, backoffMs: 10 });
    const indexes = [];
    for await (const bundle of sdk.balance.export(customerId)) indexes.push(bundle.typedData.message.customerIndex);
    assert.deepEqual(indexes, ["0", "1", "2", "3", "4", "5"], "every bundle once, in order");
    assert.equal(through.seen.length, 2);
    const resumedFrom = new URL(through.seen[1].url, baseUrl).searchParams.get("fromIndex");
    assert.ok(Number(resumedFrom) > 0, `resumed from ${resumedFrom}`);
  } finally {
    await through.close();
  }
});

test("compare matches the record by referenceId", async () => {
  const customerId = unique("cust");
  const receipts = await recordVerified(customerId, [-40, -2]);
  const comparison = await client.balance.compare({ customerId, theirDeltas: receipts.map((r) => ({ referenceId: r.referenceId, delta: r.delta })) });
  assert.equal(comparison.resolution, "match");
  assert.equal(comparison.variance, 0n);
  assert.equal(comparison.recordBalance, -42n);
});

test("checkpoints are countersigned with a viem account and an ethers signer; the token verifies", async () => {
  const customerId = unique("cust");
  await recordVerified(customerId, [-10, -20]);
  const first = await client.checkpoints.create({ customerId });
  assert.equal(first.closingBalance, -30n);
  const viemAccount = privateKeyToAccount(ANVIL_KEY_3);
  const signed = await client.checkpoints.countersign(first.checkpointId, viemAccount);
  assert.equal(signed.countersigner, viemAccount.address.toLowerCase());
  await recordVerified(customerId, [-5]);
  const second = await client.checkpoints.create({ customerId });
  const wallet = new Wallet(ANVIL_KEY_4);
  const signedByEthers = await client.checkpoints.countersign(second.checkpointId, wallet);
  assert.equal(signedByEthers.countersigner, (await wallet.getAddress()).toLowerCase());
  assert.deepEqual((await client.checkpoints.list(customerId)).map((c) => c.checkpointId).sort(), [first.checkpointId, second.checkpointId].sort());
  const bundles = [];
  for await (const bundle of client.balance.export(customerId)) bundles.push(bundle);
  const file = join(mkdtempSync(join(tmpdir(), "pacspace-export-")), "export.jsonl");
  writeFileSync(file, bundles.map((b) => stringifyJson(b) + "\n").join(""));
  const out = [];
  const code = await verifyCli(["checkpoint", signedByEthers.proofToken, "--export", file, "--rpc", rpcUrl, "--json", "--quiet"], { out: (l) => out.push(l), err: (l) => out.push(l) }, {});
  assert.equal(code, 0, out.join("\n"));
  assert.equal(JSON.parse(out.join("\n")).countersigner, signedByEthers.countersigner);
});

test("webhook endpoints are managed, and a real delivery verifies with constructEvent", async () => {
  const received = [];
  const receiver = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, body: Buffer.concat(chunks) });
      res.writeHead(204).end();
    });
  });
  await new Promise((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  try {
    const endpoint = await client.webhooks.create({ url: `http://127.0.0.1:${receiver.address().port}/hook`, events: ["delta.verified"] });
    assert.match(endpoint.secret, /^whsec_/);
    assert.ok((await client.webhooks.list()).some((w) => w.id === endpoint.id));
    const updated = await client.webhooks.update(endpoint.id, { events: ["delta.verified", "batch.anchored"] });
    assert.deepEqual(updated.events.sort(), ["batch.anchored", "delta.verified"]);
    const { deliveryId } = await client.webhooks.test(endpoint.id);
    const deadline = Date.now() + 20_000;
    while (!received.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(received.length, 1, "the test event arrived");
    const event = client.webhooks.constructEvent(received[0].body, received[0].headers, endpoint.secret);
    assert.equal(event.type, "webhook.test");
    assert.throws(() => client.webhooks.constructEvent(received[0].body, received[0].headers, "whsec_not_it"));
    const deliveries = await client.webhooks.deliveries(endpoint.id);
    assert.ok(deliveries.some((d) => d.deliveryId === deliveryId || d.id === deliveryId));
    const rotated = await client.webhooks.rotateSecret(endpoint.id, { graceSeconds: 60 });
    assert.notEqual(rotated.secret, endpoint.secret);
    await client.webhooks.delete(endpoint.id);
    await assert.rejects(client.webhooks.get(endpoint.id), NotFoundError);
  } finally {
    await new Promise((resolve) => receiver.close(resolve));
  }
});
