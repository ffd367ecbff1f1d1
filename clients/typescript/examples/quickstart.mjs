// The README's example: record a delta, derive the balance, verify the receipt's proof yourself.
//   PACSPACE_BASE_URL=http://127.0.0.1:8000 PACSPACE_API_KEY=$(cat .pacspace/api-key) \
//   PACSPACE_RPC_URL=http://127.0.0.1:8545 node clients/typescript/examples/quickstart.mjs
// (`./scripts/run` serves the node and Anvil on those addresses; within this repository the package is
// imported from its build, elsewhere `import { PacSpace, verifyBundle } from "@pacspace/sdk"`.)
import { randomUUID } from "node:crypto";

import { PacSpace, verifyBundle } from "../dist/index.js";

const pacspace = new PacSpace({
  apiKey: process.env.PACSPACE_API_KEY,
  baseUrl: process.env.PACSPACE_BASE_URL ?? "http://127.0.0.1:8000",
});
const customerId = process.env.PACSPACE_CUSTOMER ?? "cust_12345";

const response = await pacspace.balance.delta({
  customerId,
  delta: -1000,
  reason: "api_usage",
  referenceId: `req_${randomUUID()}`,
});
const { receiptId } = response;
console.log(`recorded ${receiptId} (${response.status})`);

await pacspace.receipts.wait(receiptId, { status: "verified" });
const bundle = await pacspace.receipts.proof(receiptId);
const verdict = await verifyBundle(bundle, { rpcUrl: process.env.PACSPACE_RPC_URL ?? "http://127.0.0.1:8545" });
for (const check of verdict.checks) console.log(`${check.ok ? "✓" : "✗"} ${check.name}`);
console.log(`proof verified: ${verdict.ok}`);

const balance = await pacspace.balance.derive(customerId);
console.log(`balance: ${balance.balance}`);
