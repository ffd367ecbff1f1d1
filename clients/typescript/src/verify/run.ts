/**
 * The four modes of `pacspace-verify-js` as functions of their options, with the same checks, report
 * shapes and exit statuses as docs/PROTOCOL.md section 9 gives: 0 verified, 1 some check failed,
 * 2 unusable input or an RPC that does not answer at all (one line on stderr, no report).
 */

import type { Hex } from "viem";

import { stringifyJson, type JsonValue } from "../json.js";
import { readBundle } from "./bundle.js";
import { CachedChain, RpcChain, Unreachable } from "./chain.js";
import { CHECKPOINT_CHECKS, checkpointSummary, RangeSums, runCheckpointChecks, type CheckpointOutcome } from "./checkpoint.js";
import { describeFailure, ExportChecker, PRINTED_FAILURES } from "./derive.js";
import { packContract, packJson, readPack, runEvidenceChecks } from "./evidence.js";
import {
  BUNDLE_MEMBERS,
  CompletenessWatch,
  loadJson,
  PACK_MEMBERS,
  readCheckpoints,
  readKeptReceipts,
  readToken,
  requireShape,
  scanExport,
  UnusableInput,
} from "./inputs.js";
import { runAllChecks } from "./onchain.js";
import { check, type CheckResult } from "./protocol.js";
import { decodeToken, tokenJson, type Token } from "./token.js";

export interface Io {
  out: (line: string) => void;
  err: (line: string) => void;
}

export interface ChainOptions {
  rpc: string;
  contract?: Hex;
  confirmations: bigint;
  json: boolean;
}

const mark = (r: CheckResult) => `${r.ok ? "✓" : "✗"} ${r.name}: ${r.detail}`;
const origin = (pinned: Hex | undefined, source: string) => (pinned ? "pinned by --contract" : `taken from the ${source}; pin it with --contract`);

/** The cached chain at `url`, or null (after one line on stderr) when nothing answers there. */
export async function reachableChain(url: string, io: Io): Promise<CachedChain | null> {
  const chain = new CachedChain(new RpcChain(url));
  try {
    await chain.chainId();
  } catch (error) {
    if (error instanceof Unreachable) {
      io.err(`error: RPC unreachable at ${url} (${error.message})`);
      return null;
    }
  }
  return chain;
}

/**
 * A JSON input that has at least one of `members`, and the chain at `rpc`; null (after one line on
 * stderr, exit 2 for the caller) when the input is unusable or nothing answers at `rpc`.
 */
async function readAndReach(
  source: string,
  members: string[],
  what: string,
  rpc: string,
  io: Io,
): Promise<{ raw: [JsonValue, string[]]; chain: CachedChain } | null> {
  let raw: [JsonValue, string[]];
  try {
    raw = loadJson(source);
    requireShape(raw[0], members, what, source);
  } catch (error) {
    if (!(error instanceof UnusableInput)) throw error;
    io.err(`error: ${error.message}`);
    return null;
  }
  const chain = await reachableChain(rpc, io);
  return chain === null ? null : { raw, chain };
}

export function summaryLine(results: CheckResult[]): string {
  const failed = results.filter((r) => !r.ok).map((r) => r.name);
  if (!failed.length) return `verified: all ${results.length} checks passed`;
  return `NOT VERIFIED: ${failed.length} of ${results.length} checks failed (${failed.join(", ")})`;
}

export async function runBundleMode(source: string, o: ChainOptions & { explorer?: string }, io: Io): Promise<number> {
  const input = await readAndReach(source, BUNDLE_MEMBERS, "a proof bundle", o.rpc, io);
  if (input === null) return 2;
  const { raw, chain } = input;
  const b = readBundle(raw[0], raw[1]);
  const contract = o.contract ?? b.contract;
  const results = await runAllChecks(b, chain, o.contract, o.confirmations);
  const ok = results.every((r) => r.ok);
  const links: Record<string, string> = {};
  if (o.explorer) {
    const base = o.explorer.replace(/\/+$/, "");
    if (b.txHash) links["transaction"] = `${base}/tx/${b.txHash}`;
    if (contract) links["contract"] = `${base}/address/${contract}`;
  }
  if (o.json) {
    const report: Record<string, unknown> = { ok, checks: results, contract: contract ?? "?", contractPinned: o.contract !== undefined, rpc: o.rpc, summary: summaryLine(results) };
    if (Object.keys(links).length) report["links"] = links;
    io.out(stringifyJson(report, 2));
    return ok ? 0 : 1;
  }
  io.out(`bundle: ${b.receiptId ?? "?"} (${b.version ?? "?"})`);
  io.out(`contract: ${contract ?? "?"} (${o.contract ? "pinned by --contract" : "taken from the bundle; pin it with --contract"})`);
  io.out(`rpc: ${o.rpc}; confirmations required: ${o.confirmations}`);
  results.forEach((r) => io.out(mark(r)));
  for (const [name, url] of Object.entries(links)) io.out(`${name}: ${url}`);
  io.out(summaryLine(results));
  return ok ? 0 : 1;
}

