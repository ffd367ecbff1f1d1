/**
 * A comparison's evidence pack (`GET /v1/comparisons/{id}/evidence`) and its checks: format, arithmetic,
 * coverage, items, bundles (section 4, through an ExportChecker), resolution. Two formats (docs/PROTOCOL.md
 * section 10): pacspace.evidence.v1 lists every difference; pacspace.evidence.v2 keeps at most
 * `evidence.limit` items per list with complete counts, and knows the resolution `within_tolerance`.
 */

import type { Hex } from "viem";

import { isObject, type JsonObject, type JsonValue } from "../json.js";
import { bundleIndex, readBundle, type Bundle, type Message } from "./bundle.js";
import type { ChainSource } from "./chain.js";
import { ExportChecker, KEPT_FAILURES } from "./derive.js";
import { check, describe, isInt, type CheckResult } from "./protocol.js";

export const EVIDENCE_CHECKS = ["format", "arithmetic", "coverage", "items", "bundles", "resolution"] as const;
const EVIDENCE_V1 = "pacspace.evidence.v1";
const EVIDENCE_V2 = "pacspace.evidence.v2";
const EVIDENCE_VERSIONS = [EVIDENCE_V1, EVIDENCE_V2];
const RESOLUTIONS: Record<string, string[]> = {
  [EVIDENCE_V1]: ["match", "auto_settled", "needs_evidence"],
  [EVIDENCE_V2]: ["match", "auto_settled", "within_tolerance", "needs_evidence"],
};
const LISTS = ["onlyInRecord", "onlyInTheirs", "amountMismatch", "pending"] as const;
const COUNTS = [...LISTS, "matched"];
const SHOWN = 10;

interface Item {
  where: string;
  receiptId: string;
  referenceId: string;
  amount: bigint;
  customerIndex: bigint | undefined;
  theirs: bigint | undefined;
}

export interface Pack {
  version?: string;
  comparisonId?: string;
  customerId?: string;
  asOfIndex?: bigint;
  recordBalance?: bigint;
  theirBalance?: bigint;
  variance?: bigint;
  tolerance?: [bigint | undefined, bigint | undefined];
  resolution?: string;
  settlementReceiptId?: string;
  onlyInRecord?: Item[];
  onlyInTheirs?: string[];
  amountMismatch?: Item[];
  pending?: Item[];
  counts?: Record<string, bigint>;
  limit?: bigint; // v2: items kept per list
  bundles?: Bundle[];
  problems: string[];
}

const bounded = (p: Pack): boolean => p.version === EVIDENCE_V2;

class PackReader {
  constructor(readonly problems: string[]) {}
  fail(path: string, why: string): void {
    this.problems.push(`${path}: ${why}`);
  }
  value(obj: JsonObject, key: string, path: string): [boolean, JsonValue | undefined] {
    if (!Object.prototype.hasOwnProperty.call(obj, key)) {
      this.fail(path, "missing");
      return [false, undefined];
    }
    return [true, obj[key]];
  }
  text(obj: JsonObject, key: string, path: string, nullable = false): string | undefined {
    const [present, value] = this.value(obj, key, path);
    if (!present || (nullable && value === null)) return undefined;
    if (typeof value !== "string") {
      this.fail(path, `expected a string${nullable ? " or null" : ""}, got ${describe(value)}`);
      return undefined;
    }
    return value;
  }
  integer(obj: JsonObject, key: string, path: string, bits?: number, signed = true, nullable = false): bigint | undefined {
    const [present, value] = this.value(obj, key, path);
    if (!present || (nullable && value === null)) return undefined;
    if (!isInt(value)) {
      this.fail(path, `expected a JSON integer${nullable ? " or null" : ""}, got ${describe(value)}`);
      return undefined;
    }
    const b = bits === undefined ? undefined : BigInt(bits);
    const low = b !== undefined && signed ? -(2n ** (b - 1n)) : signed ? undefined : 0n;
    const high = b !== undefined ? (signed ? 2n ** (b - 1n) : 2n ** b) : undefined;
    if ((low !== undefined && value < low) || (high !== undefined && value >= high)) {
      const kind = bits ? `${signed ? "int" : "uint"}${bits}` : "a non-negative integer";
      this.fail(path, `${describe(value)} is outside the range of ${kind}`);
      return undefined;
    }
    return value;
  }
  container(obj: JsonObject, key: string, path: string, kind: "object" | "array"): JsonValue | undefined {
    const [present, value] = this.value(obj, key, path);
    if (!present) return undefined;
    if (kind === "object" ? !isObject(value) : !Array.isArray(value)) {
      this.fail(path, `expected a JSON ${kind}, got ${describe(value)}`);
      return undefined;
    }
    return value;
  }
}

