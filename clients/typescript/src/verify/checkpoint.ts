/**
 * Section 5's checkpoint checks, once the export (0..toIndex) has gone through an `ExportChecker`:
 * token, signature, anchorer, countersignature, export, range, then opening, net, closing, root and
 * head recomputed by `RangeSums` from the export's in-sequence deltas.
 */

import type { Hex } from "viem";

import { Unreachable, type ChainSource } from "./chain.js";
import type { ExportChecker } from "./derive.js";
import { check, describe, recoverSigner, signatureProblem, standardTreeRoot, type CheckResult } from "./protocol.js";
import { checkpointDigest, checkpointLibraryDigest, type Token } from "./token.js";

export const CHECKPOINT_CHECKS = ["token", "signature", "anchorer", "countersignature", "export", "range", "opening", "net", "closing", "root", "head"] as const;
const INT256_MIN = -(2n ** 255n);
const INT256_MAX = 2n ** 255n - 1n;

/** What a checkpoint states, recomputed from the export's in-sequence deltas. */
export class RangeSums {
  opening = 0n;
  openingDeltas = 0n;
  net = 0n;
  netDeltas = 0n;
  readonly leaves: [bigint, Hex][] = [];
  head: Hex | undefined;

  constructor(
    readonly fromIndex: bigint,
    readonly toIndex: bigint,
  ) {}

  readonly hook = (index: bigint, delta: bigint | undefined, fingerprint: Hex | undefined): void => {
    if (index < this.fromIndex) {
      if (delta !== undefined) {
        this.opening += delta;
        this.openingDeltas++;
      }
    } else if (index <= this.toIndex) {
      if (delta !== undefined) {
        this.net += delta;
        this.netDeltas++;
      }
      if (fingerprint !== undefined) this.leaves.push([index, fingerprint]);
      if (index === this.toIndex) this.head = fingerprint;
    }
  };
}

export interface CheckpointOutcome {
  results: CheckResult[];
  signer?: Hex;
  countersigner?: Hex;
}

function tokenCheck(t: Token, pinned: Hex | undefined): CheckResult {
  if (pinned !== undefined && t.contract !== pinned) return check("token", false, `verifyingContract ${t.contract} is not the pinned contract ${pinned}`);
  const when = t.createdAt <= 253402300799n ? new Date(Number(t.createdAt) * 1000).toISOString().replace(/\.\d{3}Z$/, "Z") : "?";
  return check(
    "token",
    true,
    `v${t.protocol.number} checkpoint of ${describe(t.tenant)}/${describe(t.customerId)} deltas ${t.fromIndex}..${t.toIndex}, chain ${t.chainId}, contract ${t.contract}, created ${t.createdAt} (${when})`,
  );
}

async function signatureCheck(t: Token): Promise<[CheckResult, Hex | undefined]> {
  const problem = signatureProblem(t.nodeSignature);
  if (problem) return [check("signature", false, `node signature: ${problem}`), undefined];
  const digest = checkpointDigest(t);
  let library: Hex;
  try {
    library = checkpointLibraryDigest(t);
  } catch (error) {
    return [check("signature", false, `viem cannot hash the checkpoint: ${(error as Error).message.split("\n")[0]}`), undefined];
  }
  if (library !== digest) return [check("signature", false, `viem's EIP-712 digest ${library} differs from section 5's formulas ${digest}`), undefined];
  try {
    const signer = await recoverSigner(digest, t.nodeSignature);
    return [check("signature", true, `node signature over checkpoint digest ${digest} recovers to ${signer}`), signer];
  } catch (error) {
    return [check("signature", false, `cannot recover a signer: ${(error as Error).message.split("\n")[0]}`), undefined];
  }
}

async function signerWindowCheck(t: Token, signer: Hex, chain: ChainSource, contract: Hex, headLogIndex: bigint | undefined, rpcChain: bigint): Promise<CheckResult> {
  const version = await chain.protocolVersion(contract);
  if (version !== 2n) return check("anchorer", false, `${contract} is a protocol v${version} contract; a v2 token needs a v2 contract`);
  if (headLogIndex === undefined) return check("anchorer", false, `skipped: the export has no anchored delta at toIndex ${t.toIndex} (see range)`);
  const [from, until, exists] = await chain.signerWindow(contract, signer);
  if (!exists) return check("anchorer", false, `${signer} was never a receipt signer of ${contract}`);
  if (headLogIndex >= until) {
    return check("anchorer", false, `${signer} was revoked at log index ${until}, before the checkpoint's head delta (log index ${headLogIndex}) was anchored`);
  }
  return check(
    "anchorer",
    true,
    `${signer} is a receipt signer of ${contract} on chain ${rpcChain} (window from ${from}), not revoked before the head delta's log index ${headLogIndex}`,
  );
}