export async function runDeriveMode(source: string, o: ChainOptions & { receipts?: string; checkpoints: string[] }, io: Io): Promise<number> {
  let watch: CompletenessWatch;
  try {
    watch = new CompletenessWatch(o.receipts ? readKeptReceipts(o.receipts) : [], readCheckpoints(o.checkpoints));
  } catch (error) {
    if (!(error instanceof UnusableInput)) throw error;
    io.err(`error: ${error.message}`);
    return 2;
  }
  const asked = watch.receipts.length > 0 || watch.checkpoints.length > 0 || o.receipts !== undefined;
  const chain = await reachableChain(o.rpc, io);
  if (chain === null) return 2;
  const checker = new ExportChecker(chain, o.contract, o.confirmations, asked ? { onDelta: watch.hook } : {});
  try {
    await scanExport(source, checker);
  } catch (error) {
    if (!(error instanceof UnusableInput)) throw error;
    io.err(`error: ${error.message}`);
    return 2;
  }
  const [completeness, missing] = asked ? watch.results(checker) : [[], []];
  const ok = checker.ok && completeness.every((r) => r.ok);
  let summary = checker.summary();
  if (checker.ok && !ok) {
    const failed = completeness.filter((r) => !r.ok).map((r) => r.name).join(", ");
    summary = `NOT DERIVED: the export is incomplete (${failed}): ${missing.length} kept item(s) not in it`;
  }
  const contract = o.contract ?? checker.deployment?.[1];
  const head = checker.headIndex !== undefined ? (checker.headFingerprint ?? "?") : null;
  if (o.json) {
    const report: Record<string, unknown> = {
      ok,
      count: checker.count,
      balance: checker.balance.toString(),
      headIndex: checker.headIndex ?? null,
      headFingerprint: head,
      ...checker.failuresJson(),
      tenant: checker.customer?.[0] ?? null,
      customerId: checker.customer?.[1] ?? null,
      chainId: checker.deployment?.[0] ?? null,
      contract: contract ?? null,
      contractPinned: o.contract !== undefined,
      rpc: o.rpc,
      summary,
    };
    if (asked) {
      report["checks"] = completeness;
      report["missing"] = missing;
    }
    io.out(stringifyJson(report, 2));
    return ok ? 0 : 1;
  }
  io.out(`export: ${source}`);
  io.out(`contract: ${contract ?? "?"} (${origin(o.contract, "export")})`);
  io.out(`rpc: ${o.rpc}; confirmations required: ${o.confirmations}`);
  if (checker.customer) io.out(`customer: ${checker.customer[0]}/${checker.customer[1]}${checker.deployment ? ` on chain ${checker.deployment[0]}` : ""}`);
  io.out(`bundles: ${checker.count}`);
  io.out(`balance: ${checker.balance}`);
  io.out(`head: customerIndex ${checker.headIndex ?? "None"}, fingerprint ${head ?? "None"}`);
  checker.printFailures(io.out);
  completeness.forEach((r) => io.out(mark(r)));
  io.out(summary);
  return ok ? 0 : 1;
}