function items(r: PackReader, e: JsonObject, key: string, mismatch = false): Item[] | undefined {
  const array = r.container(e, key, `evidence.${key}`, "array") as JsonValue[] | undefined;
  if (array === undefined) return undefined;
  const out: Item[] = [];
  array.forEach((raw, i) => {
    const where = `${key}[${i}]`;
    const path = `evidence.${where}`;
    if (!isObject(raw)) {
      r.fail(path, `expected a JSON object, got ${describe(raw)}`);
      return;
    }
    const receiptId = r.text(raw, "receiptId", `${path}.receiptId`);
    const referenceId = r.text(raw, "referenceId", `${path}.referenceId`);
    const amountField = mismatch ? "record" : "delta";
    const amount = r.integer(raw, amountField, `${path}.${amountField}`, 256);
    const theirs = mismatch ? r.integer(raw, "theirs", `${path}.theirs`, 256) : undefined;
    const indexed = !mismatch || "customerIndex" in raw;
    const index = indexed ? r.integer(raw, "customerIndex", `${path}.customerIndex`, 64, false) : undefined;
    if (receiptId === undefined || referenceId === undefined || amount === undefined) return;
    if ((mismatch && theirs === undefined) || (indexed && index === undefined)) return;
    out.push({ where, receiptId, referenceId, amount, customerIndex: index, theirs });
  });
  return out.length === array.length ? out : undefined;
}

export function readPack(raw: JsonValue, duplicateKeys: string[] = []): Pack {
  const p: Pack = { problems: [] };
  const r = new PackReader(p.problems);
  for (const key of duplicateKeys) r.fail(key, "duplicate JSON key (the pack is ambiguous)");
  if (!isObject(raw)) {
    r.fail("pack", `expected a JSON object, got ${describe(raw)}`);
    return p;
  }
  p.version = r.text(raw, "version", "version");
  if (p.version !== undefined && !EVIDENCE_VERSIONS.includes(p.version)) r.fail("version", `unknown version '${p.version}' (this verifier knows ${EVIDENCE_VERSIONS.join(", ")})`);
  const c = r.container(raw, "comparison", "comparison", "object") as JsonObject | undefined;
  if (c !== undefined) {
    p.comparisonId = r.text(c, "comparisonId", "comparison.comparisonId");
    p.customerId = r.text(c, "customerId", "comparison.customerId");
    const asOf = r.container(c, "asOf", "comparison.asOf", "object") as JsonObject | undefined;
    if (asOf !== undefined) p.asOfIndex = r.integer(asOf, "customerIndex", "comparison.asOf.customerIndex", 64, false, true);
    p.recordBalance = r.integer(c, "recordBalance", "comparison.recordBalance");
    p.theirBalance = r.integer(c, "theirBalance", "comparison.theirBalance");
    p.variance = r.integer(c, "variance", "comparison.variance");
    const tolerance = r.container(c, "tolerance", "comparison.tolerance", "object") as JsonObject | undefined;
    if (tolerance !== undefined) {
      const before = r.problems.length;
      const absolute = r.integer(tolerance, "absolute", "comparison.tolerance.absolute", undefined, false, true);
      const bp = r.integer(tolerance, "basisPoints", "comparison.tolerance.basisPoints", undefined, false, true);
      if (r.problems.length === before) p.tolerance = [absolute, bp];
    }
    const resolution = r.text(c, "resolution", "comparison.resolution");
    const known = RESOLUTIONS[p.version ?? ""] ?? RESOLUTIONS[EVIDENCE_V1];
    if (resolution !== undefined && !known.includes(resolution)) {
      r.fail("comparison.resolution", `expected one of ${known.join(", ")}, got ${describe(resolution)}`);
    } else if (resolution !== undefined) p.resolution = resolution;
    p.settlementReceiptId = r.text(c, "settlementReceiptId", "comparison.settlementReceiptId", true);
  }
  const e = r.container(raw, "evidence", "evidence", "object") as JsonObject | undefined;
  if (e !== undefined) {
    p.onlyInRecord = items(r, e, "onlyInRecord");
    const theirs = r.container(e, "onlyInTheirs", "evidence.onlyInTheirs", "array") as JsonValue[] | undefined;
    if (theirs !== undefined) {
      theirs.forEach((ref, i) => {
        if (typeof ref !== "string") r.fail(`evidence.onlyInTheirs[${i}]`, `expected a referenceId string, got ${describe(ref)}`);
      });
      p.onlyInTheirs = theirs.every((ref) => typeof ref === "string") ? (theirs as string[]) : undefined;
    }
    p.amountMismatch = items(r, e, "amountMismatch", true);
    p.pending = items(r, e, "pending");
    if (bounded(p)) {
      const limit = r.integer(e, "limit", "evidence.limit", 64, false);
      if (limit !== undefined && limit < 1n) r.fail("evidence.limit", "must be at least 1");
      else p.limit = limit;
    }
    const counts = r.container(e, "counts", "evidence.counts", "object") as JsonObject | undefined;
    if (counts !== undefined) {
      const read = COUNTS.map((key) => [key, r.integer(counts, key, `evidence.counts.${key}`, undefined, false)] as const);
      p.counts = read.every(([, n]) => n !== undefined) ? Object.fromEntries(read as [string, bigint][]) : undefined;
    }
  }
  const bundles = r.container(raw, "bundles", "bundles", "array") as JsonValue[] | undefined;
  if (bundles !== undefined) p.bundles = bundles.map((b) => readBundle(b));
  return p;
}

