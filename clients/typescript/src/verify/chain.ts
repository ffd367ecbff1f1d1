/**
 * Reading the chain: `RpcChain` (raw JSON-RPC over fetch, contract calls encoded by viem),
 * `CachedChain` (each distinct question asked once, for exports where thousands of bundles share a
 * few chain facts), and `fetchChainFacts`, which asks what one bundle's on-chain checks need and
 * never throws: a failed call is kept as a `FetchError` for the check that needed it.
 */

import { decodeAbiParameters, encodeFunctionData, parseAbi, toHex, type Hex } from "viem";

import { isObject, parseJson, stringifyJson, type JsonValue } from "../json.js";
import type { Bundle } from "./bundle.js";
import { batchCommitment, describe, foldProof, ZERO32 } from "./protocol.js";

/** Nothing usable answered at the RPC URL (refused, timed out, an HTTP error status). */
export class Unreachable extends Error {}
/** The RPC answered with a JSON-RPC error or an unexpected shape. */
export class RpcError extends Error {}

export interface LogEntry {
  address: Hex;
  topics: Hex[];
  data: Hex;
}

export interface TxReceipt {
  status: bigint;
  to: Hex | null;
  blockNumber: bigint;
  blockHash: Hex;
  logs: LogEntry[];
}

export interface ChainSource {
  url: string;
  chainId(): Promise<bigint>;
  codeSize(contract: Hex): Promise<number>;
  isAnchorer(contract: Hex, account: Hex): Promise<boolean>;
  protocolVersion(contract: Hex): Promise<bigint>;
  signerWindow(contract: Hex, signer: Hex): Promise<[bigint, bigint, boolean]>;
  isSignerFor(contract: Hex, signer: Hex, logIndex: bigint): Promise<boolean>;
  batchCommitment(contract: Hex, start: bigint): Promise<Hex>;
  verify(contract: Hex, start: bigint, count: bigint, root: Hex, logIndex: bigint, fingerprint: Hex, proof: Hex[]): Promise<boolean>;
  transactionReceipt(txHash: Hex): Promise<TxReceipt | null>;
  blockHash(n: bigint): Promise<Hex | null>;
  head(): Promise<bigint>;
}

const ABI = parseAbi([
  "function isAnchorer(address account) view returns (bool)",
  "function protocolVersion() view returns (uint256)",
  "function signerWindow(address signer) view returns (uint64 fromIndex, uint64 untilIndex, bool exists)",
  "function isSignerFor(address signer, uint64 logIndex) view returns (bool)",
  "function batchCommitment(uint64 startIndex) view returns (bytes32)",
  "function verify(uint64 startIndex, uint32 count, bytes32 root, uint64 logIndex, bytes32 fingerprint, bytes32[] proof) view returns (bool)",
]);

function hexData(value: JsonValue | undefined, what: string): Hex {
  if (typeof value !== "string" || !value.startsWith("0x")) throw new RpcError(`${what}: expected hex data, got ${describe(value)}`);
  if (!/^0x([0-9a-fA-F]{2})*$/.test(value)) throw new RpcError(`${what}: not hex bytes: ${describe(value)}`);
  return value.toLowerCase() as Hex;
}

function hexQuantity(value: JsonValue | undefined, what: string): bigint {
  if (typeof value !== "string" || !/^0x[0-9a-fA-F]+$/.test(value)) throw new RpcError(`${what}: expected a hex quantity, got ${describe(value)}`);
  return BigInt(value);
}

/** JSON-RPC over HTTP(S) with fetch; `user:password@` in the URL is sent as basic authentication. */
export class RpcChain implements ChainSource {
  private nextId = 0;
  private readonly endpoint: string;
  private readonly headers: Record<string, string> = { "Content-Type": "application/json", Accept: "application/json" };

  constructor(
    readonly url: string,
    private readonly timeoutMs = 15_000,
  ) {
    let endpoint = url;
    try {
      const parsed = new URL(url);
      if (parsed.username) {
        const credentials = `${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`;
        this.headers["Authorization"] = `Basic ${Buffer.from(credentials).toString("base64")}`;
        parsed.username = "";
        parsed.password = "";
        endpoint = parsed.toString();
      }
    } catch {
      // an unparseable URL fails at the first request, as unreachable
    }
    this.endpoint = endpoint;
  }

