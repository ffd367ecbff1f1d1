/**
 * PacSpace node SDK: record deltas, read receipts and proofs, derive and compare balances, checkpoints,
 * webhooks; and a second, independent verifier of receipts (`verifyBundle`, `pacspace-verify-js`).
 */

export { PacSpace, type PacSpaceOptions, type ViemTypedDataSigner, type EthersTypedDataSigner, type CloudEventInput, type EventMapping } from "./client.js";
export * from "./errors.js";
export type * from "./models.js";
export { constructEvent, type ConstructEventOptions, type HeaderBag, type WebhookEvent, DEFAULT_TOLERANCE_SECONDS } from "./webhooks.js";
export { parseJson, stringifyJson, type JsonValue } from "./json.js";
export { verifyBundle, type VerifyOptions, type VerifyResult, CHECK_NAMES, type CheckResult } from "./verify/index.js";

import { constructEvent } from "./webhooks.js";
/** `webhooks.constructEvent(rawBody, headers, secret)`, as Stripe's SDK has it. */
export const webhooks = { constructEvent };