async function anchorerCheck(t: Token, signer: Hex | undefined, chain: ChainSource, contract: Hex, headLogIndex: bigint | undefined): Promise<CheckResult> {
  if (signer === undefined) return check("anchorer", false, "skipped: no node signer recovered (see signature)");
  let authorised: boolean;
  let rpcChain: bigint;
  try {
    rpcChain = await chain.chainId();
    if (rpcChain !== t.chainId) return check("anchorer", false, `RPC chain id is ${rpcChain}, the token's chainId is ${t.chainId}`);
    if ((await chain.codeSize(contract)) === 0) return check("anchorer", false, `no contract code at ${contract} on this chain`);
    if (t.protocol.signerWindow) return await signerWindowCheck(t, signer, chain, contract, headLogIndex, rpcChain);
    authorised = await chain.isAnchorer(contract, signer);
    if (authorised) {
      let version = 1n;
      try {
        version = await chain.protocolVersion(contract);
      } catch (error) {
        if (error instanceof Unreachable) throw error;
      }
      if (version >= 2n) return check("anchorer", false, `${contract} is a protocol v2 contract; a v1 token is only valid against a v1 contract`);
    }
  } catch (error) {
    if (error instanceof Unreachable) return check("anchorer", false, `RPC unreachable at ${chain.url} (${error.message})`);
    return check("anchorer", false, `isAnchorer failed: ${(error as Error).message.split("\n")[0]}`);
  }
  if (!authorised) {
    return check(
      "anchorer",
      false,
      `isAnchorer(${signer}) is false on ${contract}: the node signature is not by an authorised anchorer (an altered token recovers to an unrelated address)`,
    );
  }
  return check("anchorer", true, `${signer} is an authorised anchorer of ${contract} on chain ${rpcChain}`);
}

async function countersignatureCheck(t: Token): Promise<[CheckResult, Hex | undefined]> {
  if (t.countersignature === "0x") return [check("countersignature", true, "not countersigned"), undefined];
  let signature = t.countersignature;
  const v = signature.length === 132 ? parseInt(signature.slice(130), 16) : -1;
  if (v === 0 || v === 1) signature = `${signature.slice(0, 130)}${(v + 27).toString(16)}` as Hex; // some wallets give v as 0/1
  const problem = signatureProblem(signature, false);
  if (problem) return [check("countersignature", false, problem), undefined];
  try {
    const countersigner = await recoverSigner(checkpointDigest(t), signature);
    return [check("countersignature", true, `countersigned by ${countersigner} (whether that is the customer's key is for you to decide)`), countersigner];
  } catch (error) {
    return [check("countersignature", false, `cannot recover a countersigner: ${(error as Error).message.split("\n")[0]}`), undefined];
  }
}

function exportCheck(checker: ExportChecker): CheckResult {
  if (checker.failureCount) {
    const checks = [...checker.byCheck.entries()].sort((a, b) => b[1] - a[1]).map(([n, c]) => `${n} ×${c}`).join(", ");
    return check("export", false, `${checker.failureCount} failure(s) in ${checker.failedBundles} of ${checker.count} bundle(s): ${checks}`);
  }
  return check("export", true, `${checker.count} bundle(s), customerIndex 0..${checker.headIndex}: every section 4 check, links, corrects`);
}

function rangeCheck(t: Token, checker: ExportChecker): CheckResult {
  if (t.fromIndex > t.toIndex) return check("range", false, `fromIndex ${t.fromIndex} is after toIndex ${t.toIndex}`);
  if (t.count !== t.toIndex - t.fromIndex + 1n) return check("range", false, `count is ${t.count}, toIndex - fromIndex + 1 is ${t.toIndex - t.fromIndex + 1n}`);
  if (checker.headIndex !== t.toIndex) {
    return check("range", false, `the export ends at customerIndex ${checker.headIndex ?? "None"}, the checkpoint needs 0..${t.toIndex}`);
  }
  return check("range", true, `${t.count} delta(s) ${t.fromIndex}..${t.toIndex}; the export reaches ${t.toIndex}`);
}

