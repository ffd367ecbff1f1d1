/**
 * A proof bundle (section 4) read into typed fields, and the problems the `format` check reports.
 * Reading never throws: a missing or malformed field stays undefined and its problem is recorded, so
 * every check can still run and say what it skipped.
 */

import type { Hex } from "viem";

import { isObject, type JsonObject, type JsonValue } from "../json.js";
import { byBundleVersion, DELTA_FIELDS, describe, hasLoneSurrogate, isInt, VERSIONS, type Version } from "./protocol.js";

export interface Message {
  tenant: string;
  customerId: string;
  delta: bigint;
  reason: string;
  referenceId: string;
  metadataHash: Hex;
  customerIndex: bigint;
  prevFingerprint: Hex;
  corrects: Hex;
  recordedAt: bigint;
  salt: Hex;
}

export interface Bundle {
  raw: JsonValue;
  version?: string;
  protocol?: Version;
  receiptId?: string;
  chainId?: bigint;
  contract?: Hex;
  typedData?: JsonObject;
  message?: Message;
  metadataHash?: Hex;
  metadata?: string | null;
  metadataOk: boolean;
  fingerprint?: Hex;
  signature?: Hex;
  signer?: Hex;
  logIndex?: bigint;
  leaf?: Hex;
  proof?: Hex[];
  batchId?: bigint;
  root?: Hex;
  startIndex?: bigint;
  count?: bigint;
  txHash?: Hex;
  blockNumber?: bigint;
  blockHash?: Hex;
  problems: string[];
}

const SIGNED = /^-?(0|[1-9][0-9]*)$/;
const UNSIGNED = /^(0|[1-9][0-9]*)$/;

const HEX_PATTERNS = new Map<number, [RegExp, RegExp]>();
function hexPatterns(size: number): [RegExp, RegExp] {
  let patterns = HEX_PATTERNS.get(size);
  if (patterns === undefined) {
    patterns = [new RegExp(`^0x[0-9a-f]{${2 * size}}$`), new RegExp(`^0x[0-9a-fA-F]{${2 * size}}$`)];
    HEX_PATTERNS.set(size, patterns);
  }
  return patterns;
}

export class Reader {
  constructor(readonly problems: string[] = []) {}

  fail(path: string, why: string): void {
    this.problems.push(`${path}: ${why}`);
  }

  get(obj: JsonObject, key: string, path: string): [boolean, JsonValue | undefined] {
    if (!Object.prototype.hasOwnProperty.call(obj, key)) {
      this.fail(path, "missing");
      return [false, undefined];
    }
    return [true, obj[key]];
  }

  hex(obj: JsonObject, key: string, path: string, size: number): Hex | undefined {
    const [present, value] = this.get(obj, key, path);
    return present ? this.hexValue(value, path, size) : undefined;
  }

  hexValue(value: JsonValue | undefined, path: string, size: number): Hex | undefined {
    const [lower, anyCase] = hexPatterns(size);
    if (typeof value === "string" && lower.test(value)) return value as Hex;
    const want = `0x + ${2 * size} lowercase hex digits (${size} bytes)`;
    if (typeof value === "string" && anyCase.test(value)) {
      this.fail(path, `must be lowercase hex, got ${value}`);
    } else {
      this.fail(path, `expected ${want}, got ${describe(value)}`);
    }
    return undefined;
  }

  integer(obj: JsonObject, key: string, path: string, bits: number, minimum = 0n): bigint | undefined {
    const [present, value] = this.get(obj, key, path);
    if (!present) return undefined;
    if (!isInt(value)) {
      this.fail(path, `expected a JSON integer, got ${describe(value)}`);
      return undefined;
    }
    if (!(value >= minimum && value < 2n ** BigInt(bits))) {
      this.fail(path, `${value} is outside [${minimum}, 2^${bits})`);
      return undefined;
    }
    return value;
  }

