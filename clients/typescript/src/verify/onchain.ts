/**
 * Section 4's on-chain checks: chain_id, anchorer, commitment, transaction, block, confirmations.
 * Functions of the read bundle and the chain facts fetched for it.
 */

import type { Hex } from "viem";

import type { Bundle } from "./bundle.js";
import { FetchError, fetchChainFacts, type ChainFacts, type ChainSource, type TxReceipt } from "./chain.js";
import { needs, runOfflineChecks } from "./offline.js";
import { BATCH_ANCHORED_TOPIC, batchCommitment, check, ZERO32, type CheckResult } from "./protocol.js";

const failed = (name: string, value: unknown, otherwise: string): CheckResult =>
  check(name, false, value instanceof FetchError ? value.message : otherwise);

export function checkChainId(b: Bundle, f: ChainFacts): CheckResult {
  const skip = needs({ chainId: b.chainId });
  if (skip) return check("chain_id", false, skip);
  if (f.chainId instanceof FetchError) return check("chain_id", false, f.chainId.message);
  if (f.chainId !== b.chainId) return check("chain_id", false, `RPC chain id is ${f.chainId}, bundle chainId is ${b.chainId}`);
  return check("chain_id", true, `RPC is on chain ${b.chainId}`);
}

function contractProblem(f: ChainFacts): string | null {
  if (f.contract === undefined) return "skipped: no contract to query (bundle contract malformed, none pinned)";
  if (f.codeSize instanceof FetchError) return f.codeSize.message;
  if (f.codeSize === 0) return `no contract code at ${f.contract} on this chain`;
  return null;
}

export function checkAnchorer(b: Bundle, f: ChainFacts): CheckResult {
  const skip = needs({ signer: b.signer }) ?? contractProblem(f);
  if (skip || !b.signer) return check("anchorer", false, skip ?? "");
  if (b.protocol?.signerWindow) {
    if (f.protocolVersion === undefined || f.protocolVersion instanceof FetchError) return failed("anchorer", f.protocolVersion, "");
    if (f.protocolVersion !== 2n) {
      return check("anchorer", false, `${f.contract} is a protocol v${f.protocolVersion} contract; a ${b.version} bundle needs a v2 contract's signer windows`);
    }
    const skipIndex = needs({ logIndex: b.logIndex });
    if (skipIndex) return check("anchorer", false, skipIndex);
    if (f.signerFor === undefined || f.signerFor instanceof FetchError) return failed("anchorer", f.signerFor, "");
    if (!f.signerFor) {
      return check(
        "anchorer",
        false,
        `isSignerFor(${b.signer}, ${b.logIndex}) is false on ${f.contract}: the contract never authorised this signer for that log index (a key revoked earlier, or never authorised)`,
      );
    }
    return check("anchorer", true, `${b.signer} was an authorised receipt signer for log index ${b.logIndex}`);
  }
  if (f.isAnchorer === undefined || f.isAnchorer instanceof FetchError) return failed("anchorer", f.isAnchorer, "isAnchorer not called");
  if (typeof f.protocolVersion === "bigint" && f.protocolVersion >= 2n) {
    return check(
      "anchorer",
      false,
      `${f.contract} is a protocol v${f.protocolVersion} contract; a ${b.version} bundle is only valid against a v1 contract (on v2, isAnchorer names gas wallets, not receipt signers)`,
    );
  }
  if (!f.isAnchorer) {
    return check("anchorer", false, `isAnchorer(${b.signer}) is false on ${f.contract}: the signer is not (or no longer) an authorised anchorer`);
  }
  return check("anchorer", true, `${b.signer} is an authorised anchorer`);
}

export function checkCommitment(b: Bundle, f: ChainFacts): CheckResult {
  const skip = needs({ "batch.root": b.root, "batch.startIndex": b.startIndex, "batch.count": b.count }) ?? contractProblem(f);
  if (skip || !b.root || b.startIndex === undefined || b.count === undefined) return check("commitment", false, skip ?? "");
  if (f.commitment === undefined || f.commitment instanceof FetchError) return failed("commitment", f.commitment, "batchCommitment not called");
  const want = batchCommitment(b.root, b.count);
  if (f.commitment === ZERO32) return check("commitment", false, `no batch starts at log index ${b.startIndex} on the contract`);
  if (f.commitment !== want) {
    return check("commitment", false, `batchCommitment(${b.startIndex}) is ${f.commitment}, expected keccak256(abi.encode(root, ${b.count})) = ${want}`);
  }
  if (f.verify === undefined || f.verify instanceof FetchError) {
    const why = f.verify instanceof FetchError ? f.verify.message : "skipped verify(...): inputs malformed";
    return check("commitment", false, `commitment matches but ${why}`);
  }
  if (!f.verify) return check("commitment", false, "commitment matches but contract verify(...) returned false");
  return check("commitment", true, `batchCommitment(${b.startIndex}) = ${want}; contract verify(...) is true`);
}

const big = (hex: Hex): bigint => (hex === "0x" ? 0n : BigInt(hex));

