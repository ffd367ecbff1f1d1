/**
 * Deriving a balance from an export (section 6): `ExportChecker` takes bundles one at a time, gives
 * each section 4's checks (chain facts once per batch) and checks across them: gap, order, link,
 * corrects, customer, deployment.
 */

import type { Hex } from "viem";

import { bundleIndex, type Bundle } from "./bundle.js";
import { attempt, CachedChain, FetchError, fetchChainFacts, type ChainFacts, type ChainSource } from "./chain.js";
import { runOfflineChecks } from "./offline.js";
import { checkCommitment, runChainChecks } from "./onchain.js";
import { describe, foldProof, ZERO32, type CheckResult } from "./protocol.js";

export const EXPORT_CHECKS = ["gap", "order", "link", "corrects", "customer", "deployment"] as const;
export const PRINTED_FAILURES = 50;
export const KEPT_FAILURES = 10_000;

export interface Failure {
  line: number;
  customerIndex: bigint | undefined;
  receiptId: string | undefined;
  check: string;
  detail: string;
}

export const failureJson = (f: Failure) => ({
  customerIndex: f.customerIndex === undefined ? null : f.customerIndex,
  receiptId: f.receiptId ?? null,
  check: f.check,
  detail: f.detail,
  line: f.line,
});

export const describeFailure = (f: Failure): string =>
  `✗ customerIndex ${f.customerIndex ?? "?"}${f.receiptId ? ` (${f.receiptId})` : ""}, line ${f.line}: ${f.check}: ${f.detail}`;

export type DeltaHook = (index: bigint, delta: bigint | undefined, fingerprint: Hex | undefined) => void;

export interface CheckerOptions {
  customer?: [string, string];
  deployment?: [bigint, Hex];
  onDelta?: DeltaHook;
  kept?: number;
}

export class ExportChecker {
  readonly chain: CachedChain;
  customer: [string, string] | undefined;
  deployment: [bigint, Hex] | undefined;
  private readonly customerFrom: string;
  private readonly deploymentFrom: string;
  private readonly onDelta: DeltaHook | undefined;
  private readonly kept: number;
  count = 0;
  balance = 0n;
  nextIndex = 0n;
  prevFingerprint: Hex | undefined = ZERO32;
  headIndex: bigint | undefined;
  headLogIndex: bigint | undefined;
  headFingerprint: Hex | undefined;
  readonly seen = new Set<string>();
  readonly failures: Failure[] = [];
  failureCount = 0;
  failedBundles = 0;
  readonly byCheck = new Map<string, number>();
  private readonly batchChecks = new Map<string, [ChainFacts, CheckResult[]]>();

  constructor(
    chain: ChainSource,
    readonly pinned: Hex | undefined,
    readonly required: bigint,
    options: CheckerOptions = {},
  ) {
    this.chain = chain instanceof CachedChain ? chain : new CachedChain(chain);
    this.customer = options.customer;
    this.customerFrom = options.customer ? "the checkpoint's" : "the export's";
    this.deployment = options.deployment;
    this.deploymentFrom = options.deployment ? "the checkpoint's" : "the export's";
    this.onDelta = options.onDelta;
    this.kept = options.kept ?? KEPT_FAILURES;
  }

  get ok(): boolean {
    return this.count > 0 && this.failureCount === 0;
  }

  private record(line: number, index: bigint | undefined, receiptId: string | undefined, fails: [string, string][]): void {
    if (!fails.length) return;
    this.failedBundles++;
    for (const [check, detail] of fails) {
      this.failureCount++;
      this.byCheck.set(check, (this.byCheck.get(check) ?? 0) + 1);
      if (this.failures.length < this.kept) this.failures.push({ line, customerIndex: index, receiptId, check, detail });
    }
  }

  /** A line that is no bundle at all: it takes no index (the next bundle reports the gap). */
  addUnreadable(line: number, why: string): void {
    this.count++;
    this.record(line, undefined, undefined, [["format", why]]);
  }

  /** On-chain checks: all but `commitment` depend on the batch alone, so they run once per batch. */
  private async chainChecks(b: Bundle): Promise<CheckResult[]> {
    const contract = this.pinned ?? b.contract;
    const key = [contract, b.chainId, b.signer, b.batchId, b.root, b.startIndex, b.count, b.txHash, b.blockNumber, b.blockHash].join("|");
    const memo = this.batchChecks.get(key);
    if (memo === undefined) {
      const facts = await fetchChainFacts(this.chain, b, contract);
      const results = runChainChecks(b, facts, this.required);
      this.batchChecks.set(key, [facts, results]);
      if (this.batchChecks.size > 4096) this.batchChecks.delete(this.batchChecks.keys().next().value!);
      return results;
    }
    const [facts, results] = memo;
    if (this.inVerifiedBatch(b, results)) return results;
    const unreachable = facts.chainId instanceof FetchError && facts.verify === facts.chainId;
    const verify = unreachable ? facts.verify : await this.verify(b, contract);
    const commitment = checkCommitment(b, { ...facts, verify });
    return results.map((r) => (r.name === "commitment" ? commitment : r));
  }