  text(obj: JsonObject, key: string, path: string): string | undefined {
    const [present, value] = this.get(obj, key, path);
    return present ? this.textValue(value, path) : undefined;
  }

  textValue(value: JsonValue | undefined, path: string): string | undefined {
    if (typeof value !== "string") {
      this.fail(path, `expected a string, got ${describe(value)}`);
      return undefined;
    }
    if (hasLoneSurrogate(value)) {
      this.fail(path, "is not valid UTF-8 (lone surrogate)");
      return undefined;
    }
    return value;
  }

  decimal(obj: JsonObject, key: string, path: string, signed: boolean, bits: number): bigint | undefined {
    const [present, value] = this.get(obj, key, path);
    if (!present) return undefined;
    if (typeof value !== "string" || !(signed ? SIGNED : UNSIGNED).test(value) || value === "-0") {
      this.fail(path, `expected a decimal string (section 1), got ${describe(value)}`);
      return undefined;
    }
    const b = BigInt(bits);
    const [low, high] = signed ? [-(2n ** (b - 1n)), 2n ** (b - 1n)] : [0n, 2n ** b];
    const n = value.length <= high.toString().length + 1 ? BigInt(value) : undefined;
    if (n === undefined || !(n >= low && n < high)) {
      this.fail(path, `${describe(value)} is outside the range of ${signed ? "int" : "uint"}${bits}`);
      return undefined;
    }
    return n;
  }

  obj(parent: JsonObject, key: string, path: string): JsonObject | undefined {
    const [present, value] = this.get(parent, key, path);
    if (!present) return undefined;
    if (!isObject(value)) {
      this.fail(path, `expected a JSON object, got ${describe(value)}`);
      return undefined;
    }
    return value;
  }
}

function readMessage(r: Reader, b: Bundle, m: JsonObject): void {
  const allowed = new Set(DELTA_FIELDS.map((f) => f.name));
  const extra = Object.keys(m).filter((k) => !allowed.has(k)).sort();
  if (extra.length) r.fail("typedData.message", `unexpected fields ${describe(extra)} (not part of the Delta type)`);
  const p = "typedData.message.";
  const tenant = r.text(m, "tenant", p + "tenant");
  const customerId = r.text(m, "customerId", p + "customerId");
  const delta = r.decimal(m, "delta", p + "delta", true, 256);
  const reason = r.text(m, "reason", p + "reason");
  const referenceId = r.text(m, "referenceId", p + "referenceId");
  b.metadataHash = r.hex(m, "metadataHash", p + "metadataHash", 32);
  const customerIndex = r.decimal(m, "customerIndex", p + "customerIndex", false, 64);
  const prevFingerprint = r.hex(m, "prevFingerprint", p + "prevFingerprint", 32);
  const corrects = r.hex(m, "corrects", p + "corrects", 32);
  const recordedAt = r.decimal(m, "recordedAt", p + "recordedAt", false, 64);
  const salt = r.hex(m, "salt", p + "salt", 32);
  const metadataHash = b.metadataHash;
  if (
    tenant === undefined || customerId === undefined || delta === undefined || reason === undefined ||
    referenceId === undefined || metadataHash === undefined || customerIndex === undefined ||
    prevFingerprint === undefined || corrects === undefined || recordedAt === undefined || salt === undefined ||
    extra.length
  ) {
    return;
  }
  b.message = { tenant, customerId, delta, reason, referenceId, metadataHash, customerIndex, prevFingerprint, corrects, recordedAt, salt };
}

function readTypedData(r: Reader, b: Bundle, raw: JsonObject): void {
  const typed = r.obj(raw, "typedData", "typedData");
  if (typed === undefined) return;
  const types = r.obj(typed, "types", "typedData.types");
  const domain = r.obj(typed, "domain", "typedData.domain");
  const message = r.obj(typed, "message", "typedData.message");
  const primary = r.text(typed, "primaryType", "typedData.primaryType");
  if (message !== undefined) readMessage(r, b, message);
  if (types !== undefined && domain !== undefined && message !== undefined && primary !== undefined) b.typedData = typed;
}

