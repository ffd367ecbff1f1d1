/**
 * Section 4's offline checks: format, domain, fingerprint, metadata, signature, leaf, proof, range.
 * Each takes the read bundle and returns a result; a check whose inputs did not read fails with the reason.
 */

import { concat, hashTypedData, keccak256, stringToBytes, type Hex, type TypedDataDefinition } from "viem";

import { isObject, parseJson, type JsonObject, type JsonValue } from "../json.js";
import type { Bundle, Message } from "./bundle.js";
import {
  canonicalJson,
  check,
  DELTA_FIELDS,
  DELTA_TYPE,
  DELTA_TYPE_HASH,
  describe,
  DOMAIN_FIELDS,
  DOMAIN_NAME,
  DOMAIN_TYPE,
  domainSeparator,
  foldProof,
  int256Word,
  isInt,
  leafHash,
  proofHolds,
  proofLengthBounds,
  recoverSigner,
  signatureProblem,
  stringHash,
  V1,
  word,
  ZERO32,
  type CheckResult,
  type Field,
} from "./protocol.js";

/** Why a check is skipped when any of its inputs did not read, else null. */
export function needs(fields: Record<string, unknown>): string | null {
  const missing = Object.entries(fields).filter(([, v]) => v === undefined).map(([k]) => k);
  return missing.length ? `skipped: ${missing.join(", ")} missing or malformed (see format)` : null;
}

const versionOf = (b: Bundle) => b.protocol ?? V1;

export function checkFormat(b: Bundle): CheckResult {
  if (b.problems.length) {
    const more = b.problems.length > 6 ? ` (and ${b.problems.length - 6} more)` : "";
    return check("format", false, `${b.problems.length} problem(s): ${b.problems.slice(0, 6).join("; ")}${more}`);
  }
  return check("format", true, `${b.version} bundle for ${b.receiptId}; all fields present and well-typed`);
}

function sameFields(value: JsonValue | undefined, want: Field[]): boolean {
  return (
    Array.isArray(value) &&
    value.length === want.length &&
    value.every((f, i) => isObject(f) && Object.keys(f).length === 2 && f["name"] === want[i]!.name && f["type"] === want[i]!.type)
  );
}

function domainProblems(b: Bundle, typed: JsonObject, pinned: Hex | undefined): string[] {
  const bad: string[] = [];
  const domain = typed["domain"];
  if (!isObject(domain)) return ["typedData.domain is not an object"];
  const keys = Object.keys(domain).sort();
  const wantKeys = ["chainId", "name", "verifyingContract", "version"];
  if (keys.join(",") !== wantKeys.join(",")) bad.push(`domain fields ${describe(keys)}, expected ${describe(wantKeys)}`);
  if (domain["name"] !== DOMAIN_NAME) bad.push(`name: expected '${DOMAIN_NAME}', got ${describe(domain["name"])}`);
  const wantVersion = versionOf(b).domainVersion;
  if (domain["version"] !== wantVersion) bad.push(`version: expected '${wantVersion}', got ${describe(domain["version"])}`);
  const chain = domain["chainId"];
  let chainValue = isInt(chain) ? chain : undefined;
  if (typeof chain === "string" && /^(0|[1-9][0-9]*)$/.test(chain)) chainValue = BigInt(chain);
  if (chainValue === undefined || chainValue !== b.chainId) {
    bad.push(`chainId: expected ${b.chainId} (bundle chainId), got ${describe(chain)}`);
  }
  const contract = domain["verifyingContract"];
  if (typeof contract !== "string" || contract.toLowerCase() !== b.contract) {
    bad.push(`verifyingContract: expected ${b.contract} (bundle contract), got ${describe(contract)}`);
  }
  if (pinned !== undefined && b.contract !== undefined && b.contract !== pinned) {
    bad.push(`bundle contract ${b.contract} is not the pinned contract ${pinned}`);
  }
  if (typed["primaryType"] !== "Delta") bad.push(`primaryType: expected 'Delta', got ${describe(typed["primaryType"])}`);
  const types = typed["types"];
  if (!isObject(types)) return [...bad, "typedData.types is not an object"];
  const extra = Object.keys(types).filter((k) => k !== "Delta" && k !== "EIP712Domain").sort();
  if (extra.length) bad.push(`types: unexpected types ${describe(extra)}`);
  if (!sameFields(types["Delta"], DELTA_FIELDS)) bad.push(`types.Delta is not the protocol's ${DELTA_TYPE}`);
  if ("EIP712Domain" in types && !sameFields(types["EIP712Domain"], DOMAIN_FIELDS)) {
    bad.push(`types.EIP712Domain is not ${DOMAIN_TYPE}`);
  }
  return bad;
}

