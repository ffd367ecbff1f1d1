/** The SDK's errors: one class per kind of answer, each carrying the node's problem+json `code` and request id. */

import { isObject, type JsonValue } from "./json.js";

export interface FieldProblem {
  field: string;
  message: string;
}

export interface ErrorInit {
  status?: number;
  code?: string;
  errors?: FieldProblem[];
  requestId?: string;
  receiptId?: string;
  body?: unknown;
  retryAfter?: number;
  cause?: unknown;
}

/** Base of every SDK error. `status` is undefined when no HTTP response arrived. */
export class PacSpaceError extends Error {
  readonly status: number | undefined;
  /** The problem's machine-readable `code` (e.g. `reference_conflict`, `not_anchored`, `rate_limited`). */
  readonly code: string;
  /** One entry per bad field, for 4xx validation problems. */
  readonly errors: FieldProblem[];
  /** The node's `X-Request-Id` of the request, to quote in a support request or find in its logs. */
  readonly requestId: string | undefined;
  /** For `reference_conflict`: the receipt already recorded under the referenceId. */
  readonly receiptId: string | undefined;
  readonly body: unknown;

  constructor(detail: string, init: ErrorInit = {}) {
    super(init.status !== undefined ? `${init.status} ${init.code ?? "error"}: ${detail}` : detail, { cause: init.cause });
    this.name = new.target.name;
    this.status = init.status;
    this.code = init.code ?? "error";
    this.errors = init.errors ?? [];
    this.requestId = init.requestId;
    this.receiptId = init.receiptId;
    this.body = init.body;
  }
}

/** 400, 413, 415 or 422: the request was refused; `errors` names each bad field. */
export class ValidationError extends PacSpaceError {}
/** 401: the API key is missing, wrong, revoked or expired. */
export class AuthenticationError extends PacSpaceError {}
/** 403: the API key lacks the scope. */
export class PermissionDeniedError extends PacSpaceError {}
/** 404: no such id for this key's tenant (or customer, for a customer-scoped key). */
export class NotFoundError extends PacSpaceError {}
/** 409: `reference_conflict` (`receiptId` names the existing receipt) or `not_anchored`. */
export class ConflictError extends PacSpaceError {}
/** 429: `retryAfter` is the node's Retry-After in seconds, when it sent one. */
export class RateLimitedError extends PacSpaceError {
  readonly retryAfter: number | undefined;
  constructor(detail: string, init: ErrorInit = {}) {
    super(detail, init);
    this.retryAfter = init.retryAfter;
  }
}
/** 5xx from the node or a proxy in front of it. */
export class ServerError extends PacSpaceError {}
/** No usable response (connection refused, timeout, a broken stream) after the retries allowed. */
export class TransportError extends PacSpaceError {}
/** `receipts.wait` gave up before the receipt reached the status. */
export class WaitTimeoutError extends PacSpaceError {}
/** The node answered with something that is not the documented JSON. */
export class InvalidResponseError extends PacSpaceError {}
/** `webhooks.constructEvent`: the signature, timestamp or headers do not verify. */
export class WebhookSignatureError extends PacSpaceError {}

function classFor(status: number): typeof PacSpaceError {
  if (status === 401) return AuthenticationError;
  if (status === 403) return PermissionDeniedError;
  if (status === 404) return NotFoundError;
  if (status === 409) return ConflictError;
  if (status === 429) return RateLimitedError;
  if (status >= 500) return ServerError;
  if (status >= 400) return ValidationError;
  return InvalidResponseError;
}

/** The typed error of a problem+json body (or whatever a proxy sent instead). */
export function errorFromProblem(status: number, body: JsonValue | undefined, init: ErrorInit = {}): PacSpaceError {
  const problem = isObject(body) ? body : {};
  const detail = typeof problem["detail"] === "string" ? problem["detail"] : typeof problem["title"] === "string" ? problem["title"] : `HTTP ${status}`;
  const code = typeof problem["code"] === "string" ? problem["code"] : `http_${status}`;
  const errors = Array.isArray(problem["errors"])
    ? problem["errors"].filter(isObject).map((e) => ({ field: String(e["field"] ?? ""), message: String(e["message"] ?? "") }))
    : [];
  const receiptId = typeof problem["receiptId"] === "string" ? problem["receiptId"] : undefined;
  const Class = classFor(status);
  return new Class(detail, { ...init, status, code, errors, receiptId, body: body ?? init.body });
}
