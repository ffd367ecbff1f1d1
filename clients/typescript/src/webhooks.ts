/**
 * Verifying the node's webhook deliveries (docs/WEBHOOKS.md), as Stripe's `constructEvent` does:
 * `Pacspace-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>` (several v1= during a
 * secret rotation) and the Standard Webhooks headers (`webhook-id`, `webhook-timestamp`,
 * `webhook-signature: v1,<base64>`). Every scheme present must verify, within the tolerance.
 */

import { createHmac, timingSafeEqual } from "node:crypto";

import { WebhookSignatureError } from "./errors.js";
import { isObject, parseJson, type JsonObject } from "./json.js";

export const DEFAULT_TOLERANCE_SECONDS = 300;

export type HeaderBag = Headers | Record<string, string | string[] | undefined>;

export interface ConstructEventOptions {
  /** How far the signed timestamp may be from now, in seconds (default 300). */
  toleranceSeconds?: number;
  /** Unix seconds to judge the timestamp against (default: the clock). */
  now?: number;
}

export interface WebhookEvent extends JsonObject {
  id: string;
  type: string;
}

function header(headers: HeaderBag, name: string): string | undefined {
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
    if (key.toLowerCase() === wanted) return Array.isArray(value) ? value.join(",") : value;
  }
  return undefined;
}

function bytesOf(body: string | Uint8Array): Buffer {
  return typeof body === "string" ? Buffer.from(body, "utf8") : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
}

function sameBytes(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function checkTimestamp(t: number, options: ConstructEventOptions): void {
  const now = options.now ?? Math.floor(Date.now() / 1000);
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (Math.abs(now - t) > tolerance) {
    throw new WebhookSignatureError(`the signed timestamp ${t} is ${Math.abs(now - t)} s from now; the tolerance is ${tolerance} s`, { code: "timestamp_outside_tolerance" });
  }
}

function verifyPacspace(value: string, body: Buffer, secrets: string[], options: ConstructEventOptions): void {
  const pairs = value.split(",").map((part) => part.trim().split("=", 2) as [string, string | undefined]);
  const t = pairs.find(([k]) => k === "t")?.[1];
  const signatures = pairs.filter(([k, v]) => k === "v1" && v !== undefined).map(([, v]) => v!);
  if (t === undefined || !/^\d+$/.test(t) || !signatures.length) {
    throw new WebhookSignatureError("Pacspace-Signature is not t=<unix>,v1=<hex>", { code: "malformed_signature_header" });
  }
  checkTimestamp(Number(t), options);
  const expected = secrets.map((s) => createHmac("sha256", s).update(`${t}.`).update(body).digest());
  const ok = signatures.some((sig) => /^[0-9a-f]{64}$/i.test(sig) && expected.some((e) => sameBytes(e, Buffer.from(sig, "hex"))));
  if (!ok) throw new WebhookSignatureError("no v1 signature of Pacspace-Signature matches the body and secret", { code: "signature_mismatch" });
}

function verifyStandard(headers: HeaderBag, body: Buffer, secrets: string[], options: ConstructEventOptions): void {
  const id = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signature = header(headers, "webhook-signature");
  if (!id || !timestamp || !signature || !/^\d+$/.test(timestamp)) {
    throw new WebhookSignatureError("webhook-id, webhook-timestamp and webhook-signature must all be present", { code: "malformed_signature_header" });
  }
  checkTimestamp(Number(timestamp), options);
  const expected = secrets.map((s) =>
    createHmac("sha256", Buffer.from(s.startsWith("whsec_") ? s.slice(6) : s, "base64"))
      .update(`${id}.${timestamp}.`)
      .update(body)
      .digest(),
  );
  const given = signature
    .split(" ")
    .map((part) => part.split(",", 2))
    .filter(([version, sig]) => version === "v1" && sig)
    .map(([, sig]) => Buffer.from(sig!, "base64"));
  if (!given.some((g) => expected.some((e) => sameBytes(e, g)))) {
    throw new WebhookSignatureError("no v1 signature of webhook-signature matches the body and secret", { code: "signature_mismatch" });
  }
}

/**
 * Verify a delivery and return its event. `rawBody` must be the exact bytes received (not re-serialised
 * JSON); `secret` is the endpoint's `whsec_…` (or several, while rotating). Throws WebhookSignatureError.
 */
export function constructEvent(rawBody: string | Uint8Array, headers: HeaderBag, secret: string | string[], options: ConstructEventOptions = {}): WebhookEvent {
  const secrets = (Array.isArray(secret) ? secret : [secret]).filter((s) => s);
  if (!secrets.length) throw new TypeError("a webhook secret is required");
  const body = bytesOf(rawBody);
  const pacspace = header(headers, "pacspace-signature");
  const standard = header(headers, "webhook-signature");
  if (pacspace === undefined && standard === undefined) {
    throw new WebhookSignatureError("no Pacspace-Signature or webhook-signature header", { code: "missing_signature" });
  }
  if (pacspace !== undefined) verifyPacspace(pacspace, body, secrets, options);
  if (standard !== undefined) verifyStandard(headers, body, secrets, options);
  let event;
  try {
    event = parseJson(body.toString("utf8"), { integers: "auto" });
  } catch {
    throw new WebhookSignatureError("the signed body is not JSON", { code: "invalid_body" });
  }
  if (!isObject(event) || typeof event["type"] !== "string") throw new WebhookSignatureError("the signed body is not an event", { code: "invalid_body" });
  return event as WebhookEvent;
}