export function checkDomain(b: Bundle, pinned?: Hex): CheckResult {
  const skip = needs({ typedData: b.typedData, chainId: b.chainId, contract: b.contract });
  if (skip || b.typedData === undefined) return check("domain", false, skip ?? "");
  const bad = domainProblems(b, b.typedData, pinned);
  if (bad.length) return check("domain", false, bad.join("; "));
  return check("domain", true, `PacSpace v${versionOf(b).number} on chain ${b.chainId} at ${b.contract}, primaryType Delta, types as in the protocol`);
}

/** The digest by section 1's formulas, from the read message (independent of the typed data JSON). */
export function manualDigest(chainId: bigint, contract: Hex, m: Message, domainVersion: string): Hex {
  const structHash = keccak256(
    concat([
      DELTA_TYPE_HASH,
      stringHash(m.tenant),
      stringHash(m.customerId),
      int256Word(m.delta),
      stringHash(m.reason),
      stringHash(m.referenceId),
      m.metadataHash,
      word(m.customerIndex),
      m.prevFingerprint,
      m.corrects,
      word(m.recordedAt),
      m.salt,
    ]),
  );
  return keccak256(concat(["0x1901", domainSeparator(chainId, contract, domainVersion), structHash]));
}

/** viem's EIP-712 digest of typed data JSON: integers given as decimal strings become bigints first. */
export function libraryDigest(typed: JsonObject): Hex {
  const types = typed["types"] as Record<string, { name: string; type: string }[]>;
  const primaryType = typed["primaryType"] as string;
  const toBig = (fields: { name: string; type: string }[] | undefined, values: JsonValue | undefined): Record<string, unknown> => {
    const out: Record<string, unknown> = { ...(values as JsonObject) };
    for (const f of fields ?? []) {
      const v = out[f.name];
      if (/^u?int\d*$/.test(f.type) && (typeof v === "string" || typeof v === "number")) out[f.name] = BigInt(v);
    }
    return out;
  };
  const { EIP712Domain: domainFields, ...rest } = types;
  const domain = toBig(domainFields ?? DOMAIN_FIELDS, typed["domain"]);
  const message = toBig(types[primaryType], typed["message"]);
  return hashTypedData({ domain, types: rest, primaryType, message } as unknown as TypedDataDefinition);
}

export function checkFingerprint(b: Bundle, fast = false): CheckResult {
  if (fast) {
    const skip = needs({ message: b.message, chainId: b.chainId, contract: b.contract, fingerprint: b.fingerprint });
    if (skip || !b.message || b.chainId === undefined || !b.contract || !b.fingerprint) return check("fingerprint", false, skip ?? "");
    const digest = manualDigest(b.chainId, b.contract, b.message, versionOf(b).domainVersion);
    if (digest !== b.fingerprint) {
      return check("fingerprint", false, `digest of the message by section 1's formulas is ${digest}, bundle fingerprint is ${b.fingerprint}`);
    }
    return check("fingerprint", true, `${digest} is the EIP-712 digest of the message`);
  }
  const skip = needs({ typedData: b.typedData, fingerprint: b.fingerprint });
  if (skip || !b.typedData || !b.fingerprint) return check("fingerprint", false, skip ?? "");
  let digest: Hex;
  try {
    digest = libraryDigest(b.typedData);
  } catch (error) {
    return check("fingerprint", false, `viem cannot hash typedData: ${(error as Error).message.split("\n")[0]}`);
  }
  if (digest !== b.fingerprint) {
    return check("fingerprint", false, `EIP-712 digest of typedData is ${digest}, bundle fingerprint is ${b.fingerprint}`);
  }
  if (b.message && b.chainId !== undefined && b.contract) {
    const byHand = manualDigest(b.chainId, b.contract, b.message, versionOf(b).domainVersion);
    if (byHand !== b.fingerprint) {
      return check(
        "fingerprint",
        false,
        `digest by section 1's formulas (domain of the bundle's chainId and contract) is ${byHand}, bundle fingerprint is ${b.fingerprint}`,
      );
    }
  }
  return check("fingerprint", true, `${digest} is the EIP-712 digest of typedData`);
}

