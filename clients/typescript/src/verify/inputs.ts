/**
 * Reading the verifier's inputs: a bundle or pack file, a proofToken, an export a line at a time,
 * and what the customer kept (receipts, checkpoints) for derive's completeness checks. Whatever cannot
 * be read at all throws `UnusableInput`: exit status 2.
 */

import { createReadStream, readFileSync } from "node:fs";
import type { Hex } from "viem";

import { isObject, parseJson, type JsonValue } from "../json.js";
import { bundleIndex, readBundle } from "./bundle.js";
import type { ExportChecker } from "./derive.js";
import { check, describe, type CheckResult } from "./protocol.js";
import { decodeToken, type Token } from "./token.js";

export class UnusableInput extends Error {}

export const BUNDLE_MEMBERS = ["version", "receiptId", "chainId", "contract", "typedData", "metadata", "fingerprint", "signature", "signer", "logIndex", "leaf", "proof", "batch"];
export const PACK_MEMBERS = ["version", "comparison", "evidence", "bundles"];

export function requireShape(data: JsonValue, members: string[], what: string, source: string): void {
  if (!isObject(data)) throw new UnusableInput(`${source} is not ${what} (a JSON object): got ${describe(data)}`);
  if (!members.some((m) => Object.prototype.hasOwnProperty.call(data, m))) {
    throw new UnusableInput(`${source} is not ${what}: it has none of its members (${[...members].sort().join(", ")})`);
  }
}

function readText(source: string): string {
  try {
    const bytes = readFileSync(source === "-" ? 0 : source);
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch (error) {
    throw new UnusableInput(`cannot read ${source}: ${(error as Error).message}`);
  }
}

/** The decoded JSON of a file (`-` = stdin) and its duplicate member names. */
export function loadJson(source: string): [JsonValue, string[]] {
  const text = readText(source);
  const duplicates: string[] = [];
  try {
    return [parseJson(text, { constants: true, duplicates }), duplicates];
  } catch (error) {
    throw new UnusableInput(`${source} is not JSON: ${(error as Error).message}`);
  }
}

/** The proofToken from `0x…` or `@file`. */
export function readToken(argument: string): Hex {
  const text = (argument.startsWith("@") ? readText(argument.slice(1)) : argument).trim();
  if (!/^0x(?:[0-9a-fA-F]{2})+$/.test(text)) throw new UnusableInput(`the token is not 0x-prefixed hex bytes: ${describe(text)}`);
  return text.toLowerCase() as Hex;
}

const ASCII_SPACE = /^[ \t\n\r\x0b\x0c]*$/;

async function* lines(source: string): AsyncGenerator<Buffer> {
  let stream: NodeJS.ReadableStream;
  try {
    stream = source === "-" ? process.stdin : createReadStream(source);
  } catch (error) {
    throw new UnusableInput(`cannot read ${source}: ${(error as Error).message}`);
  }
  let rest = Buffer.alloc(0);
  try {
    for await (const chunk of stream) {
      let buffer = Buffer.concat([rest, chunk as Buffer]);
      let at: number;
      while ((at = buffer.indexOf(0x0a)) >= 0) {
        yield buffer.subarray(0, at + 1);
        buffer = buffer.subarray(at + 1);
      }
      rest = buffer;
    }
  } catch (error) {
    throw new UnusableInput(`cannot read ${source}: ${(error as Error).message}`);
  }
  if (rest.length) yield rest;
}

function decodeLine(raw: Buffer): [JsonValue, string[]] | string {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(raw);
  } catch (error) {
    return `not UTF-8: ${(error as Error).message}`;
  }
  const duplicates: string[] = [];
  let data: JsonValue;
  try {
    data = parseJson(text, { constants: true, duplicates });
  } catch (error) {
    return `not JSON: ${(error as Error).message}`;
  }
  if (!isObject(data)) return `expected a proof bundle (a JSON object), got ${describe(data)}`;
  return [data, duplicates];
}

