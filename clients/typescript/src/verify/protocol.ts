/**
 * What docs/PROTOCOL.md fixes, written from that document: versions, type strings, the domain, the
 * leaf and tree (through @openzeppelin/merkle-tree), batch commitments, signature rules (section 1)
 * and canonical JSON of metadata. No I/O here.
 */

import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { concat, encodeAbiParameters, keccak256, recoverAddress, stringToBytes, toHex, type Hex } from "viem";

import { isObject, stringifyJson, type JsonValue } from "../json.js";

/** One protocol version ("Protocol versions" in docs/PROTOCOL.md). Only ever added to. */
export interface Version {
  number: number;
  bundleVersion: string;
  domainVersion: string;
  tokenByte: number;
  /** v1: the signer must be an anchorer now; v2: the signer's window must cover the log index. */
  signerWindow: boolean;
}

export const VERSIONS: readonly Version[] = [
  { number: 1, bundleVersion: "pacspace.proof.v1", domainVersion: "1", tokenByte: 0x01, signerWindow: false },
  { number: 2, bundleVersion: "pacspace.proof.v2", domainVersion: "2", tokenByte: 0x02, signerWindow: true },
];
export const V1 = VERSIONS[0]!;
export const byBundleVersion = (v: string): Version | undefined => VERSIONS.find((x) => x.bundleVersion === v);
export const byTokenByte = (b: number): Version | undefined => VERSIONS.find((x) => x.tokenByte === b);

export const DOMAIN_NAME = "PacSpace";
export const DOMAIN_TYPE = "EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)";
export const DELTA_TYPE =
  "Delta(string tenant,string customerId,int256 delta,string reason,string referenceId,bytes32 metadataHash," +
  "uint64 customerIndex,bytes32 prevFingerprint,bytes32 corrects,uint64 recordedAt,bytes32 salt)";
export const CHECKPOINT_TYPE =
  "Checkpoint(string tenant,string customerId,uint64 fromIndex,uint64 toIndex,uint64 count,int256 openingBalance," +
  "int256 net,int256 closingBalance,bytes32 rangeRoot,bytes32 headFingerprint,uint64 createdAt)";

export interface Field {
  name: string;
  type: string;
}

/** The fields of a type string, in order: `Delta(string tenant,...)` -> [{name, type}, ...]. */
function fieldsOf(typeString: string): Field[] {
  const inner = typeString.slice(typeString.indexOf("(") + 1, -1);
  return inner.split(",").map((part) => {
    const [type, name] = part.split(" ") as [string, string];
    return { name, type };
  });
}

export const DOMAIN_FIELDS = fieldsOf(DOMAIN_TYPE);
export const DELTA_FIELDS = fieldsOf(DELTA_TYPE);
export const CHECKPOINT_FIELDS = fieldsOf(CHECKPOINT_TYPE);
export const DELTA_TYPE_HASH = keccak256(stringToBytes(DELTA_TYPE));
export const CHECKPOINT_TYPE_HASH = keccak256(stringToBytes(CHECKPOINT_TYPE));
export const BATCH_ANCHORED_TOPIC = keccak256(stringToBytes("BatchAnchored(uint64,bytes32,uint64,uint32,address)"));
export const ZERO32: Hex = `0x${"00".repeat(32)}`;
export const MAX_SAFE = 2n ** 53n - 1n;
export const SECP256K1_N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
export const LEAF_ENCODING = ["uint256", "bytes32"];

export const CHECK_NAMES = [
  "format",
  "domain",
  "fingerprint",
  "metadata",
  "signature",
  "leaf",
  "proof",
  "range",
  "chain_id",
  "anchorer",
  "commitment",
  "transaction",
  "block",
  "confirmations",
] as const;

export interface CheckResult {
  name: string;
  ok: boolean;
  detail: string;
}

export const check = (name: string, ok: boolean, detail: string): CheckResult => ({ name, ok, detail });

/** A value shown in a detail, cut to 80 characters. */
export function describe(value: unknown): string {
  let text: string;
  try {
    text = value === undefined ? "undefined" : stringifyJson(value);
  } catch {
    text = String(value);
  }
  return text.length <= 80 ? text : text.slice(0, 77) + "...";
}

export const isInt = (value: unknown): value is bigint => typeof value === "bigint";

const word = (n: bigint): Hex => toHex(n, { size: 32 });

/** `keccak256(keccak256(abi.encode(uint256 logIndex, bytes32 fingerprint)))`: the OpenZeppelin leaf. */
export function leafHash(logIndex: bigint, fingerprint: Hex): Hex {
  return keccak256(keccak256(encodeAbiParameters([{ type: "uint256" }, { type: "bytes32" }], [logIndex, fingerprint])));
}

