/** A checkpoint's proofToken (section 5): decoding it, and its EIP-712 digest by hand and by viem. */

import { concat, decodeAbiParameters, encodeAbiParameters, hashTypedData, keccak256, type Hex } from "viem";

import {
  byTokenByte,
  CHECKPOINT_FIELDS,
  CHECKPOINT_TYPE_HASH,
  DOMAIN_NAME,
  domainSeparator,
  int256Word,
  stringHash,
  VERSIONS,
  word,
  type Version,
} from "./protocol.js";

export interface Token {
  tenant: string;
  customerId: string;
  fromIndex: bigint;
  toIndex: bigint;
  count: bigint;
  openingBalance: bigint;
  net: bigint;
  closingBalance: bigint;
  rangeRoot: Hex;
  headFingerprint: Hex;
  createdAt: bigint;
  chainId: bigint;
  contract: Hex;
  nodeSignature: Hex;
  countersignature: Hex;
  protocol: Version;
}

const TOKEN_TYPES = [
  ...CHECKPOINT_FIELDS.map((f) => ({ type: f.type })),
  { type: "uint256" }, // chainId
  { type: "address" }, // verifyingContract
  { type: "bytes" }, // nodeSignature
  { type: "bytes" }, // countersignature
];

/** Decode `version byte ‖ abi.encode(15 fields)`; throws naming the problem. */
export function decodeToken(data: Hex): Token {
  if (data === "0x") throw new Error("the token is empty");
  const first = parseInt(data.slice(2, 4), 16);
  const protocol = byTokenByte(first);
  if (protocol === undefined) {
    const known = VERSIONS.map((v) => `0x${v.tokenByte.toString(16).padStart(2, "0")}`).join(", ");
    throw new Error(`token version byte is 0x${first.toString(16).padStart(2, "0")}, this verifier knows ${known}`);
  }
  const body = `0x${data.slice(4)}` as Hex;
  let values: readonly unknown[];
  try {
    values = decodeAbiParameters(TOKEN_TYPES, body);
  } catch (error) {
    throw new Error(`not abi.encode of section 5's 15 fields: ${(error as Error).message.split("\n")[0]}`);
  }
  let again: Hex;
  try {
    again = encodeAbiParameters(TOKEN_TYPES, values);
  } catch (error) {
    throw new Error(`its fields do not encode again: ${(error as Error).message.split("\n")[0]}`);
  }
  if (again.toLowerCase() !== body.toLowerCase()) {
    throw new Error("not the canonical abi.encode of its fields (extra, padded or rearranged bytes)");
  }
  const v = values as [string, string, bigint, bigint, bigint, bigint, bigint, bigint, Hex, Hex, bigint, bigint, Hex, Hex, Hex];
  return {
    tenant: v[0],
    customerId: v[1],
    fromIndex: v[2],
    toIndex: v[3],
    count: v[4],
    openingBalance: v[5],
    net: v[6],
    closingBalance: v[7],
    rangeRoot: v[8].toLowerCase() as Hex,
    headFingerprint: v[9].toLowerCase() as Hex,
    createdAt: v[10],
    chainId: v[11],
    contract: v[12].toLowerCase() as Hex,
    nodeSignature: v[13].toLowerCase() as Hex,
    countersignature: v[14].toLowerCase() as Hex,
    protocol,
  };
}

/** The checkpoint digest by section 5's formulas. */
export function checkpointDigest(t: Token): Hex {
  const structHash = keccak256(
    concat([
      CHECKPOINT_TYPE_HASH,
      stringHash(t.tenant),
      stringHash(t.customerId),
      word(t.fromIndex),
      word(t.toIndex),
      word(t.count),
      int256Word(t.openingBalance),
      int256Word(t.net),
      int256Word(t.closingBalance),
      t.rangeRoot,
      t.headFingerprint,
      word(t.createdAt),
    ]),
  );
  return keccak256(concat(["0x1901", domainSeparator(t.chainId, t.contract, t.protocol.domainVersion), structHash]));
}

/** The checkpoint as EIP-712 typed data (what `eth_signTypedData_v4` signs), hashed by viem. */
export function checkpointLibraryDigest(t: Token): Hex {
  return hashTypedData({
    domain: { name: DOMAIN_NAME, version: t.protocol.domainVersion, chainId: t.chainId, verifyingContract: t.contract },
    types: { Checkpoint: CHECKPOINT_FIELDS },
    primaryType: "Checkpoint",
    message: {
      tenant: t.tenant,
      customerId: t.customerId,
      fromIndex: t.fromIndex,
      toIndex: t.toIndex,
      count: t.count,
      openingBalance: t.openingBalance,
      net: t.net,
      closingBalance: t.closingBalance,
      rangeRoot: t.rangeRoot,
      headFingerprint: t.headFingerprint,
      createdAt: t.createdAt,
    },
  });
}

export function tokenJson(t: Token) {
  return {
    tenant: t.tenant,
    customerId: t.customerId,
    fromIndex: t.fromIndex,
    toIndex: t.toIndex,
    count: t.count,
    openingBalance: t.openingBalance.toString(),
    net: t.net.toString(),
    closingBalance: t.closingBalance.toString(),
    rangeRoot: t.rangeRoot,
    headFingerprint: t.headFingerprint,
    createdAt: t.createdAt,
    chainId: t.chainId,
    verifyingContract: t.contract,
    nodeSignature: t.nodeSignature,
    countersignature: t.countersignature === "0x" ? null : t.countersignature,
  };
}
