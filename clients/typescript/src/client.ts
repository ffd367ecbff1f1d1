/** `PacSpace`: the node's API, one method per endpoint, grouped as the API is. */

import { errorFromProblem, InvalidResponseError, TransportError, WaitTimeoutError } from "./errors.js";
import { Transport, path, type TransportOptions } from "./http.js";
import { isObject, parseJson, type JsonObject, type JsonValue } from "./json.js";
import {
  amountJson,
  object,
  toBalance,
  toCheckpoint,
  toComparison,
  toReceipt,
  type Amount,
  type Balance,
  type BulkResult,
  type Checkpoint,
  type Comparison,
  type DeltaInput,
  type ProofBundle,
  type Receipt,
  type ReceiptStatus,
  type WebhookEndpoint,
} from "./models.js";
import { constructEvent, type ConstructEventOptions, type HeaderBag, type WebhookEvent } from "./webhooks.js";

export interface PacSpaceOptions extends TransportOptions {}

const STATUS_ORDER: Record<ReceiptStatus, number> = { pending: 0, anchored: 1, verified: 2 };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function deltaBody(input: DeltaInput): JsonObject {
  const known = new Set(["customerId", "delta", "reason", "referenceId", "metadata", "correctsReceiptId"]);
  const unknown = Object.keys(input).filter((k) => !known.has(k));
  if (unknown.length) throw new TypeError(`unknown delta fields: ${unknown.join(", ")}`);
  const body: JsonObject = { customerId: input.customerId, delta: amountJson(input.delta, "delta"), reason: input.reason, referenceId: input.referenceId };
  if (input.metadata !== undefined) body["metadata"] = input.metadata as JsonObject;
  if (input.correctsReceiptId !== undefined) body["correctsReceiptId"] = input.correctsReceiptId;
  return body;
}

class BalanceApi {
  constructor(private readonly t: Transport) {}

  /**
   * Record a delta; resolves to its signed receipt (`created` false for a replay). Safe to retry: the
   * referenceId is the idempotency key, so the same payload gets the first receipt back; another payload
   * under the same referenceId is a ConflictError `reference_conflict` whose `receiptId` is the original.
   */
  async delta(input: DeltaInput): Promise<Receipt> {
    const response = await this.t.send("POST", path("balance", "delta"), { body: deltaBody(input), idempotencyKey: input.referenceId });
    const receipt = toReceipt(parseJson(await response.text(), { integers: "auto" }));
    return { ...receipt, created: response.status === 201 };
  }

  /** Up to 1,000 deltas in one request, each recorded independently; one outcome per item, in order. */
  async deltas(items: DeltaInput[]): Promise<BulkResult> {
    const data = object(await this.t.json("POST", path("balance", "deltas"), { body: { deltas: items.map(deltaBody) } }), "bulk response");
    return bulkResult(data, items.length);
  }

  /** The balance from verified deltas (pending apart). `verify: true` replays the record against the chain. */
  async derive(customerId: string, options: { verify?: boolean } = {}): Promise<Balance> {
    return toBalance(await this.t.json("GET", path("balance", "derive"), { query: { customerId, verify: options.verify ? "true" : undefined } }));
  }

  /** Compare your view (a balance, deltas, or both) with the record; resolution and evidence. */
  async compare(input: {
    customerId: string;
    theirBalance?: Amount;
    theirDeltas?: { referenceId: string; delta: Amount }[];
    asOf?: { customerIndex?: number; recordedAt?: number };
    tolerance?: { absolute?: Amount; basisPoints?: number };
  }): Promise<Comparison> {
    const body: JsonObject = {}; // the customer goes in the query string (the node checks it before the body)
    if (input.theirBalance !== undefined) body["theirBalance"] = amountJson(input.theirBalance, "theirBalance");
    if (input.theirDeltas !== undefined) body["theirDeltas"] = input.theirDeltas.map((d) => ({ referenceId: d.referenceId, delta: amountJson(d.delta, "delta") }));
    if (input.asOf !== undefined) body["asOf"] = input.asOf as JsonObject;
    if (input.tolerance !== undefined) {
      const tolerance: JsonObject = {};
      if (input.tolerance.absolute !== undefined) tolerance["absolute"] = amountJson(input.tolerance.absolute, "tolerance.absolute");
      if (input.tolerance.basisPoints !== undefined) tolerance["basisPoints"] = input.tolerance.basisPoints;
      body["tolerance"] = tolerance;
    }
    return toComparison(await this.t.json("POST", path("balance", "compare"), { body, query: { customerId: input.customerId } }));
  }