const disputed = (p: Pack): Item[] | undefined => (p.onlyInRecord && p.amountMismatch ? [...p.onlyInRecord, ...p.amountMismatch] : undefined);

function skipped(inputs: Record<string, unknown>): string | null {
  const missing = Object.entries(inputs).filter(([, v]) => v === undefined).map(([k]) => k);
  return missing.length ? `skipped: ${missing.join(", ")} missing or malformed (see format)` : null;
}

function joined(problems: string[]): string {
  const more = problems.length > SHOWN ? ` (and ${problems.length - SHOWN} more)` : "";
  return `${problems.length} problem(s): ${problems.slice(0, SHOWN).join("; ")}${more}`;
}

const abs = (n: bigint): bigint => (n < 0n ? -n : n);

export function withinTolerance(variance: bigint, record: bigint, absolute: bigint | undefined, bp: bigint | undefined): boolean {
  if (absolute === undefined && bp === undefined) return variance === 0n;
  if (absolute !== undefined && abs(variance) > absolute) return false;
  return bp === undefined || abs(variance) * 10_000n <= abs(record) * bp;
}

function arithmetic(p: Pack): CheckResult {
  const bad: string[] = [];
  if (p.recordBalance !== undefined && p.theirBalance !== undefined && p.variance !== undefined) {
    const want = p.theirBalance - p.recordBalance;
    if (p.variance !== want) bad.push(`variance is ${p.variance}, theirBalance − recordBalance is ${p.theirBalance} − ${p.recordBalance} = ${want}`);
  }
  const lists: Record<string, unknown[] | undefined> = { onlyInRecord: p.onlyInRecord, onlyInTheirs: p.onlyInTheirs, amountMismatch: p.amountMismatch, pending: p.pending };
  if (p.counts && (p.limit !== undefined || !bounded(p))) {
    for (const [key, list] of Object.entries(lists)) {
      const count = p.counts[key];
      const want = p.limit === undefined || count < p.limit ? count : p.limit;
      const cut = p.limit === undefined ? "" : ` (limit ${p.limit}: it must hold ${want})`;
      if (list !== undefined && want !== BigInt(list.length)) bad.push(`counts.${key} is ${count}, the list holds ${list.length}${cut}`);
    }
  }
  const bounds = bounded(p) ? { limit: p.limit } : {};
  const skip = skipped({ recordBalance: p.recordBalance, theirBalance: p.theirBalance, variance: p.variance, counts: p.counts, ...bounds, ...lists });
  if (bad.length || skip) return check("arithmetic", false, [...bad, ...(skip ? [skip] : [])].join("; "));
  return check("arithmetic", true, `variance ${p.variance} = ${p.theirBalance} − ${p.recordBalance}; counts match the lists`);
}