/**
 * Stream the JSON Lines export through `checker`. `stopAfter`: stop at the first bundle whose
 * customerIndex is beyond it (checkpoints). Throws UnusableInput when the file cannot be read, holds
 * no bundle, or its first line is no bundle at all.
 */
export async function scanExport(source: string, checker: ExportChecker, stopAfter?: bigint): Promise<void> {
  let seenAny = false;
  let lineNo = 0;
  for await (const raw of lines(source)) {
    lineNo++;
    if (ASCII_SPACE.test(raw.toString("latin1"))) continue;
    const decoded = decodeLine(raw);
    if (typeof decoded === "string") {
      if (!seenAny) throw new UnusableInput(`${source} line ${lineNo} is ${decoded}; expected JSON Lines (a bundle a line)`);
      checker.addUnreadable(lineNo, decoded);
    } else {
      if (!seenAny) requireShape(decoded[0], BUNDLE_MEMBERS, "a proof bundle", `${source} line ${lineNo}`);
      const b = readBundle(decoded[0], decoded[1]);
      if (stopAfter !== undefined) {
        const index = bundleIndex(b);
        if (index !== undefined && index > stopAfter) break;
      }
      await checker.add(lineNo, b);
    }
    seenAny = true;
  }
  if (!seenAny) throw new UnusableInput(`${source} holds no bundle`);
}

// --- completeness: what the customer kept (section 6) ------------------------------------------

export interface KeptReceipt {
  receiptId?: string;
  customerIndex: bigint;
  fingerprint: Hex;
  customerId?: string;
}

function keptFields(item: JsonValue, where: string, line: number): KeptReceipt {
  if (!isObject(item)) throw new UnusableInput(`${where} line ${line}: expected a receipt (a JSON object), got ${describe(item)}`);
  if (!("receiptId" in item) && isObject(item["data"])) item = item["data"];
  const obj = item as Record<string, JsonValue>;
  let index: JsonValue | undefined = obj["customerIndex"];
  if ((index === undefined || index === null) && isObject(obj["typedData"])) {
    const message = obj["typedData"]["message"];
    index = isObject(message) ? message["customerIndex"] : undefined;
  }
  if (typeof index === "string" && /^[0-9]+$/.test(index)) index = BigInt(index);
  if (typeof index === "number" && Number.isInteger(index)) index = BigInt(index);
  if (typeof index !== "bigint" || index < 0n) throw new UnusableInput(`${where} line ${line}: no customerIndex in ${describe(obj)}`);
  const fingerprint = obj["fingerprint"];
  if (typeof fingerprint !== "string" || !/^0x[0-9a-fA-F]{64}$/.test(fingerprint)) {
    throw new UnusableInput(`${where} line ${line}: no 32-byte 0x fingerprint in ${describe(obj)}`);
  }
  const receiptId = obj["receiptId"];
  const customerId = obj["customerId"];
  return {
    receiptId: typeof receiptId === "string" ? receiptId : undefined,
    customerIndex: index,
    fingerprint: fingerprint.toLowerCase() as Hex,
    customerId: typeof customerId === "string" ? customerId : undefined,
  };
}

export function readKeptReceipts(source: string): KeptReceipt[] {
  const kept: KeptReceipt[] = [];
  readText(source).split(/\r?\n/).forEach((line, i) => {
    if (!line.trim()) return;
    let data: JsonValue;
    try {
      data = parseJson(line);
    } catch (error) {
      throw new UnusableInput(`${source} line ${i + 1} is not JSON: ${(error as Error).message}`);
    }
    if (isObject(data) && Array.isArray(data["receipts"]) && !("receiptId" in data)) {
      for (const item of data["receipts"]) kept.push(keptFields(item, source, i + 1));
    } else kept.push(keptFields(data, source, i + 1));
  });
  return kept;
}

export function readCheckpoints(argumentsGiven: string[]): Token[] {
  return argumentsGiven.map((argument) => {
    try {
      return decodeToken(readToken(argument));
    } catch (error) {
      throw new UnusableInput(`checkpoint ${describe(argument)} cannot be decoded: ${(error as Error).message}`);
    }
  });
}