  /**
   * Proof bundles of the customer's verified deltas, in customerIndex order, streamed (constant memory).
   * A stream broken part way is resumed after the last bundle received, within maxRetries.
   */
  async *export(customerId: string, options: { fromIndex?: number; toIndex?: number } = {}): AsyncGenerator<ProofBundle> {
    let next = options.fromIndex ?? 0;
    let broken = 0;
    for (;;) {
      if (options.toIndex !== undefined && next > options.toIndex) return;
      const response = await this.t.send("GET", path("balance", "export"), { query: { customerId, fromIndex: next, toIndex: options.toIndex } });
      const requestId = response.headers.get("x-request-id") ?? undefined;
      try {
        for await (const line of readLines(response)) {
          if (!line.trim()) continue;
          let bundle: JsonValue;
          try {
            bundle = parseJson(line, { integers: "auto" });
          } catch {
            throw new InvalidResponseError(`export line is not JSON: ${line.slice(0, 200)}`, { requestId });
          }
          const index = isObject(bundle) && isObject(bundle["typedData"]) && isObject(bundle["typedData"]["message"]) ? bundle["typedData"]["message"]["customerIndex"] : undefined;
          if (typeof index !== "string" || !/^\d+$/.test(index)) throw new InvalidResponseError("export line has no typedData.message.customerIndex", { requestId });
          yield bundle as ProofBundle;
          next = Number(index) + 1;
        }
        return;
      } catch (error) {
        if (error instanceof InvalidResponseError) throw error;
        if (broken >= this.t.maxRetries) {
          throw new TransportError(`export stream broke at index ${next}: ${(error as Error).message}`, { code: "transport_error", requestId, cause: error });
        }
        await sleep(this.t.delayMs(broken++));
      }
    }
  }
}

async function* readLines(response: Response): AsyncGenerator<string> {
  if (response.body === null) return;
  const decoder = new TextDecoder();
  let rest = "";
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    rest += decoder.decode(chunk, { stream: true });
    let at: number;
    while ((at = rest.indexOf("\n")) >= 0) {
      yield rest.slice(0, at);
      rest = rest.slice(at + 1);
    }
  }
  rest += decoder.decode();
  if (rest) yield rest;
}

class ReceiptsApi {
  constructor(private readonly t: Transport) {}

  async get(receiptId: string): Promise<Receipt> {
    return toReceipt(await this.t.json("GET", path("receipts", receiptId)));
  }

  /** The proof bundle; ConflictError `not_anchored` while the receipt is pending. */
  async proof(receiptId: string): Promise<ProofBundle> {
    return object(await this.t.json("GET", path("receipts", receiptId, "proof")), "proof bundle");
  }

  /** Poll until the receipt reaches `status` (or a later one); WaitTimeoutError after `timeoutMs`. */
  async wait(receiptId: string, options: { status?: ReceiptStatus; timeoutMs?: number; pollIntervalMs?: number } = {}): Promise<Receipt> {
    const status = options.status ?? "verified";
    if (!(status in STATUS_ORDER)) throw new RangeError(`status must be one of ${Object.keys(STATUS_ORDER).join(", ")}`);
    const deadline = Date.now() + (options.timeoutMs ?? 60_000);
    for (;;) {
      const receipt = await this.get(receiptId);
      if ((STATUS_ORDER[receipt.status] ?? -1) >= STATUS_ORDER[status]) return receipt;
      if (Date.now() >= deadline) throw new WaitTimeoutError(`${receiptId} is still ${receipt.status} after ${options.timeoutMs ?? 60_000} ms`, { code: "wait_timeout" });
      await sleep(options.pollIntervalMs ?? 500);
    }
  }
}