  async rpc(method: string, params: JsonValue[]): Promise<JsonValue> {
    if (!/^https?:\/\//i.test(this.url)) throw new Unreachable(`${this.url} is not an http:// or https:// URL`);
    const body = stringifyJson({ jsonrpc: "2.0", method, params, id: ++this.nextId });
    let text: string;
    try {
      const response = await fetch(this.endpoint, { method: "POST", headers: this.headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
      if (!response.ok) throw new Unreachable(`HTTP ${response.status}`);
      text = await response.text();
    } catch (error) {
      if (error instanceof Unreachable) throw error;
      throw new Unreachable(`${(error as Error).name}: ${(error as Error).message}`);
    }
    let reply: JsonValue;
    try {
      reply = parseJson(text, { integers: "auto" });
    } catch {
      throw new RpcError(`${method}: the answer is not JSON`);
    }
    if (!isObject(reply)) throw new RpcError(`${method}: unexpected ${describe(reply)}`);
    if ("error" in reply && reply["error"] !== null) throw new RpcError(`${method}: ${stringifyJson(reply["error"])}`);
    if (!("result" in reply)) throw new RpcError(`${method}: no result in ${describe(reply)}`);
    return reply["result"]!;
  }

  private async call(contract: Hex, data: Hex): Promise<Hex> {
    return hexData(await this.rpc("eth_call", [{ to: contract, data }, "latest"]), "eth_call");
  }

  async chainId(): Promise<bigint> {
    return hexQuantity(await this.rpc("eth_chainId", []), "eth_chainId");
  }

  async codeSize(contract: Hex): Promise<number> {
    return (hexData(await this.rpc("eth_getCode", [contract, "latest"]), "eth_getCode").length - 2) / 2;
  }

  async isAnchorer(contract: Hex, account: Hex): Promise<boolean> {
    const out = await this.call(contract, encodeFunctionData({ abi: ABI, functionName: "isAnchorer", args: [account] }));
    return decodeAbiParameters([{ type: "bool" }], out)[0];
  }

  /** protocolVersion() of a v2 (or later) contract; 1 when the call reverts (a v1 contract has no such function). */
  async protocolVersion(contract: Hex): Promise<bigint> {
    let out: Hex;
    try {
      out = await this.call(contract, encodeFunctionData({ abi: ABI, functionName: "protocolVersion" }));
    } catch (error) {
      if (error instanceof RpcError && /revert/i.test(error.message)) return 1n;
      throw error;
    }
    return out === "0x" ? 1n : decodeAbiParameters([{ type: "uint256" }], out)[0];
  }

  async signerWindow(contract: Hex, signer: Hex): Promise<[bigint, bigint, boolean]> {
    const out = await this.call(contract, encodeFunctionData({ abi: ABI, functionName: "signerWindow", args: [signer] }));
    const [from, until, exists] = decodeAbiParameters([{ type: "uint64" }, { type: "uint64" }, { type: "bool" }], out);
    return [from, until, exists];
  }

  async isSignerFor(contract: Hex, signer: Hex, logIndex: bigint): Promise<boolean> {
    const out = await this.call(contract, encodeFunctionData({ abi: ABI, functionName: "isSignerFor", args: [signer, logIndex] }));
    return decodeAbiParameters([{ type: "bool" }], out)[0];
  }

  async batchCommitment(contract: Hex, start: bigint): Promise<Hex> {
    const out = await this.call(contract, encodeFunctionData({ abi: ABI, functionName: "batchCommitment", args: [start] }));
    return decodeAbiParameters([{ type: "bytes32" }], out)[0];
  }

  async verify(contract: Hex, start: bigint, count: bigint, root: Hex, logIndex: bigint, fingerprint: Hex, proof: Hex[]): Promise<boolean> {
    const data = encodeFunctionData({ abi: ABI, functionName: "verify", args: [start, Number(count), root, logIndex, fingerprint, proof] });
    return decodeAbiParameters([{ type: "bool" }], await this.call(contract, data))[0];
  }

  async transactionReceipt(txHash: Hex): Promise<TxReceipt | null> {
    const raw = await this.rpc("eth_getTransactionReceipt", [txHash]);
    if (raw === null) return null;
    if (!isObject(raw)) throw new RpcError(`eth_getTransactionReceipt: unexpected ${describe(raw)}`);
    const logs = Array.isArray(raw["logs"]) ? raw["logs"] : [];
    return {
      status: hexQuantity(raw["status"], "receipt status"),
      to: raw["to"] === null || raw["to"] === undefined ? null : hexData(raw["to"], "receipt to"),
      blockNumber: hexQuantity(raw["blockNumber"], "receipt blockNumber"),
      blockHash: hexData(raw["blockHash"], "receipt blockHash"),
      logs: logs.map((log) => {
        const entry = isObject(log) ? log : {};
        const topics = Array.isArray(entry["topics"]) ? entry["topics"] : [];
        return {
          address: hexData(entry["address"], "log address"),
          topics: topics.map((t) => hexData(t, "log topic")),
          data: hexData(entry["data"], "log data"),
        };
      }),
    };
  }

  async blockHash(n: bigint): Promise<Hex | null> {
    const raw = await this.rpc("eth_getBlockByNumber", [toHex(n), false]);
    if (raw === null) return null;
    if (!isObject(raw)) throw new RpcError(`eth_getBlockByNumber: unexpected ${describe(raw)}`);
    return hexData(raw["hash"], "block hash");
  }

  async head(): Promise<bigint> {
    return hexQuantity(await this.rpc("eth_blockNumber", []), "eth_blockNumber");
  }
}

const CACHE_SIZE = 4096;

/**
 * Each distinct question asked once (a bounded memo; errors are remembered too, so an unreachable
 * RPC is reported for every bundle without a timeout each). `isSignerFor` is answered from the
 * signer's window, read once per signer; `verify` asks the contract for the first proof of each
 * batch and checks the batch's other proofs by the contract's own rule against the commitment read.
 */
export class CachedChain implements ChainSource {
  readonly url: string;
  private readonly memo = new Map<string, { ok: boolean; value: unknown }>();

  constructor(readonly inner: ChainSource) {
    this.url = inner.url;
  }

  private async ask<T>(key: string, fn: () => Promise<T>): Promise<T> {
    let hit = this.memo.get(key);
    if (hit === undefined) {
      try {
        hit = { ok: true, value: await fn() };
      } catch (error) {
        hit = { ok: false, value: error };
      }
      this.memo.set(key, hit);
      if (this.memo.size > CACHE_SIZE) this.memo.delete(this.memo.keys().next().value!);
    }
    if (!hit.ok) throw hit.value;
    return hit.value as T;
  }

  has(key: string): boolean {
    return this.memo.has(key);
  }

  chainId(): Promise<bigint> {
    return this.ask("chain_id", () => this.inner.chainId());
  }
  codeSize(contract: Hex): Promise<number> {
    return this.ask(`code ${contract}`, () => this.inner.codeSize(contract));
  }
  isAnchorer(contract: Hex, account: Hex): Promise<boolean> {
    return this.ask(`anchorer ${contract} ${account}`, () => this.inner.isAnchorer(contract, account));
  }
  protocolVersion(contract: Hex): Promise<bigint> {
    return this.ask(`protocol ${contract}`, () => this.inner.protocolVersion(contract));
  }
  signerWindow(contract: Hex, signer: Hex): Promise<[bigint, bigint, boolean]> {
    return this.ask(`window ${contract} ${signer}`, () => this.inner.signerWindow(contract, signer));
  }
  async isSignerFor(contract: Hex, signer: Hex, logIndex: bigint): Promise<boolean> {
    const [from, until, exists] = await this.signerWindow(contract, signer);
    return exists && from <= logIndex && logIndex < until;
  }
  batchCommitment(contract: Hex, start: bigint): Promise<Hex> {
    return this.ask(`commitment ${contract} ${start}`, () => this.inner.batchCommitment(contract, start));
  }
  async verify(contract: Hex, start: bigint, count: bigint, root: Hex, logIndex: bigint, fingerprint: Hex, proof: Hex[]): Promise<boolean> {
    const key = `verify ${contract} ${start} ${count} ${root}`;
    if (!this.memo.has(key)) return this.ask(key, () => this.inner.verify(contract, start, count, root, logIndex, fingerprint, proof));
    await this.ask(key, async () => false); // rethrows the RPC error of the batch's first call, if any
    const stored = await this.batchCommitment(contract, start);
    return (
      stored !== ZERO32 &&
      stored === batchCommitment(root, count) &&
      start <= logIndex &&
      logIndex < start + count &&
      foldProof(logIndex, fingerprint, proof) === root
    );
  }
  transactionReceipt(txHash: Hex): Promise<TxReceipt | null> {
    return this.ask(`receipt ${txHash}`, () => this.inner.transactionReceipt(txHash));
  }
  blockHash(n: bigint): Promise<Hex | null> {
    return this.ask(`block ${n}`, () => this.inner.blockHash(n));
  }
  head(): Promise<bigint> {
    return this.ask("head", () => this.inner.head());
  }
}

export class FetchError {
  constructor(readonly message: string) {}
}

export interface ChainFacts {
  contract?: Hex;
  chainId?: bigint | FetchError;
  codeSize?: number | FetchError;
  isAnchorer?: boolean | FetchError;
  protocolVersion?: bigint | FetchError;
  signerFor?: boolean | FetchError;
  commitment?: Hex | FetchError;
  verify?: boolean | FetchError;
  receipt?: TxReceipt | null | FetchError;
  blockHash?: Hex | null | FetchError;
  head?: bigint | FetchError;
}

export async function attempt<T>(fn: () => Promise<T>, what: string): Promise<T | FetchError> {
  try {
    return await fn();
  } catch (error) {
    if (error instanceof Unreachable) return new FetchError(`${what}: RPC unreachable (${error.message})`);
    return new FetchError(`${what} failed: ${(error as Error).message.split("\n")[0]}`);
  }
}

/** Everything the on-chain checks of one bundle need, never throwing. */
export async function fetchChainFacts(chain: ChainSource, b: Bundle, contract: Hex | undefined): Promise<ChainFacts> {
  const facts: ChainFacts = { contract };
  try {
    facts.chainId = await chain.chainId();
  } catch (error) {
    if (error instanceof Unreachable) {
      const unreachable = new FetchError(`RPC unreachable at ${chain.url} (${error.message})`);
      for (const key of ["chainId", "codeSize", "isAnchorer", "protocolVersion", "signerFor", "commitment", "verify", "receipt", "blockHash", "head"] as const) {
        (facts as Record<string, unknown>)[key] = unreachable;
      }
      return facts;
    }
    facts.chainId = new FetchError(`eth_chainId failed at ${chain.url}: ${(error as Error).message}`);
  }
  if (contract !== undefined) {
    facts.codeSize = await attempt(() => chain.codeSize(contract), "eth_getCode");
    const signer = b.signer;
    if (signer !== undefined) {
      if (b.protocol?.signerWindow) {
        facts.protocolVersion = await attempt(() => chain.protocolVersion(contract), "protocolVersion");
        const logIndex = b.logIndex;
        if (logIndex !== undefined) facts.signerFor = await attempt(() => chain.isSignerFor(contract, signer, logIndex), "isSignerFor");
      } else {
        facts.isAnchorer = await attempt(() => chain.isAnchorer(contract, signer), "isAnchorer");
        // A v1 bundle is valid only against a v1 contract; no answer (a v1 contract reverts) means v1.
        facts.protocolVersion = await attempt(() => chain.protocolVersion(contract), "protocolVersion");
      }
    }
    const start = b.startIndex;
    if (start !== undefined) facts.commitment = await attempt(() => chain.batchCommitment(contract, start), "batchCommitment");
    const { count, root, logIndex, fingerprint, proof } = b;
    if (start !== undefined && count !== undefined && root && logIndex !== undefined && fingerprint && proof) {
      facts.verify = await attempt(() => chain.verify(contract, start, count, root, logIndex, fingerprint, proof), "verify");
    }
  }
  const txHash = b.txHash;
  if (txHash !== undefined) facts.receipt = await attempt(() => chain.transactionReceipt(txHash), "eth_getTransactionReceipt");
  const number = b.blockNumber;
  if (number !== undefined) facts.blockHash = await attempt(() => chain.blockHash(number), "eth_getBlockByNumber");
  facts.head = await attempt(() => chain.head(), "eth_blockNumber");
  return facts;
}