  private inVerifiedBatch(b: Bundle, results: CheckResult[]): boolean {
    return (
      results.filter((r) => r.name === "commitment").every((r) => r.ok) &&
      b.logIndex !== undefined && b.startIndex !== undefined && b.count !== undefined && b.fingerprint !== undefined &&
      b.proof !== undefined && b.root !== undefined &&
      b.startIndex <= b.logIndex && b.logIndex < b.startIndex + b.count &&
      // the proof check has run OpenZeppelin's own verify on this proof; folding again is cheaper
      foldProof(b.logIndex, b.fingerprint, b.proof) === b.root
    );
  }

  private async verify(b: Bundle, contract: Hex | undefined): Promise<boolean | FetchError | undefined> {
    const { startIndex, count, root, logIndex, fingerprint, proof } = b;
    if (!contract || startIndex === undefined || count === undefined || !root || logIndex === undefined || !fingerprint || !proof) return undefined;
    return attempt(() => this.chain.verify(contract, startIndex, count, root, logIndex, fingerprint, proof), "verify");
  }

  /** Section 4's 14 checks of one bundle (offline in fast mode, chain facts once per batch). */
  async bundleChecks(b: Bundle): Promise<CheckResult[]> {
    return [...(await runOfflineChecks(b, this.pinned, true)), ...(await this.chainChecks(b))];
  }

  async add(line: number, b: Bundle): Promise<void> {
    this.count++;
    const fails: [string, string][] = (await this.bundleChecks(b)).filter((r) => !r.ok).map((r) => [r.name, r.detail]);
    const m = b.message;
    if (m) {
      if (this.customer === undefined) this.customer = [m.tenant, m.customerId];
      else if (m.tenant !== this.customer[0] || m.customerId !== this.customer[1]) {
        fails.push([
          "customer",
          `tenant/customerId is ${describe(m.tenant)}/${describe(m.customerId)}, ${this.customerFrom} is ${describe(this.customer[0])}/${describe(this.customer[1])}`,
        ]);
      }
    }
    if (b.chainId !== undefined && b.contract !== undefined) {
      if (this.deployment === undefined) this.deployment = [b.chainId, b.contract];
      else if (b.chainId !== this.deployment[0] || b.contract !== this.deployment[1]) {
        fails.push([
          "deployment",
          `chainId ${b.chainId} contract ${b.contract}, ${this.deploymentFrom} is chainId ${this.deployment[0]} contract ${this.deployment[1]}`,
        ]);
      }
    }
    const index = bundleIndex(b);
    const inSequence = this.sequence(b, index, fails);
    if (m && m.corrects !== ZERO32 && !this.seen.has(m.corrects)) {
      fails.push(["corrects", `corrects ${m.corrects} is not the fingerprint of an earlier delta of this export`]);
    }
    if (b.fingerprint !== undefined) this.seen.add(b.fingerprint);
    if (inSequence && index !== undefined) {
      const delta = m?.delta;
      if (delta !== undefined) this.balance += delta;
      this.onDelta?.(index, delta, b.fingerprint);
    }
    this.record(line, index, b.receiptId, fails);
  }

  private sequence(b: Bundle, index: bigint | undefined, fails: [string, string][]): boolean {
    if (index === undefined) return false;
    if (index < this.nextIndex) {
      fails.push(["order", `customerIndex ${index} comes after ${this.nextIndex - 1n}: repeated or out of order`]);
      return false;
    }
    if (index > this.nextIndex) {
      const first = this.nextIndex;
      let span =
        index === first + 1n
          ? `customerIndex ${first} is missing`
          : `customerIndexes ${first}..${index - 1n} are missing (${index - first}), first missing ${first}`;
      if (first === 0n) span += ": the export must start at customerIndex 0 to derive the balance";
      fails.push(["gap", span]);
    } else {
      const want = index === 0n ? ZERO32 : this.prevFingerprint;
      const m = b.message;
      if (m && want !== undefined && m.prevFingerprint !== want) {
        const previous = index === 0n ? "32 zero bytes (customerIndex 0)" : `the fingerprint of customerIndex ${index - 1n}, ${want}`;
        fails.push(["link", `prevFingerprint is ${m.prevFingerprint}, expected ${previous}`]);
      }
    }
    this.nextIndex = index + 1n;
    this.prevFingerprint = b.fingerprint;
    this.headIndex = index;
    this.headFingerprint = b.fingerprint;
    this.headLogIndex = b.logIndex;
    return true;
  }

  summary(): string {
    if (this.ok) return `derived: balance ${this.balance} over ${this.count} verified deltas`;
    const checks = [...this.byCheck.entries()].sort((a, b) => b[1] - a[1]).map(([name, n]) => `${name} ×${n}`).join(", ");
    return `NOT DERIVED: ${this.failureCount} failure(s) in ${this.failedBundles} of ${this.count} bundle(s) (${checks})`;
  }

  failuresJson() {
    return { failures: this.failures.map(failureJson), failureCount: this.failureCount, failuresOmitted: this.failureCount - this.failures.length };
  }

  printFailures(out: (line: string) => void, limit = PRINTED_FAILURES): void {
    for (const f of this.failures.slice(0, limit)) out(describeFailure(f));
    if (this.failureCount > limit) out(`… and ${this.failureCount - limit} more failure(s)`);
  }
}