/** A viem account or wallet client (`signTypedData({domain, types, primaryType, message})`). */
export interface ViemTypedDataSigner {
  signTypedData(args: { domain: Record<string, unknown>; types: Record<string, unknown>; primaryType: string; message: Record<string, unknown>; account?: unknown }): Promise<string>;
  account?: unknown;
}
/** An ethers v6 signer (`signTypedData(domain, types, value)`). */
export interface EthersTypedDataSigner {
  getAddress(): Promise<string>;
  signTypedData(domain: Record<string, unknown>, types: Record<string, unknown>, value: Record<string, unknown>): Promise<string>;
}

/** The checkpoint's typed data with integers as bigints (what viem and ethers sign). */
function signable(checkpoint: Checkpoint) {
  const { EIP712Domain: _domainFields, ...types } = checkpoint.typedData.types;
  const fields = types[checkpoint.typedData.primaryType] ?? [];
  const message: Record<string, unknown> = { ...checkpoint.typedData.message };
  for (const f of fields) if (/^u?int\d*$/.test(f.type) && message[f.name] !== undefined) message[f.name] = BigInt(String(message[f.name]));
  const domain: Record<string, unknown> = { ...checkpoint.typedData.domain };
  domain["chainId"] = BigInt(String(domain["chainId"]));
  return { domain, types, primaryType: checkpoint.typedData.primaryType, message };
}

class CheckpointsApi {
  constructor(private readonly t: Transport) {}

  /** Sign a checkpoint over verified deltas: by customer index, or by recording time (unix seconds), not both. */
  async create(input: { customerId: string; fromIndex?: number; toIndex?: number; from?: number | Date; to?: number | Date }): Promise<Checkpoint> {
    const body: JsonObject = { customerId: input.customerId };
    if (input.fromIndex !== undefined) body["fromIndex"] = input.fromIndex;
    if (input.toIndex !== undefined) body["toIndex"] = input.toIndex;
    for (const key of ["from", "to"] as const) {
      const v = input[key];
      if (v !== undefined) body[key] = v instanceof Date ? Math.floor(v.getTime() / 1000) : v;
    }
    return toCheckpoint(await this.t.json("POST", path("checkpoints"), { body, retry: "unsent" }));
  }

  async get(checkpointId: string): Promise<Checkpoint> {
    return toCheckpoint(await this.t.json("GET", path("checkpoints", checkpointId)));
  }

  async list(customerId?: string): Promise<Checkpoint[]> {
    const data = object(await this.t.json("GET", path("checkpoints"), { query: { customerId } }), "checkpoints");
    return (Array.isArray(data["checkpoints"]) ? data["checkpoints"] : []).map(toCheckpoint);
  }

  /**
   * The customer's own EIP-712 signature over the checkpoint, making it mutual. `signer` is a viem account or
   * wallet client, an ethers signer, or an already made 65-byte signature (hex).
   */
  async countersign(checkpointId: string, signer: ViemTypedDataSigner | EthersTypedDataSigner | string): Promise<Checkpoint> {
    let signature: string;
    if (typeof signer === "string") signature = signer;
    else {
      const typed = signable(await this.get(checkpointId));
      if ("getAddress" in signer && signer.signTypedData.length >= 3) {
        signature = await (signer as EthersTypedDataSigner).signTypedData(typed.domain, typed.types, typed.message);
      } else {
        const viem = signer as ViemTypedDataSigner;
        signature = await viem.signTypedData({ ...typed, ...(viem.account && viem.account !== signer ? { account: viem.account } : {}) });
      }
    }
    if (!signature.startsWith("0x")) signature = `0x${signature}`;
    return toCheckpoint(await this.t.json("POST", path("checkpoints", checkpointId, "countersign"), { body: { signature }, retry: "unsent" }));
  }
}