function readBatch(r: Reader, b: Bundle, raw: JsonObject): void {
  const batch = r.obj(raw, "batch", "batch");
  if (batch === undefined) return;
  b.batchId = r.integer(batch, "id", "batch.id", 64);
  b.root = r.hex(batch, "root", "batch.root", 32);
  b.startIndex = r.integer(batch, "startIndex", "batch.startIndex", 64);
  b.count = r.integer(batch, "count", "batch.count", 32);
  b.txHash = r.hex(batch, "txHash", "batch.txHash", 32);
  b.blockNumber = r.integer(batch, "blockNumber", "batch.blockNumber", 256);
  b.blockHash = r.hex(batch, "blockHash", "batch.blockHash", 32);
}

/** Read a decoded bundle; every problem is recorded, none thrown. */
export function readBundle(raw: JsonValue, duplicateKeys: string[] = []): Bundle {
  const b: Bundle = { raw, metadataOk: false, problems: [] };
  const r = new Reader(b.problems);
  for (const key of duplicateKeys) r.fail(key, "duplicate JSON key (the bundle is ambiguous)");
  if (!isObject(raw)) {
    r.fail("bundle", `expected a JSON object, got ${describe(raw)}`);
    return b;
  }
  const version = r.text(raw, "version", "version");
  if (version !== undefined && byBundleVersion(version) === undefined) {
    const known = VERSIONS.map((v) => `'${v.bundleVersion}'`).join(", ");
    r.fail("version", `unknown version '${version}' (this verifier knows ${known})`);
  }
  b.version = version;
  b.protocol = version === undefined ? undefined : byBundleVersion(version);
  b.receiptId = r.text(raw, "receiptId", "receiptId");
  b.chainId = r.integer(raw, "chainId", "chainId", 256, 1n);
  b.contract = r.hex(raw, "contract", "contract", 20);
  readTypedData(r, b, raw);
  const [hasMetadata, metadata] = r.get(raw, "metadata", "metadata");
  if (hasMetadata) {
    if (metadata === null) {
      b.metadata = null;
      b.metadataOk = true;
    } else {
      const text = r.textValue(metadata, "metadata");
      if (text !== undefined) {
        b.metadata = text;
        b.metadataOk = true;
      }
    }
  }
  b.fingerprint = r.hex(raw, "fingerprint", "fingerprint", 32);
  b.signature = r.hex(raw, "signature", "signature", 65);
  b.signer = r.hex(raw, "signer", "signer", 20);
  b.logIndex = r.integer(raw, "logIndex", "logIndex", 64);
  b.leaf = r.hex(raw, "leaf", "leaf", 32);
  const [hasProof, proof] = r.get(raw, "proof", "proof");
  if (hasProof) {
    if (!Array.isArray(proof)) {
      r.fail("proof", `expected a JSON array of 32-byte hex strings, got ${describe(proof)}`);
    } else {
      const items = proof.map((item, i) => r.hexValue(item, `proof[${i}]`, 32));
      if (items.every((x) => x !== undefined)) b.proof = items as Hex[];
    }
  }
  readBatch(r, b, raw);
  return b;
}

/** The bundle's customerIndex, also when its message did not read as a whole. */
export function bundleIndex(b: Bundle): bigint | undefined {
  if (b.message !== undefined) return b.message.customerIndex;
  const raw = b.raw;
  if (!isObject(raw) || !isObject(raw["typedData"])) return undefined;
  const message = raw["typedData"]["message"];
  if (!isObject(message)) return undefined;
  const value = message["customerIndex"];
  return typeof value === "string" && /^(0|[1-9][0-9]{0,19})$/.test(value) ? BigInt(value) : undefined;
}
