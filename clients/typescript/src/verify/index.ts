/**
 * The second, independent verifier of PacSpace receipts, written from docs/PROTOCOL.md with viem
 * (EIP-712 hashing, signature recovery, contract reads) and @openzeppelin/merkle-tree. It shares no
 * code with the Python verifier; both run the committed vectors (tests/vectors/) and must agree.
 */

import type { Hex } from "viem";

import { isObject, parseJson, type JsonValue } from "../json.js";
import { readBundle } from "./bundle.js";
import { CachedChain, RpcChain, Unreachable, type ChainSource } from "./chain.js";
import { runAllChecks } from "./onchain.js";
import { CHECK_NAMES, type CheckResult } from "./protocol.js";

export { CHECK_NAMES, type CheckResult } from "./protocol.js";
export { CHECKPOINT_CHECKS } from "./checkpoint.js";
export { EXPORT_CHECKS } from "./derive.js";
export { EVIDENCE_CHECKS } from "./evidence.js";
export { main as verifyCli } from "./cli.js";
export { RpcChain, CachedChain, Unreachable, type ChainSource } from "./chain.js";

export interface VerifyOptions {
  /** JSON-RPC URL of the anchor chain. */
  rpcUrl: string;
  /** The anchor contract you trust; the bundle must name it (default: the bundle's own). */
  contract?: string;
  /** Confirmations required, counting the anchoring block (default 1). */
  confirmations?: number | bigint;
}

export interface VerifyResult {
  ok: boolean;
  checks: CheckResult[];
  /** The contract the on-chain checks asked. */
  contract: string | null;
}

/**
 * Verify one proof bundle (`GET /v1/receipts/{id}/proof`): the 14 checks of docs/PROTOCOL.md section 4.
 * `bundle` is the parsed object or its JSON text (text keeps integers exact and duplicate keys visible).
 * Throws `Unreachable` when nothing answers at `rpcUrl`.
 */
export async function verifyBundle(bundle: unknown, options: VerifyOptions): Promise<VerifyResult> {
  const duplicates: string[] = [];
  const raw: JsonValue = typeof bundle === "string" ? parseJson(bundle, { constants: true, duplicates }) : fromPlain(bundle);
  const pinned = options.contract?.toLowerCase() as Hex | undefined;
  const chain: ChainSource = new CachedChain(new RpcChain(options.rpcUrl));
  await chain.chainId().catch((error: unknown) => {
    if (error instanceof Unreachable) throw error;
  });
  const b = readBundle(raw, duplicates);
  const checks = await runAllChecks(b, chain, pinned, BigInt(options.confirmations ?? 1));
  return { ok: checks.every((c) => c.ok) && checks.length === CHECK_NAMES.length, checks, contract: pinned ?? b.contract ?? null };
}

/** A parsed JavaScript value as the verifier's JSON model: integral numbers become bigints. */
function fromPlain(value: unknown): JsonValue {
  if (typeof value === "number") return Number.isInteger(value) ? BigInt(value) : value;
  if (Array.isArray(value)) return value.map(fromPlain);
  if (isObject(value as JsonValue)) {
    const out: Record<string, JsonValue> = {};
    for (const [k, v] of Object.entries(value as object)) Object.defineProperty(out, k, { value: fromPlain(v), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return value as JsonValue;
}