class WebhooksApi {
  constructor(private readonly t: Transport) {}

  /** A new endpoint; its `secret` (`whsec_…`) is in the answer and nowhere else. */
  async create(input: { url: string; events: string[]; aggregate?: boolean }): Promise<WebhookEndpoint> {
    return object(await this.t.json("POST", path("webhooks"), { body: input as JsonObject, retry: "unsent" }), "webhook") as WebhookEndpoint;
  }
  async list(): Promise<WebhookEndpoint[]> {
    const data = object(await this.t.json("GET", path("webhooks")), "webhooks");
    return (Array.isArray(data["webhooks"]) ? data["webhooks"] : []) as WebhookEndpoint[];
  }
  async get(id: string): Promise<WebhookEndpoint> {
    return object(await this.t.json("GET", path("webhooks", id)), "webhook") as WebhookEndpoint;
  }
  async update(id: string, patch: { url?: string; events?: string[]; enabled?: boolean; aggregate?: boolean }): Promise<WebhookEndpoint> {
    return object(await this.t.json("PATCH", path("webhooks", id), { body: patch as JsonObject }), "webhook") as WebhookEndpoint;
  }
  async delete(id: string): Promise<void> {
    await this.t.json("DELETE", path("webhooks", id));
  }
  /** A new secret; the old one keeps signing alongside for `graceSeconds` (default 86400). */
  async rotateSecret(id: string, options: { graceSeconds?: number } = {}): Promise<WebhookEndpoint> {
    return object(await this.t.json("POST", path("webhooks", id, "rotate-secret"), { body: options as JsonObject, retry: "unsent" }), "webhook") as WebhookEndpoint;
  }
  async test(id: string): Promise<{ deliveryId: string }> {
    return object(await this.t.json("POST", path("webhooks", id, "test"), { retry: "unsent" }), "test") as { deliveryId: string };
  }
  async deliveries(id: string, options: { status?: "pending" | "delivered" | "failed" } = {}): Promise<JsonObject[]> {
    const data = object(await this.t.json("GET", path("webhooks", id, "deliveries"), { query: { status: options.status } }), "deliveries");
    return (Array.isArray(data["deliveries"]) ? data["deliveries"] : []).filter(isObject);
  }
  async redeliver(id: string, deliveryId: string): Promise<{ deliveryId: string; status: string }> {
    return object(await this.t.json("POST", path("webhooks", id, "deliveries", deliveryId, "redeliver")), "redelivery") as { deliveryId: string; status: string };
  }
  /** Verify a delivery's signature headers against its raw body and return the event (see webhooks.ts). */
  constructEvent(rawBody: string | Uint8Array, headers: HeaderBag, secret: string | string[], options?: ConstructEventOptions): WebhookEvent {
    return constructEvent(rawBody, headers, secret, options);
  }
}

/** A CloudEvent as the node maps it (docs: README, "Usage as CloudEvents"); other attributes pass through. */
export interface CloudEventInput {
  specversion?: "1.0";
  id: string;
  source: string;
  type: string;
  /** The customer. */
  subject: string;
  time?: string;
  datacontenttype?: "application/json";
  data?: Record<string, unknown>;
  [attribute: string]: unknown;
}

export interface EventMapping {
  type: string;
  quantityField: string;
  multiplier: string;
  reasonTemplate: string | null;
  createdAt: string;
  updatedAt: string;
}

class EventsApi {
  constructor(private readonly t: Transport) {}