function coverage(p: Pack): CheckResult {
  const d = disputed(p);
  const skip = skipped({ onlyInRecord: p.onlyInRecord, amountMismatch: p.amountMismatch, bundles: p.bundles });
  if (skip || !d || !p.bundles) return check("coverage", false, skip ?? "");
  const named = new Map<string, string[]>();
  for (const item of d) named.set(item.receiptId, [...(named.get(item.receiptId) ?? []), item.where]);
  const held = new Map<string, number[]>();
  const bad: string[] = [];
  p.bundles.forEach((b, i) => {
    if (b.receiptId === undefined) bad.push(`bundles[${i}] has no readable receiptId`);
    else held.set(b.receiptId, [...(held.get(b.receiptId) ?? []), i]);
  });
  for (const [receiptId, wheres] of named) {
    const at = held.get(receiptId) ?? [];
    if (wheres.length > 1) bad.push(`${receiptId} is named ${wheres.length} times (${wheres.join(", ")})`);
    if (!at.length) bad.push(`no bundle for ${receiptId} (${wheres[0]})`);
    else if (at.length > 1) bad.push(`${at.length} bundles for ${receiptId} (${at.map((i) => `bundles[${i}]`).join(", ")})`);
  }
  for (const [receiptId, at] of held) {
    if (!named.has(receiptId)) bad.push(`bundles[${at[0]}] (${receiptId}) is for no receipt of onlyInRecord or amountMismatch`);
  }
  if (bad.length) return check("coverage", false, joined(bad));
  return check("coverage", true, `${p.bundles.length} bundle(s): one for each receipt of onlyInRecord and amountMismatch, none other`);
}

function itemProblems(p: Pack, item: Item, m: Message): string[] {
  const bad: string[] = [];
  if (m.referenceId !== item.referenceId) bad.push(`referenceId ${describe(item.referenceId)}, bundle's ${describe(m.referenceId)}`);
  if (m.delta !== item.amount) bad.push(`${item.theirs !== undefined ? "record" : "delta"} ${item.amount}, bundle's delta ${m.delta}`);
  if (item.customerIndex !== undefined && m.customerIndex !== item.customerIndex) bad.push(`customerIndex ${item.customerIndex}, bundle's ${m.customerIndex}`);
  if (p.customerId !== undefined && m.customerId !== p.customerId) bad.push(`bundle's customerId ${describe(m.customerId)}, the comparison's ${describe(p.customerId)}`);
  if (p.asOfIndex !== undefined && m.customerIndex > p.asOfIndex) bad.push(`customerIndex ${m.customerIndex} is after asOf.customerIndex ${p.asOfIndex}`);
  if (item.theirs !== undefined && item.theirs === item.amount) bad.push(`theirs equals record (${item.amount}): not a mismatch`);
  return bad;
}

function itemsCheck(p: Pack): CheckResult {
  const d = disputed(p);
  const skip = skipped({ customerId: p.customerId, onlyInRecord: p.onlyInRecord, amountMismatch: p.amountMismatch, bundles: p.bundles });
  if (skip || !d || !p.bundles) return check("items", false, skip ?? "");
  const byReceipt = new Map<string, Bundle>();
  for (const b of p.bundles) if (b.receiptId !== undefined && !byReceipt.has(b.receiptId)) byReceipt.set(b.receiptId, b);
  const bad: string[] = [];
  let agreed = 0;
  let unbundled = 0;
  for (const item of d) {
    const b = byReceipt.get(item.receiptId);
    if (b === undefined) unbundled++;
    else if (b.message === undefined) bad.push(`${item.where} (${item.receiptId}): the bundle's typedData.message is unreadable (see bundles)`);
    else {
      const problems = itemProblems(p, item, b.message);
      if (problems.length) bad.push(`${item.where} (${item.receiptId}): ${problems.join("; ")}`);
      else agreed++;
    }
  }
  if (bad.length) return check("items", false, joined(bad));
  const without = unbundled ? `; ${unbundled} without a bundle (see coverage)` : "";
  return check("items", true, `${agreed} disputed item(s) agree with their bundles${without}`);
}

export interface BundleFailure {
  bundle: number;
  receiptId: string | null;
  customerIndex: bigint | null;
  check: string;
  detail: string;
}

