// CloudEvents from the official JavaScript SDK (npm `cloudevents`), sent by its own HTTP emitter, and usage
// from OpenMeter's JavaScript client pointed at the node: recorded once, verified, receipts at /v1/events.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { test } from "node:test";

import { OpenMeter } from "@openmeter/sdk";
import { CloudEvent, emitterFor, httpTransport, HTTP, Mode } from "cloudevents";

import { parseJson, verifyBundle } from "../../dist/index.js";
import { live, unique } from "../support/live.mjs";

const { baseUrl, apiKey, rpcUrl, client } = live();
const auth = { Authorization: `Bearer ${apiKey}` };

async function post(message) {
  const response = await fetch(`${baseUrl}/v1/events`, { method: "POST", headers: { ...auth, ...message.headers }, body: message.body });
  return { status: response.status, body: parseJson(await response.text(), { integers: "auto" }) };
}

test("an event built by the cloudevents SDK is recorded once when sent twice, in either mode, and becomes verified", async () => {
  const customerId = unique("cust");
  const event = new CloudEvent({ type: "api_usage", source: "js-gateway", subject: customerId, id: randomUUID(), data: { delta: -300, route: "/search" } });
  const first = await post(HTTP.structured(event));
  assert.equal(first.status, 201, JSON.stringify(first.body));
  assert.equal(first.body.referenceId, `js-gateway#${event.id}`);
  const again = await post(HTTP.binary(event));
  assert.equal(again.status, 200);
  assert.equal(again.body.receiptId, first.body.receiptId);
  // the SDK's own emitter, binary mode (its default), as a producer would send it
  const emit = emitterFor(httpTransport(`${baseUrl}/v1/events`), { mode: Mode.BINARY, headers: auth });
  await emit(event);
  const receipt = await client.receipts.wait(first.body.receiptId, { status: "verified", timeoutMs: 30_000, pollIntervalMs: 100 });
  assert.equal(receipt.delta, -300n);
  const balance = await client.balance.derive(customerId);
  assert.equal(balance.balance, -300n);
  assert.equal(balance.verifiedCount, 1);
  assert.ok((await verifyBundle(await client.receipts.proof(receipt.receiptId), { rpcUrl })).ok);
});

test("a batch from the SDK's events is one request with a result per event", async () => {
  const customerId = unique("cust");
  const events = Array.from({ length: 50 }, (_, i) => new CloudEvent({ type: "api_usage", source: "js-batch", subject: customerId, data: { delta: -(i + 1) } }));
  const response = await fetch(`${baseUrl}/v1/events`, {
    method: "POST",
    headers: { ...auth, "Content-Type": "application/cloudevents-batch+json" },
    body: `[${events.map((e) => HTTP.structured(e).body).join(",")}]`,
  });
  const result = await response.json();
  assert.equal(response.status, 200);
  assert.deepEqual([result.created, result.failed], [50, 0]);
});

test("OpenMeter's JavaScript client ingests through /api/v1/events; a retry records nothing twice", async () => {
  const customerId = unique("cust");
  const openmeter = new OpenMeter({ baseUrl, apiKey });
  const id = randomUUID();
  await openmeter.events.ingest({ id, type: "api_usage", subject: customerId, source: "om-js", data: { delta: -75 } });
  await openmeter.events.ingest({ id, type: "api_usage", subject: customerId, source: "om-js", data: { delta: -75 } });
  await openmeter.events.ingest([
    { type: "api_usage", subject: customerId, data: { delta: -5 } },
    { type: "api_usage", subject: customerId, data: { delta: -20 } },
  ]);
  await assert.rejects(openmeter.events.ingest({ type: "api_usage", subject: customerId, data: { tokens: 3 } }));
  const balance = await client.balance.derive(customerId);
  assert.equal(balance.balance + balance.pendingBalance, -100n);
  assert.equal(balance.verifiedCount + balance.pendingCount, 3);
});

test("the SDK sends events and manages mappings: events.send, putMapping, mappings, deleteMapping", async () => {
  const customerId = unique("cust");
  const type = unique("sdk.tokens");
  const one = { id: randomUUID(), source: "sdk", type: "api_usage", subject: customerId, data: { delta: -12, route: "/x" } };
  const first = await client.events.send(one);
  assert.equal(first.created, true);
  assert.equal(first.delta, -12n);
  assert.equal((await client.events.send(one)).receiptId, first.receiptId);
  const mapping = await client.events.putMapping(type, { quantityField: "tokens", multiplier: -3, reasonTemplate: "{quantity} tokens" });
  assert.equal(mapping.multiplier, "-3");
  assert.ok((await client.events.mappings()).mappings.some((m) => m.type === type));
  const batch = await client.events.send([
    { id: randomUUID(), source: "sdk", type, subject: customerId, data: { tokens: 4 } },
    { id: randomUUID(), source: "sdk", type, subject: customerId, data: { tokens: 0 } },
  ]);
  assert.deepEqual(batch.results.map((r) => r.status), [201, 422]);
  assert.equal(batch.results[0].receipt.delta, -12n);
  assert.equal(batch.results[0].receipt.reason, "4 tokens");
  assert.equal(batch.results[1].error.errors[0].field, "events[1].data.tokens");
  await client.events.deleteMapping(type);
  assert.ok(!(await client.events.mappings()).mappings.some((m) => m.type === type));
});
