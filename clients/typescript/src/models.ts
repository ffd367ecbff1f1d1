/**
 * What the node answers, as TypeScript types. Amounts (`delta`, balances) are `bigint`: they are
 * int256 in minor units and a JavaScript number would round them past 2^53. Inputs take
 * `number | bigint` (or a decimal string) for amounts.
 */

import { InvalidResponseError } from "./errors.js";
import { isObject, type JsonObject, type JsonValue } from "./json.js";

export type Amount = number | bigint | string;
export type ReceiptStatus = "pending" | "anchored" | "verified";

export interface DeltaInput {
  customerId: string;
  /** Minor units, non-zero, within int256; negative debits. */
  delta: Amount;
  reason: string;
  /** Your unique id for this delta, and its idempotency key: a retry returns the first receipt. */
  referenceId: string;
  metadata?: Record<string, unknown>;
  correctsReceiptId?: string;
}

export interface Receipt {
  receiptId: string;
  status: ReceiptStatus;
  customerId: string;
  referenceId: string;
  delta: bigint;
  reason: string;
  metadataHash: string;
  customerIndex: number;
  prevFingerprint: string;
  recordedAt: number;
  corrects: string | null;
  correctsReceiptId: string | null;
  fingerprint: string;
  signature: string;
  signer: string;
  logIndex: number | null;
  batchId: number | null;
  txHash: string | null;
  blockNumber: number | null;
  confirmations: number;
  confirmationsRequired: number;
  /** True when the node answered 201 (newly recorded), false for a replay of the first receipt (200). */
  created?: boolean;
}

export interface DeltaOutcome {
  /** 201 created, 200 replay of the first receipt, 409 conflict, 422 invalid, 503 not stored. */
  status: number;
  receipt: Receipt | null;
  error: import("./errors.js").PacSpaceError | null;
}

export interface BulkResult {
  results: DeltaOutcome[];
  created: number;
  replayed: number;
  failed: number;
}

export interface Balance {
  customerId: string;
  balance: bigint;
  pendingBalance: bigint;
  verifiedCount: number;
  pendingCount: number;
  headIndex: number | null;
  headFingerprint: string | null;
  asOfLogIndex: number | null;
  verification?: { verified: boolean; checked: number; discrepancies: JsonObject[] };
  [key: string]: unknown;
}

export interface Checkpoint {
  checkpointId: string;
  customerId: string;
  fromIndex: number;
  toIndex: number;
  count: number;
  openingBalance: bigint;
  net: bigint;
  closingBalance: bigint;
  rangeRoot: string;
  headFingerprint: string;
  createdAt: number;
  signer: string;
  signature: string;
  countersigner: string | null;
  countersignature: string | null;
  countersignedAt: number | null;
  /** EIP-712 typed data of the checkpoint: what the customer countersigns. */
  typedData: { types: Record<string, { name: string; type: string }[]>; primaryType: string; domain: JsonObject; message: JsonObject };
  proofToken: string;
}

export interface Comparison {
  comparisonId: string;
  customerId: string;
  recordBalance: bigint;
  theirBalance: bigint;
  variance: bigint;
  resolution: "match" | "auto_settled" | "within_tolerance" | "needs_evidence";
  settlementReceiptId: string | null;
  evidence: JsonObject;
  [key: string]: unknown;
}

export interface WebhookEndpoint {
  id: string;
  url: string;
  events: string[];
  enabled: boolean;
  disabledReason: string | null;
  aggregate: boolean;
  /** Only in the answers of create and rotateSecret: shown once. */
  secret?: string;
  [key: string]: unknown;
}

/** A proof bundle (docs/PROTOCOL.md section 4), as the node serves it; integers beyond 2^53 are bigints. */
export type ProofBundle = JsonObject;

const big = (value: JsonValue | undefined, what: string): bigint => {
  if (typeof value === "bigint") return value;
  if (typeof value === "number" && Number.isInteger(value)) return BigInt(value);
  if (typeof value === "string" && /^-?\d+$/.test(value)) return BigInt(value);
  throw new InvalidResponseError(`${what} is not an integer: ${String(value)}`);
};

export function object(value: JsonValue, what: string): JsonObject {
  if (!isObject(value)) throw new InvalidResponseError(`${what} is not a JSON object`);
  return value;
}

/** The response object with the named members read as bigint amounts. */
export function withAmounts<T>(value: JsonValue, what: string, amounts: string[]): T {
  const obj = { ...object(value, what) } as Record<string, unknown>;
  for (const key of amounts) if (key in obj && obj[key] !== null) obj[key] = big(obj[key] as JsonValue, `${what}.${key}`);
  return obj as T;
}

export const toReceipt = (value: JsonValue): Receipt => withAmounts<Receipt>(value, "receipt", ["delta"]);
export const toBalance = (value: JsonValue): Balance => withAmounts<Balance>(value, "balance", ["balance", "pendingBalance"]);
export const toCheckpoint = (value: JsonValue): Checkpoint => withAmounts<Checkpoint>(value, "checkpoint", ["openingBalance", "net", "closingBalance"]);
export const toComparison = (value: JsonValue): Comparison => withAmounts<Comparison>(value, "comparison", ["recordBalance", "theirBalance", "variance"]);

/** An amount as the JSON the node takes: a number when it is safe, a bigint (written as digits) otherwise. */
export function amountJson(value: Amount, field: string): number | bigint {
  if (typeof value === "bigint") return value;
  if (typeof value === "number") {
    if (!Number.isSafeInteger(value)) throw new TypeError(`${field} must be an integer within ±(2^53-1), or a bigint`);
    return value;
  }
  if (/^-?\d+$/.test(value)) return BigInt(value);
  throw new TypeError(`${field} must be an integer (number, bigint or decimal string)`);
}