/** Does `proof` lead from the leaf of (logIndex, fingerprint) to `root`? (OpenZeppelin's own check.) */
export function proofHolds(root: Hex, logIndex: bigint, fingerprint: Hex, proof: Hex[]): boolean {
  return StandardMerkleTree.verify(root, LEAF_ENCODING, [logIndex.toString(), fingerprint], proof);
}

/** The root a proof folds to from the leaf (sorted-pair keccak256), for the detail of a failed proof. */
export function foldProof(logIndex: bigint, fingerprint: Hex, proof: Hex[]): Hex {
  let node = leafHash(logIndex, fingerprint);
  for (const sibling of proof) {
    node = node.toLowerCase() <= sibling.toLowerCase() ? keccak256(concat([node, sibling])) : keccak256(concat([sibling, node]));
  }
  return node;
}

/** Root of `StandardMerkleTree.of(values, ["uint256", "bytes32"])` (section 2). */
export function standardTreeRoot(values: [bigint, Hex][]): Hex {
  return StandardMerkleTree.of(
    values.map(([index, fp]) => [index.toString(), fp]),
    LEAF_ENCODING,
  ).root as Hex;
}

/** Proof lengths possible for a leaf of a StandardMerkleTree of `count` leaves. */
export function proofLengthBounds(count: bigint): [number, number] {
  return [count.toString(2).length - 1, (2n * count - 1n).toString(2).length - 1];
}

/** `keccak256(abi.encode(root, uint256(count)))` (section 3). */
export function batchCommitment(root: Hex, count: bigint): Hex {
  return keccak256(concat([root, word(count)]));
}

/** The EIP-712 domain separator of `{name: "PacSpace", version, chainId, verifyingContract}`. */
export function domainSeparator(chainId: bigint, contract: Hex, version: string): Hex {
  return keccak256(
    concat([
      keccak256(stringToBytes(DOMAIN_TYPE)),
      keccak256(stringToBytes(DOMAIN_NAME)),
      keccak256(stringToBytes(version)),
      word(chainId),
      word(BigInt(contract)),
    ]),
  );
}

export const int256Word = (n: bigint): Hex => word(BigInt.asUintN(256, n));
export const stringHash = (s: string): Hex => keccak256(stringToBytes(s));
export { word };

/** Why a 65-byte `r ‖ s ‖ v` signature breaks section 1's rules, or null. */
export function signatureProblem(signature: Hex, lowS = true): string | null {
  const bytes = (signature.length - 2) / 2;
  if (bytes !== 65) return `signature is ${bytes} bytes, expected 65 (r ‖ s ‖ v)`;
  const r = BigInt("0x" + signature.slice(2, 66));
  const s = BigInt("0x" + signature.slice(66, 130));
  const v = parseInt(signature.slice(130, 132), 16);
  if (v !== 27 && v !== 28) return `v is ${v}, expected 27 or 28`;
  if (!(r > 0n && r < SECP256K1_N)) return "r is out of range";
  if (!(s > 0n && s < SECP256K1_N)) return "s is out of range";
  if (lowS && s > SECP256K1_N / 2n) return "s is not in the lower half of the curve order";
  return null;
}

/** ecrecover of a digest, lowercase address. */
export async function recoverSigner(digest: Hex, signature: Hex): Promise<Hex> {
  return (await recoverAddress({ hash: digest, signature })).toLowerCase() as Hex;
}

// --- canonical JSON of metadata (section 1) ---------------------------------------------------

const SHORT: Record<string, string> = { "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\" };

function canonicalString(text: string): string {
  let out = '"';
  for (const ch of text) {
    const code = ch.codePointAt(0)!;
    if (ch in SHORT) out += SHORT[ch];
    else if (code < 0x20) out += "\\u" + code.toString(16).padStart(4, "0");
    else out += ch;
  }
  return out + '"';
}

/** UTF-16 code unit order of member names (JavaScript's own string order). */
const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** Canonical JSON text of parsed metadata; throws naming what is not allowed. */
export function canonicalJson(value: JsonValue): string {
  if (value === null) return "null";
  if (value === true) return "true";
  if (value === false) return "false";
  if (typeof value === "bigint") {
    if (value > MAX_SAFE || value < -MAX_SAFE) throw new Error(`integer ${value} is beyond ±(2^53-1)`);
    return value.toString();
  }
  if (typeof value === "number") throw new Error(`float ${value} is not allowed (integers only)`);
  if (typeof value === "string") return canonicalString(value);
  if (Array.isArray(value)) return "[" + value.map(canonicalJson).join(",") + "]";
  if (isObject(value)) {
    const keys = Object.keys(value).sort(byCodeUnits);
    return "{" + keys.map((k) => `${canonicalString(k)}:${canonicalJson(value[k]!)}`).join(",") + "}";
  }
  throw new Error("value not allowed in metadata");
}

/** Does a string hold a lone surrogate (not valid UTF-8 when encoded)? */
export function hasLoneSurrogate(text: string): boolean {
  return /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(text);
}
