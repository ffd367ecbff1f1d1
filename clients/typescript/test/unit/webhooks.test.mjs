// webhooks.constructEvent against signatures made the way docs/WEBHOOKS.md specifies them, and against
// the `standardwebhooks` library's own signer for the Standard Webhooks headers.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { test } from "node:test";

import { Webhook } from "standardwebhooks";

import { constructEvent, WebhookSignatureError, webhooks } from "../../dist/index.js";

const secret = "whsec_" + Buffer.from("0123456789abcdef0123456789abcdef").toString("base64");
const body = '{"id":"evt_1","type":"delta.verified","delta":-1000,"customerIndex":0}';
const now = 1770733921;
const pacspace = (t, key = secret, raw = body) => `t=${t},v1=${createHmac("sha256", key).update(`${t}.${raw}`).digest("hex")}`;

test("a Pacspace-Signature over the raw body verifies and gives the event", () => {
  const event = webhooks.constructEvent(body, { "Pacspace-Signature": pacspace(now) }, secret, { now });
  assert.equal(event.type, "delta.verified");
  assert.equal(event.delta, -1000);
  assert.equal(constructEvent(Buffer.from(body), new Headers({ "pacspace-signature": pacspace(now) }), secret, { now }).id, "evt_1");
});

test("a changed body, another secret, a stale or future timestamp are refused", () => {
  const expect = (fn, code) => assert.throws(fn, (e) => e instanceof WebhookSignatureError && e.code === code);
  expect(() => constructEvent(body.replace("-1000", "-1001"), { "pacspace-signature": pacspace(now) }, secret, { now }), "signature_mismatch");
  expect(() => constructEvent(body, { "pacspace-signature": pacspace(now, "whsec_other") }, secret, { now }), "signature_mismatch");
  expect(() => constructEvent(body, { "pacspace-signature": pacspace(now - 301) }, secret, { now }), "timestamp_outside_tolerance");
  expect(() => constructEvent(body, { "pacspace-signature": pacspace(now + 301) }, secret, { now }), "timestamp_outside_tolerance");
  expect(() => constructEvent(body, { "pacspace-signature": "v1=abc" }, secret, { now }), "malformed_signature_header");
  expect(() => constructEvent(body, {}, secret, { now }), "missing_signature");
  // within a wider tolerance the old one passes
  assert.equal(constructEvent(body, { "pacspace-signature": pacspace(now - 301) }, secret, { now, toleranceSeconds: 600 }).id, "evt_1");
});

test("during a rotation any v1 of any given secret verifies", () => {
  const old = "whsec_old";
  const header = `${pacspace(now, old)},v1=${pacspace(now).split("v1=")[1]}`;
  assert.equal(constructEvent(body, { "pacspace-signature": header }, secret, { now }).id, "evt_1");
  assert.equal(constructEvent(body, { "pacspace-signature": pacspace(now, old) }, [secret, old], { now }).id, "evt_1");
});

test("Standard Webhooks headers signed by the standardwebhooks library verify; tampering does not", () => {
  const signer = new Webhook(secret);
  const at = new Date(now * 1000);
  const signature = signer.sign("msg_1", at, body);
  const headers = { "webhook-id": "msg_1", "webhook-timestamp": String(now), "webhook-signature": signature };
  assert.equal(constructEvent(body, headers, secret, { now }).type, "delta.verified");
  assert.throws(() => constructEvent(body, { ...headers, "webhook-id": "msg_2" }, secret, { now }), WebhookSignatureError);
  // both schemes present: both must verify
  assert.throws(() => constructEvent(body, { ...headers, "pacspace-signature": pacspace(now, "whsec_other") }, secret, { now }), WebhookSignatureError);
  assert.equal(constructEvent(body, { ...headers, "pacspace-signature": pacspace(now) }, secret, { now }).id, "evt_1");
});