export async function runCheckpointMode(tokenArgument: string, exportSource: string, o: ChainOptions, io: Io): Promise<number> {
  let data: Hex;
  try {
    data = readToken(tokenArgument);
  } catch (error) {
    if (!(error instanceof UnusableInput)) throw error;
    io.err(`error: ${error.message}`);
    return 2;
  }
  const chain = await reachableChain(o.rpc, io);
  if (chain === null) return 2;
  let token: Token | undefined;
  let checker: ExportChecker | undefined;
  let outcome: CheckpointOutcome;
  try {
    token = decodeToken(data);
  } catch (error) {
    const skipped = "skipped: the token cannot be decoded";
    outcome = { results: [check("token", false, (error as Error).message), ...CHECKPOINT_CHECKS.slice(1).map((n) => check(n, false, skipped))] };
  }
  if (token !== undefined) {
    const contract = o.contract ?? token.contract;
    const sums = new RangeSums(token.fromIndex, token.toIndex);
    checker = new ExportChecker(chain, contract, o.confirmations, {
      customer: [token.tenant, token.customerId],
      deployment: [token.chainId, token.contract],
      onDelta: sums.hook,
    });
    try {
      await scanExport(exportSource, checker, token.toIndex);
    } catch (error) {
      if (!(error instanceof UnusableInput)) throw error;
      io.err(`error: ${error.message}`);
      return 2;
    }
    outcome = await runCheckpointChecks(token, checker, sums, contract, o.contract);
  }
  outcome = outcome!;
  const ok = outcome.results.every((r) => r.ok);
  const summary = checkpointSummary(token, outcome);
  const shown = o.contract ?? token?.contract;
  if (o.json) {
    io.out(
      stringifyJson(
        {
          ok,
          checks: outcome.results,
          checkpoint: token ? tokenJson(token) : null,
          signer: outcome.signer ?? null,
          countersigner: outcome.countersigner ?? null,
          count: checker?.count ?? 0,
          headIndex: checker?.headIndex ?? null,
          headFingerprint: checker?.headFingerprint ?? null,
          ...(checker ? checker.failuresJson() : { failures: [], failureCount: 0, failuresOmitted: 0 }),
          contract: shown ?? null,
          contractPinned: o.contract !== undefined,
          rpc: o.rpc,
          summary,
        },
        2,
      ),
    );
    return ok ? 0 : 1;
  }
  if (token) {
    io.out(
      `checkpoint: ${token.tenant}/${token.customerId} deltas ${token.fromIndex}..${token.toIndex} (count ${token.count}), opening ${token.openingBalance}, net ${token.net}, closing ${token.closingBalance}`,
    );
  }
  io.out(`contract: ${shown ?? "?"} (${origin(o.contract, "token")})`);
  io.out(`rpc: ${o.rpc}; confirmations required: ${o.confirmations}`);
  io.out(`signer: ${outcome.signer ?? "?"}`);
  io.out(`countersigner: ${outcome.countersigner ?? "not countersigned"}`);
  outcome.results.forEach((r) => io.out(mark(r)));
  checker?.printFailures(io.out);
  io.out(summary);
  return ok ? 0 : 1;
}

export async function runEvidenceMode(source: string, o: ChainOptions, io: Io): Promise<number> {
  const input = await readAndReach(source, PACK_MEMBERS, "an evidence pack", o.rpc, io);
  if (input === null) return 2;
  const { raw, chain } = input;
  const pack = readPack(raw[0], raw[1]);
  const outcome = await runEvidenceChecks(pack, chain, o.contract, o.confirmations);
  const ok = outcome.results.every((r) => r.ok);
  const contract = o.contract ?? packContract(pack);
  const failed = outcome.results.filter((r) => !r.ok).map((r) => r.name);
  const summary = failed.length
    ? `NOT VERIFIED: ${failed.length} of ${outcome.results.length} checks failed (${failed.join(", ")})`
    : `verified: all ${outcome.results.length} checks passed; ${pack.bundles?.length ?? 0} disputed record item(s) proven on chain; variance ${pack.variance} (${pack.resolution})`;
  if (o.json) {
    io.out(
      stringifyJson(
        {
          ok,
          checks: outcome.results,
          comparison: packJson(pack),
          bundleFailures: outcome.failures,
          bundleFailureCount: outcome.failureCount,
          contract: contract ?? null,
          contractPinned: o.contract !== undefined,
          rpc: o.rpc,
          summary,
        },
        2,
      ),
    );
    return ok ? 0 : 1;
  }
  io.out(`evidence: ${source} (${pack.version ?? "?"})`);
  io.out(`comparison: ${pack.comparisonId ?? "?"} for customer ${pack.customerId ?? "?"}`);
  io.out(`record balance: ${pack.recordBalance}; their balance: ${pack.theirBalance}; variance (theirs − record): ${pack.variance}`);
  io.out(`resolution: ${pack.resolution ?? "?"}`);
  io.out(`contract: ${contract ?? "?"} (${origin(o.contract, "bundles")})`);
  io.out(`rpc: ${o.rpc}; confirmations required: ${o.confirmations}`);
  outcome.results.forEach((r) => io.out(mark(r)));
  for (const f of outcome.failures.slice(0, PRINTED_FAILURES)) io.out(`✗ ${f.receiptId ?? "?"} (bundles[${f.bundle}]): ${f.check}: ${f.detail}`);
  if (outcome.failureCount > PRINTED_FAILURES) io.out(`… and ${outcome.failureCount - PRINTED_FAILURES} more bundle failure(s)`);
  io.out(summary);
  return ok ? 0 : 1;
}

export { describeFailure };