/** The export's fingerprints at the customer indexes the kept receipts and checkpoints name. */
export class CompletenessWatch {
  readonly seen = new Map<bigint, Hex | undefined>();
  private readonly wanted: Set<bigint>;

  constructor(
    readonly receipts: KeptReceipt[],
    readonly checkpoints: Token[],
  ) {
    this.wanted = new Set([...receipts.map((r) => r.customerIndex), ...checkpoints.map((c) => c.toIndex)]);
  }

  readonly hook = (index: bigint, _delta: bigint | undefined, fingerprint: Hex | undefined): void => {
    if (this.wanted.has(index)) this.seen.set(index, fingerprint);
  };

  results(checker: ExportChecker): [CheckResult[], Record<string, unknown>[]] {
    const results: CheckResult[] = [];
    const missing: Record<string, unknown>[] = [];
    const ends = checker.headIndex === undefined ? "the export is empty" : `the export ends at customerIndex ${checker.headIndex}`;
    if (this.receipts.length) {
      const problems: string[] = [];
      for (const r of this.receipts) {
        let why: string | null = null;
        if (checker.customer && r.customerId !== undefined && r.customerId !== checker.customer[1]) {
          why = `the receipt is for customer ${describe(r.customerId)}, the export for ${describe(checker.customer[1])}`;
        } else if (!this.seen.has(r.customerIndex)) why = `missing from the export (${ends}); kept fingerprint ${r.fingerprint}`;
        else if (this.seen.get(r.customerIndex) !== r.fingerprint) {
          why = `the export's fingerprint there is ${this.seen.get(r.customerIndex) ?? "none"}, the kept receipt's ${r.fingerprint}`;
        }
        if (why !== null) {
          problems.push(`customerIndex ${r.customerIndex} (${r.receiptId ?? "no receiptId"}): ${why}`);
          missing.push({ check: "kept_receipts", customerIndex: r.customerIndex, receiptId: r.receiptId ?? null, detail: why });
        }
      }
      results.push(summarise("kept_receipts", problems, `all ${this.receipts.length} kept receipt(s) are in it`));
    }
    if (this.checkpoints.length) {
      const problems: string[] = [];
      for (const t of this.checkpoints) {
        let why: string | null = null;
        if (checker.customer && (t.tenant !== checker.customer[0] || t.customerId !== checker.customer[1])) {
          why = `the checkpoint is of ${describe(t.tenant)}/${describe(t.customerId)}, the export of ${describe(checker.customer[0])}/${describe(checker.customer[1])}`;
        } else if (!this.seen.has(t.toIndex)) {
          why = `${ends}, before this ${t.countersignature !== "0x" ? "countersigned " : ""}checkpoint's toIndex ${t.toIndex}`;
        } else if (this.seen.get(t.toIndex) !== t.headFingerprint) {
          why = `the export's fingerprint at ${t.toIndex} is ${this.seen.get(t.toIndex) ?? "none"}, the headFingerprint ${t.headFingerprint}`;
        }
        if (why !== null) {
          problems.push(`checkpoint ${t.fromIndex}..${t.toIndex}: ${why}`);
          missing.push({ check: "checkpoints", customerIndex: t.toIndex, receiptId: null, fromIndex: t.fromIndex, toIndex: t.toIndex, countersigned: t.countersignature !== "0x", detail: why });
        }
      }
      const last = this.checkpoints.reduce((m, t) => (t.toIndex > m ? t.toIndex : m), 0n);
      results.push(summarise("checkpoints", problems, `the export reaches all ${this.checkpoints.length} checkpoint(s) (last toIndex ${last}) with their headFingerprint`));
    }
    return [results, missing];
  }
}

function summarise(name: string, problems: string[], passed: string): CheckResult {
  if (!problems.length) return check(name, true, passed);
  const more = problems.length > 20 ? `; … and ${problems.length - 20} more` : "";
  return check(name, false, `${problems.length} not in the export: ${problems.slice(0, 20).join("; ")}${more}`);
}
