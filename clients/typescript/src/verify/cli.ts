#!/usr/bin/env node
/**
 * `pacspace-verify-js`: the command line of the TypeScript verifier. The same modes, options, check
 * names, JSON reports and exit statuses as the Python `pacspace-verify` (docs/PROTOCOL.md section 9).
 */

import { realpathSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { Hex } from "viem";

import { runBundleMode, runCheckpointMode, runDeriveMode, runEvidenceMode, type ChainOptions, type Io } from "./run.js";

const DEFAULT_RPC = "http://127.0.0.1:8545";

export const USAGE = `usage:
  pacspace-verify-js BUNDLE.json [--rpc URL] [--contract 0x..] [--confirmations N] [--explorer URL] [--json]
      one proof bundle (section 4 of docs/PROTOCOL.md): 14 checks
  pacspace-verify-js derive EXPORT.jsonl [--receipts KEPT.jsonl] [--checkpoint TOKEN]... [--rpc URL]
                     [--contract 0x..] [--confirmations N] [--json] [--quiet]
      a customer's balance from an export (section 6), every bundle checked, the chain linked
  pacspace-verify-js checkpoint TOKEN --export EXPORT.jsonl [--rpc URL] [--contract 0x..] [--json]
      a checkpoint proofToken (section 5; TOKEN is 0x… or @file) against the customer's export
  pacspace-verify-js evidence PACK.json [--rpc URL] [--contract 0x..] [--confirmations N] [--json]
      a comparison's evidence pack (GET /v1/comparisons/{id}/evidence)
--rpc defaults to $PACSPACE_RPC_URL, else ${DEFAULT_RPC}; --confirmations to 1.
exit status: 0 verified, 1 some check failed, 2 unusable input or an unreachable RPC.`;

class UsageError extends Error {}

const OPTIONS = {
  rpc: { type: "string" },
  contract: { type: "string" },
  confirmations: { type: "string" },
  explorer: { type: "string" },
  json: { type: "boolean" },
  quiet: { type: "boolean" },
  receipts: { type: "string" },
  checkpoint: { type: "string", multiple: true },
  export: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

function chainOptions(values: Record<string, unknown>, env: NodeJS.ProcessEnv): ChainOptions {
  const contract = values["contract"] as string | undefined;
  if (contract !== undefined && !/^0x[0-9a-fA-F]{40}$/.test(contract)) throw new UsageError(`--contract: not a 20-byte 0x address: ${contract}`);
  const confirmations = (values["confirmations"] as string | undefined) ?? "1";
  if (!/^[0-9]+$/.test(confirmations)) throw new UsageError("--confirmations: must be an integer >= 0");
  return {
    rpc: (values["rpc"] as string | undefined) ?? (env["PACSPACE_RPC_URL"] || DEFAULT_RPC),
    contract: contract?.toLowerCase() as Hex | undefined,
    confirmations: BigInt(confirmations),
    json: Boolean(values["json"]),
  };
}

/** Run the command line; resolves to the exit status (never calls process.exit). */
export async function main(argv: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const modes = ["derive", "checkpoint", "evidence"];
  const mode = modes.includes(argv[0] ?? "") ? argv[0]! : "bundle";
  const rest = mode === "bundle" ? argv : argv.slice(1);
  try {
    const { values, positionals } = parseArgs({ args: rest, options: OPTIONS, allowPositionals: true, strict: true });
    if (values.help) {
      io.out(USAGE);
      return 0;
    }
    const allowed: Record<string, string[]> = {
      bundle: ["rpc", "contract", "confirmations", "explorer", "json"],
      derive: ["rpc", "contract", "confirmations", "json", "quiet", "receipts", "checkpoint"],
      checkpoint: ["rpc", "contract", "confirmations", "json", "quiet", "export"],
      evidence: ["rpc", "contract", "confirmations", "json"],
    };
    const unknown = Object.keys(values).filter((k) => !allowed[mode]!.includes(k));
    if (unknown.length) throw new UsageError(`${mode} mode takes no --${unknown[0]}`);
    if (positionals.length !== 1) throw new UsageError(`expected one ${mode === "checkpoint" ? "TOKEN" : "input file"}, got ${positionals.length}`);
    const o = chainOptions(values, env);
    const input = positionals[0]!;
    if (mode === "derive") return await runDeriveMode(input, { ...o, receipts: values.receipts, checkpoints: values.checkpoint ?? [] }, io);
    if (mode === "checkpoint") {
      if (values.export === undefined) throw new UsageError("checkpoint mode needs --export EXPORT.jsonl");
      return await runCheckpointMode(input, values.export, o, io);
    }
    if (mode === "evidence") return await runEvidenceMode(input, o, io);
    return await runBundleMode(input, { ...o, explorer: values.explorer ?? (env["PACSPACE_EXPLORER_URL"] || undefined) }, io);
  } catch (error) {
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
      io.err(`${USAGE}\npacspace-verify-js: error: ${(error as Error).message}`);
      return 2;
    }
    throw error;
  }
}

function isEntryPoint(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  const write = (stream: NodeJS.WriteStream) => (line: string) => stream.write(line + "\n");
  main(process.argv.slice(2), { out: write(process.stdout), err: write(process.stderr) }).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`error: ${(error as Error).stack ?? String(error)}\n`);
      process.exitCode = 2;
    },
  );
}