function matchingEvent(b: Bundle, contract: Hex, receipt: TxReceipt): [boolean, string] {
  const seen: string[] = [];
  for (const log of receipt.logs) {
    if (log.address !== contract || !log.topics.length || log.topics[0] !== BATCH_ANCHORED_TOPIC) continue;
    if (log.topics.length !== 4 || (log.data.length - 2) / 2 !== 64) {
      seen.push("malformed BatchAnchored log");
      continue;
    }
    const batchId = big(log.topics[1]!);
    const root = log.topics[2]!;
    const start = big(`0x${log.data.slice(2, 66)}`);
    const count = big(`0x${log.data.slice(66)}`);
    if (start >= 2n ** 64n || count >= 2n ** 32n) {
      seen.push("malformed BatchAnchored log (startIndex or count out of range)");
      continue;
    }
    const anchorer = `0x${log.topics[3]!.slice(26)}`;
    if (batchId === b.batchId && root === b.root && start === b.startIndex && count === b.count) {
      return [true, `BatchAnchored(id ${batchId}, start ${start}, count ${count}) by ${anchorer}`];
    }
    seen.push(`BatchAnchored(id ${batchId}, root ${root}, start ${start}, count ${count})`);
  }
  if (!seen.length) return [false, `the transaction emitted no BatchAnchored from ${contract}`];
  return [false, `no BatchAnchored(id ${b.batchId}, root ${b.root ?? "?"}, start ${b.startIndex}, count ${b.count}); the transaction emitted ${seen.join("; ")}`];
}

export function checkTransaction(b: Bundle, f: ChainFacts): CheckResult {
  let skip = needs({
    "batch.txHash": b.txHash,
    "batch.blockNumber": b.blockNumber,
    "batch.blockHash": b.blockHash,
    "batch.id": b.batchId,
    "batch.root": b.root,
    "batch.startIndex": b.startIndex,
    "batch.count": b.count,
  });
  if (f.contract === undefined && !skip) skip = "skipped: no contract (bundle contract malformed, none pinned)";
  if (skip || !b.txHash || !f.contract) return check("transaction", false, skip ?? "");
  if (f.receipt instanceof FetchError) return check("transaction", false, f.receipt.message);
  if (!f.receipt) return check("transaction", false, `no receipt for ${b.txHash} on this chain`);
  const r = f.receipt;
  const bad: string[] = [];
  if (r.status !== 1n) bad.push(`status is ${r.status} (reverted), expected 1`);
  if (r.to !== f.contract) bad.push(`to is ${r.to ?? "?"}, expected the contract ${f.contract}`);
  if (r.blockNumber !== b.blockNumber) bad.push(`blockNumber is ${r.blockNumber}, bundle says ${b.blockNumber}`);
  if (r.blockHash !== b.blockHash) bad.push(`blockHash is ${r.blockHash}, bundle says ${b.blockHash ?? "?"}`);
  const [found, event] = matchingEvent(b, f.contract, r);
  if (!found) bad.push(event);
  if (bad.length) return check("transaction", false, `${b.txHash}: ${bad.join("; ")}`);
  return check("transaction", true, `${b.txHash} in block ${r.blockNumber} emitted ${event}`);
}

export function checkBlock(b: Bundle, f: ChainFacts): CheckResult {
  const skip = needs({ "batch.blockNumber": b.blockNumber, "batch.blockHash": b.blockHash });
  if (skip) return check("block", false, skip);
  if (f.blockHash instanceof FetchError) return check("block", false, f.blockHash.message);
  if (!f.blockHash) return check("block", false, `the chain has no block ${b.blockNumber} (yet)`);
  if (f.blockHash !== b.blockHash) {
    return check("block", false, `block ${b.blockNumber} is ${f.blockHash}, bundle blockHash is ${b.blockHash} (reorganised away?)`);
  }
  return check("block", true, `block ${b.blockNumber} ${b.blockHash} is canonical`);
}

export function checkConfirmations(b: Bundle, f: ChainFacts, required: bigint): CheckResult {
  const skip = needs({ "batch.blockNumber": b.blockNumber });
  if (skip || b.blockNumber === undefined) return check("confirmations", false, skip ?? "");
  if (f.head === undefined || f.head instanceof FetchError) return failed("confirmations", f.head, "");
  let got = f.head - b.blockNumber + 1n;
  if (got < 0n) got = 0n;
  if (got < required) {
    return check("confirmations", false, `${got} confirmation(s) (head ${f.head}, block ${b.blockNumber}), ${required} required`);
  }
  return check("confirmations", true, `${got} confirmation(s) (head ${f.head}), ${required} required`);
}

export function runChainChecks(b: Bundle, f: ChainFacts, required: bigint): CheckResult[] {
  return [checkChainId(b, f), checkAnchorer(b, f), checkCommitment(b, f), checkTransaction(b, f), checkBlock(b, f), checkConfirmations(b, f, required)];
}

/** All 14 checks of one bundle: the offline ones, then the on-chain ones against `chain`. */
export async function runAllChecks(b: Bundle, chain: ChainSource, pinned: Hex | undefined, required: bigint): Promise<CheckResult[]> {
  const facts = await fetchChainFacts(chain, b, pinned ?? b.contract);
  return [...(await runOfflineChecks(b, pinned)), ...runChainChecks(b, facts, required)];
}
