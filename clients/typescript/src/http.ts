/**
 * Sending requests: one `X-Request-Id` and one `Idempotency-Key` per call, kept across its retries;
 * retries with exponential backoff and jitter on network errors, 429 and 502/503/504 (honouring
 * Retry-After); bodies read with the exact-integer JSON parser.
 */

import { randomUUID } from "node:crypto";

import { errorFromProblem, InvalidResponseError, TransportError, type PacSpaceError } from "./errors.js";
import { parseJson, stringifyJson, type JsonValue } from "./json.js";

export const USER_AGENT = "pacspace-sdk-js/0.1.0";
const MAX_BACKOFF_MS = 10_000;
/** A Retry-After longer than this is not slept through inside a call: RateLimitedError goes to the caller. */
const MAX_RETRY_AFTER_MS = 30_000;
const RETRIED_STATUSES = new Set([429, 502, 503, 504]);

export type Query = Record<string, string | number | boolean | undefined>;

export interface TransportOptions {
  apiKey: string;
  baseUrl: string;
  timeoutMs?: number;
  maxRetries?: number;
  backoffMs?: number;
  fetch?: typeof fetch;
}

/**
 * `always`: reads and idempotent writes, retried on any transient failure.
 * `unsent`: writes that are not idempotent (creating a key or webhook): retried only when the node
 * cannot have acted (the connection was refused, or it answered 429/503 without acting).
 */
export type RetryPolicy = "always" | "unsent";

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  rawBody?: string;
  contentType?: string;
  headers?: Record<string, string>;
  retry?: RetryPolicy;
  idempotencyKey?: string;
  stream?: boolean;
}

export const path = (...segments: (string | number)[]): string => "/v1/" + segments.map((s) => encodeURIComponent(String(s))).join("/");

/** Retry-After in milliseconds (seconds or an HTTP date), or undefined. */
export function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined;
  if (/^\s*\d+(\.\d+)?\s*$/.test(header)) return Number(header) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function notSent(error: unknown): boolean {
  const code = (error as { cause?: { code?: string } }).cause?.code;
  return code === "ECONNREFUSED" || code === "ENOTFOUND" || code === "EAI_AGAIN" || code === "UND_ERR_CONNECT_TIMEOUT";
}

export class Transport {
  readonly baseUrl: string;
  readonly maxRetries: number;
  private readonly apiKey: string;
  private readonly timeoutMs: number;
  private readonly backoffMs: number;
  private readonly fetchFn: typeof fetch;

  constructor(options: TransportOptions) {
    if (!options.apiKey) throw new TypeError("apiKey is required");
    if (!options.baseUrl) throw new TypeError("baseUrl is required (for example http://127.0.0.1:8000)");
    this.apiKey = options.apiKey;
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.maxRetries = options.maxRetries ?? 3;
    this.backoffMs = options.backoffMs ?? 200;
    this.fetchFn = options.fetch ?? fetch;
    if (this.maxRetries < 0 || this.backoffMs < 0) throw new RangeError("maxRetries and backoffMs must not be negative");
  }

  delayMs(attempt: number): number {
    const base = Math.min(MAX_BACKOFF_MS, this.backoffMs * 2 ** attempt);
    return base / 2 + Math.random() * (base / 2);
  }

  /** Send one call, retrying as its policy allows; resolves to the response (2xx) or throws a typed error. */
  async send(method: string, route: string, options: RequestOptions = {}): Promise<Response> {
    const url = new URL(this.baseUrl + route);
    for (const [k, v] of Object.entries(options.query ?? {})) if (v !== undefined) url.searchParams.set(k, String(v));
    const requestId = `req_${randomUUID().replace(/-/g, "")}`;
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.apiKey}`,
      Accept: "application/json",
      "User-Agent": USER_AGENT,
      "X-Request-Id": requestId,
      ...options.headers,
    };
    let body: string | undefined;
    if (options.rawBody !== undefined) body = options.rawBody;
    else if (options.body !== undefined) body = stringifyJson(options.body);
    if (body !== undefined) headers["Content-Type"] = options.contentType ?? "application/json";
    // The same key on every attempt: the node answers a retry of an acted-on write with its first result.
    if (method !== "GET") headers["Idempotency-Key"] = options.idempotencyKey ?? randomUUID();
    const retry = options.retry ?? "always";
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await this.fetchFn(url, { method, headers, body, signal: AbortSignal.timeout(this.timeoutMs) });
      } catch (error) {
        const allowed = retry === "always" || notSent(error);
        if (attempt < this.maxRetries && allowed) {
          await sleep(this.delayMs(attempt));
          continue;
        }
        const why = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).name;
        throw new TransportError(`${method} ${route}: no response (${why}) after ${attempt + 1} attempt(s)`, { code: "transport_error", requestId, cause: error });
      }
      if (response.ok) return response;
      const wait = retryAfterMs(response.headers.get("retry-after"));
      const retriable = RETRIED_STATUSES.has(response.status) && (retry === "always" || response.status === 429 || response.status === 503);
      if (attempt < this.maxRetries && retriable && (wait === undefined || wait <= MAX_RETRY_AFTER_MS)) {
        await response.body?.cancel();
        await sleep(wait ?? this.delayMs(attempt));
        continue;
      }
      throw await this.errorOf(response, requestId, wait);
    }
  }

  private async errorOf(response: Response, requestId: string, wait: number | undefined): Promise<PacSpaceError> {
    const text = await response.text().catch(() => "");
    let body: JsonValue | undefined;
    try {
      body = parseJson(text, { integers: "auto" });
    } catch {
      body = undefined;
    }
    const id = response.headers.get("x-request-id") ?? requestId;
    const error = errorFromProblem(response.status, body, { requestId: id, retryAfter: wait === undefined ? undefined : wait / 1000 });
    if (body === undefined && text) (error as { body: unknown }).body = text.slice(0, 500);
    return error;
  }

  /** Send a call and read its JSON body. */
  async json(method: string, route: string, options: RequestOptions = {}): Promise<JsonValue> {
    const response = await this.send(method, route, options);
    if (response.status === 204) return null;
    const text = await response.text();
    try {
      return parseJson(text, { integers: "auto" });
    } catch {
      throw new InvalidResponseError(`response is not JSON: ${text.slice(0, 200)}`, { status: response.status, requestId: response.headers.get("x-request-id") ?? undefined });
    }
  }
}