function sumChecks(t: Token, s: RangeSums): CheckResult[] {
  const out: CheckResult[] = [];
  const openingOk = s.openingDeltas === t.fromIndex;
  const netOk = t.count === t.toIndex - t.fromIndex + 1n && s.netDeltas === t.count;
  if (!openingOk) out.push(check("opening", false, `cannot recompute: the export has ${s.openingDeltas} of the ${t.fromIndex} delta(s) before fromIndex`));
  else if (s.opening !== t.openingBalance) out.push(check("opening", false, `deltas 0..${t.fromIndex - 1n} sum to ${s.opening}, openingBalance is ${t.openingBalance}`));
  else out.push(check("opening", true, `deltas before ${t.fromIndex} sum to ${s.opening}`));
  if (!netOk) out.push(check("net", false, `cannot recompute: the export has ${s.netDeltas} delta(s) in ${t.fromIndex}..${t.toIndex}`));
  else if (s.net !== t.net) out.push(check("net", false, `deltas ${t.fromIndex}..${t.toIndex} sum to ${s.net}, net is ${t.net}`));
  else out.push(check("net", true, `deltas ${t.fromIndex}..${t.toIndex} sum to ${s.net}`));
  const closing = s.opening + s.net;
  const stated = t.openingBalance + t.net;
  if (!(openingOk && netOk)) out.push(check("closing", false, "cannot recompute: opening or net could not be recomputed"));
  else if (![s.opening, s.net, closing].every((v) => v >= INT256_MIN && v <= INT256_MAX)) {
    out.push(check("closing", false, `the recomputed sums leave int256 (opening ${s.opening}, net ${s.net}, closing ${closing})`));
  } else if (closing !== t.closingBalance) {
    const note = stated === t.closingBalance ? "" : `; the token's own openingBalance + net is ${stated}`;
    out.push(check("closing", false, `opening + net is ${closing}, closingBalance is ${t.closingBalance}${note}`));
  } else if (stated !== t.closingBalance) {
    out.push(check("closing", false, `the token's openingBalance + net is ${stated}, closingBalance is ${t.closingBalance}`));
  } else out.push(check("closing", true, `opening ${s.opening} + net ${s.net} = ${closing}`));
  if (!netOk || BigInt(s.leaves.length) !== t.count) {
    out.push(check("root", false, `cannot recompute: the export has ${s.leaves.length} fingerprint(s) in ${t.fromIndex}..${t.toIndex}`));
  } else {
    const root = standardTreeRoot(s.leaves);
    if (root !== t.rangeRoot) {
      out.push(check("root", false, `StandardMerkleTree of (customerIndex, fingerprint) over ${t.fromIndex}..${t.toIndex} is ${root}, rangeRoot is ${t.rangeRoot}`));
    } else out.push(check("root", true, `${root} over ${t.count} leaf/leaves`));
  }
  if (s.head === undefined) out.push(check("head", false, `cannot recompute: no fingerprint at customerIndex ${t.toIndex}`));
  else if (s.head !== t.headFingerprint) {
    out.push(check("head", false, `the fingerprint at customerIndex ${t.toIndex} is ${s.head}, headFingerprint is ${t.headFingerprint}`));
  } else out.push(check("head", true, `customerIndex ${t.toIndex} is ${s.head}`));
  return out;
}

export async function runCheckpointChecks(t: Token, checker: ExportChecker, sums: RangeSums, contract: Hex, pinned: Hex | undefined): Promise<CheckpointOutcome> {
  const [signature, signer] = await signatureCheck(t);
  const [countersignature, countersigner] = await countersignatureCheck(t);
  const results = [
    tokenCheck(t, pinned),
    signature,
    await anchorerCheck(t, signer, checker.chain, contract, checker.headLogIndex),
    countersignature,
    exportCheck(checker),
    rangeCheck(t, checker),
    ...sumChecks(t, sums),
  ];
  return { results, signer, countersigner };
}

export function checkpointSummary(t: Token | undefined, o: CheckpointOutcome): string {
  const failed = o.results.filter((r) => !r.ok).map((r) => r.name);
  if (failed.length || t === undefined) return `CHECKPOINT NOT VERIFIED: ${failed.length} of ${o.results.length} checks failed (${failed.join(", ")})`;
  const counter = o.countersigner ? `countersigned by ${o.countersigner}` : "not countersigned";
  return `checkpoint verified: ${t.tenant}/${t.customerId} deltas ${t.fromIndex}..${t.toIndex}, opening ${t.openingBalance}, net ${t.net}, closing ${t.closingBalance}; signed by anchorer ${o.signer ?? "?"}, ${counter}`;
}