async function bundlesCheck(p: Pack, checker: ExportChecker, failures: BundleFailure[], counter: { n: number }): Promise<CheckResult> {
  if (!p.bundles) return check("bundles", false, skipped({ bundles: undefined }) ?? "");
  const failed: string[] = [];
  for (const [i, b] of p.bundles.entries()) {
    const fails = (await checker.bundleChecks(b)).filter((r) => !r.ok);
    if (!fails.length) continue;
    failed.push(`${b.receiptId ?? `bundles[${i}]`} (${fails.map((r) => r.name).join(", ")})`);
    for (const r of fails) {
      counter.n++;
      if (failures.length < KEPT_FAILURES) failures.push({ bundle: i, receiptId: b.receiptId ?? null, customerIndex: bundleIndex(b) ?? null, check: r.name, detail: r.detail });
    }
  }
  if (failed.length) {
    const more = failed.length > SHOWN ? ` (and ${failed.length - SHOWN} more)` : "";
    return check("bundles", false, `${failed.length} of ${p.bundles.length} bundle(s) failed: ${failed.slice(0, SHOWN).join("; ")}${more}`);
  }
  if (!p.bundles.length) return check("bundles", true, "no bundles: no record item is in dispute");
  return check("bundles", true, `all ${p.bundles.length} bundle(s) pass section 4's 14 checks, offline and on chain`);
}

function resolution(p: Pack): CheckResult {
  const skip = skipped({
    resolution: p.resolution,
    variance: p.variance,
    recordBalance: p.recordBalance,
    tolerance: p.tolerance,
    onlyInTheirs: p.onlyInTheirs,
    amountMismatch: p.amountMismatch,
  });
  if (skip || p.variance === undefined || p.recordBalance === undefined || !p.tolerance) return check("resolution", false, skip ?? "");
  const [absolute, bp] = p.tolerance;
  const within = withinTolerance(p.variance, p.recordBalance, absolute, bp);
  if (p.resolution === "match") {
    // v2 lists are cut: the counts say how many differences there were
    const differences =
      bounded(p) && p.counts
        ? p.counts["onlyInTheirs"] + p.counts["amountMismatch"]
        : BigInt((p.onlyInTheirs?.length ?? 0) + (p.amountMismatch?.length ?? 0));
    if (p.variance !== 0n || differences) {
      return check("resolution", false, `match, but the variance is ${p.variance} with ${differences} difference(s) (a match needs 0 and none)`);
    }
    return check("resolution", true, "match: variance 0, no onlyInTheirs or amountMismatch");
  }
  if (p.resolution === "within_tolerance" && p.settlementReceiptId !== undefined) {
    return check("resolution", false, `within_tolerance names settlement receipt ${p.settlementReceiptId}: a within_tolerance comparison settles nothing`);
  }
  const where = within ? "within" : "beyond";
  if (within !== (p.resolution === "auto_settled" || p.resolution === "within_tolerance")) {
    return check("resolution", false, `${p.resolution}, but the variance ${p.variance} is ${where} the tolerance`);
  }
  return check("resolution", true, `${p.resolution}: variance ${p.variance} is ${where} the tolerance`);
}

export interface EvidenceOutcome {
  results: CheckResult[];
  failures: BundleFailure[];
  failureCount: number;
}

export async function runEvidenceChecks(p: Pack, chain: ChainSource, pinned: Hex | undefined, required: bigint): Promise<EvidenceOutcome> {
  const checker = new ExportChecker(chain, pinned, required);
  const failures: BundleFailure[] = [];
  const counter = { n: 0 };
  const format = p.problems.length
    ? check("format", false, joined(p.problems))
    : check("format", true, `${p.version} pack for ${p.comparisonId}; all fields present and well-typed`);
  const results = [format, arithmetic(p), coverage(p), itemsCheck(p), await bundlesCheck(p, checker, failures, counter), resolution(p)];
  return { results, failures, failureCount: counter.n };
}

export const packContract = (p: Pack): Hex | undefined => p.bundles?.find((b) => b.contract !== undefined)?.contract;

export function packJson(p: Pack) {
  const text = (v: bigint | undefined) => (v === undefined ? null : v.toString());
  const [absolute, bp] = p.tolerance ?? [undefined, undefined];
  return {
    comparisonId: p.comparisonId ?? null,
    customerId: p.customerId ?? null,
    asOfCustomerIndex: p.asOfIndex ?? null,
    recordBalance: text(p.recordBalance),
    theirBalance: text(p.theirBalance),
    variance: text(p.variance),
    tolerance: { absolute: text(absolute), basisPoints: bp ?? null },
    resolution: p.resolution ?? null,
    settlementReceiptId: p.settlementReceiptId ?? null,
    counts: p.counts ?? null,
    limit: p.limit ?? null,
    bundles: p.bundles === undefined ? null : p.bundles.length,
  };
}