  /**
   * Record usage sent as CloudEvents: one event (its receipt; `created` false when the same `{source}#{id}`
   * came before) or up to 1,000 (one outcome per event, in order). Safe to retry: an event is its own
   * idempotency key.
   */
  async send(events: CloudEventInput): Promise<Receipt>;
  async send(events: CloudEventInput[]): Promise<BulkResult>;
  async send(events: CloudEventInput | CloudEventInput[]): Promise<Receipt | BulkResult> {
    const withVersion = (e: CloudEventInput) => ({ specversion: "1.0", ...e }) as JsonObject;
    if (!Array.isArray(events)) {
      const response = await this.t.send("POST", path("events"), { body: withVersion(events), contentType: "application/cloudevents+json" });
      return { ...toReceipt(parseJson(await response.text(), { integers: "auto" })), created: response.status === 201 };
    }
    const data = object(
      await this.t.json("POST", path("events"), { body: events.map(withVersion), contentType: "application/cloudevents-batch+json" }),
      "events response",
    );
    return bulkResult(data, events.length);
  }

  /** The tenant's mappings of event types to deltas, and its referenceId form (admin). */
  async mappings(): Promise<{ referenceIdMode: "source#id" | "id"; mappings: EventMapping[] }> {
    return object(await this.t.json("GET", path("events", "mappings")), "mappings") as unknown as { referenceIdMode: "source#id" | "id"; mappings: EventMapping[] };
  }

  /** Events of `type` become `data.<quantityField> × multiplier` credits, with a reason from the template (admin). */
  async putMapping(type: string, mapping: { quantityField: string; multiplier: string | number; reasonTemplate?: string }): Promise<EventMapping> {
    const body: JsonObject = { quantityField: mapping.quantityField, multiplier: String(mapping.multiplier) };
    if (mapping.reasonTemplate !== undefined) body["reasonTemplate"] = mapping.reasonTemplate;
    return object(await this.t.json("PUT", `/v1/events/mappings/${encodeURIComponent(type)}`, { body }), "mapping") as unknown as EventMapping;
  }

  async deleteMapping(type: string): Promise<void> {
    await this.t.json("DELETE", `/v1/events/mappings/${encodeURIComponent(type)}`);
  }
}

function bulkResult(data: JsonObject, sent: number): BulkResult {
  const results = (Array.isArray(data["results"]) ? data["results"] : []).map((raw) => {
    const item = object(raw, "bulk result");
    const status = Number(item["status"]);
    if (item["receipt"] !== null && item["receipt"] !== undefined) return { status, receipt: toReceipt(item["receipt"]), error: null };
    return { status, receipt: null, error: errorFromProblem(status, item["problem"]) };
  });
  if (results.length !== sent) throw new InvalidResponseError(`${sent} items sent, ${results.length} results received`);
  return { results, created: Number(data["created"]), replayed: Number(data["replayed"]), failed: Number(data["failed"]) };
}

/** A PacSpace node's API: `balance`, `receipts`, `checkpoints`, `webhooks`, `events`. */
export class PacSpace {
  readonly balance: BalanceApi;
  readonly receipts: ReceiptsApi;
  readonly checkpoints: CheckpointsApi;
  readonly webhooks: WebhooksApi;
  readonly events: EventsApi;
  private readonly transport: Transport;

  constructor(options: PacSpaceOptions) {
    this.transport = new Transport(options);
    this.balance = new BalanceApi(this.transport);
    this.receipts = new ReceiptsApi(this.transport);
    this.checkpoints = new CheckpointsApi(this.transport);
    this.webhooks = new WebhooksApi(this.transport);
    this.events = new EventsApi(this.transport);
  }

  /** The calling key: id, tenant, scopes, customer. */
  async me(): Promise<{ keyId: string; tenant: string; scopes: string[]; customerId: string | null }> {
    return object(await this.transport.json("GET", path("me")), "me") as { keyId: string; tenant: string; scopes: string[]; customerId: string | null };
  }
}