export function checkMetadata(b: Bundle): CheckResult {
  const skip = needs({ metadata: b.metadataOk ? "ok" : undefined, "message.metadataHash": b.metadataHash });
  if (skip || b.metadataHash === undefined) return check("metadata", false, skip ?? "");
  if (b.metadata === null || b.metadata === undefined) {
    if (b.metadataHash !== ZERO32) {
      return check(
        "metadata",
        false,
        `metadata is null but message.metadataHash is ${b.metadataHash}, expected 32 zero bytes (the bundle withholds the metadata text)`,
      );
    }
    return check("metadata", true, "no metadata; metadataHash is 32 zero bytes");
  }
  const digest = keccak256(stringToBytes(b.metadata));
  if (digest !== b.metadataHash) return check("metadata", false, `keccak256(metadata) is ${digest}, message.metadataHash is ${b.metadataHash}`);
  let canonical: string;
  try {
    const dupes: string[] = [];
    const value = parseJson(b.metadata, { duplicates: dupes });
    if (dupes.length) throw new Error(`duplicate key '${dupes[0]}'`);
    if (!isObject(value)) throw new Error(`metadata must be a JSON object, got ${describe(value)}`);
    canonical = canonicalJson(value);
  } catch (error) {
    return check("metadata", false, `metadata text is not canonical JSON: ${(error as Error).message}`);
  }
  if (canonical !== b.metadata) {
    return check("metadata", false, `metadata text is not canonical: got ${describe(b.metadata)}, canonical form is ${describe(canonical)}`);
  }
  return check("metadata", true, `canonical ${describe(b.metadata)} hashes to message.metadataHash`);
}

export async function checkSignature(b: Bundle): Promise<CheckResult> {
  const skip = needs({ fingerprint: b.fingerprint, signature: b.signature, signer: b.signer });
  if (skip || !b.fingerprint || !b.signature || !b.signer) return check("signature", false, skip ?? "");
  const problem = signatureProblem(b.signature);
  if (problem) return check("signature", false, problem);
  let recovered: Hex;
  try {
    recovered = await recoverSigner(b.fingerprint, b.signature);
  } catch (error) {
    return check("signature", false, `cannot recover a signer: ${(error as Error).message.split("\n")[0]}`);
  }
  if (recovered !== b.signer) return check("signature", false, `signature recovers to ${recovered}, bundle signer is ${b.signer}`);
  return check("signature", true, `signed by ${recovered}`);
}

export function checkLeaf(b: Bundle): CheckResult {
  const skip = needs({ logIndex: b.logIndex, fingerprint: b.fingerprint, leaf: b.leaf });
  if (skip || b.logIndex === undefined || !b.fingerprint || !b.leaf) return check("leaf", false, skip ?? "");
  const want = leafHash(b.logIndex, b.fingerprint);
  if (want !== b.leaf) return check("leaf", false, `leaf of (logIndex ${b.logIndex}, fingerprint) is ${want}, bundle leaf is ${b.leaf}`);
  return check("leaf", true, `${want} for log index ${b.logIndex}`);
}

export function checkProof(b: Bundle): CheckResult {
  const skip = needs({ logIndex: b.logIndex, fingerprint: b.fingerprint, proof: b.proof, "batch.root": b.root });
  if (skip || b.logIndex === undefined || !b.fingerprint || !b.proof || !b.root) return check("proof", false, skip ?? "");
  // From the recomputed leaf: what matters is that this fingerprint is in the batch.
  if (!proofHolds(b.root, b.logIndex, b.fingerprint, b.proof)) {
    const folded = foldProof(b.logIndex, b.fingerprint, b.proof);
    return check("proof", false, `proof of ${b.proof.length} hash(es) folds to ${folded}, batch.root is ${b.root}`);
  }
  if (b.count !== undefined && b.count > 0n) {
    const [low, high] = proofLengthBounds(b.count);
    if (b.proof.length < low || b.proof.length > high) {
      return check(
        "proof",
        false,
        `a proof of ${b.proof.length} hash(es) is impossible in a batch of count ${b.count} (a StandardMerkleTree leaf of ${b.count} has ${low}..${high})`,
      );
    }
  }
  return check("proof", true, `${b.proof.length} hash(es) fold to batch root ${b.root}`);
}

export function checkRange(b: Bundle): CheckResult {
  const skip = needs({ logIndex: b.logIndex, "batch.startIndex": b.startIndex, "batch.count": b.count });
  if (skip || b.logIndex === undefined || b.startIndex === undefined || b.count === undefined) return check("range", false, skip ?? "");
  const end = b.startIndex + b.count;
  if (b.count === 0n) return check("range", false, "batch.count is 0; a batch has at least one entry");
  if (!(b.startIndex <= b.logIndex && b.logIndex < end)) {
    return check("range", false, `logIndex ${b.logIndex} is outside the batch [${b.startIndex}, ${end})`);
  }
  return check("range", true, `log index ${b.logIndex} in [${b.startIndex}, ${end})`);
}

/** Section 4's offline checks. `fast` (exports): the fingerprint by section 1's formulas only. */
export async function runOfflineChecks(b: Bundle, pinned?: Hex, fast = false): Promise<CheckResult[]> {
  return [
    checkFormat(b),
    checkDomain(b, pinned),
    checkFingerprint(b, fast),
    checkMetadata(b),
    await checkSignature(b),
    checkLeaf(b),
    checkProof(b),
    checkRange(b),
  ];
}
