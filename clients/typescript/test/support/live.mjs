// What the live tests need: the node, its API key and its chain, from the environment that
// tests/integration/test_typescript_sdk.py (or a person with ./scripts/run) gives them.
import { randomUUID } from "node:crypto";
import { createServer, request } from "node:http";

import { PacSpace } from "../../dist/index.js";

export function live() {
  const { PACSPACE_BASE_URL: baseUrl, PACSPACE_API_KEY: apiKey, PACSPACE_RPC_URL: rpcUrl } = process.env;
  if (!baseUrl || !apiKey || !rpcUrl) {
    throw new Error("the live tests need PACSPACE_BASE_URL, PACSPACE_API_KEY and PACSPACE_RPC_URL (a node from ./scripts/run)");
  }
  return { baseUrl, apiKey, rpcUrl, client: new PacSpace({ baseUrl, apiKey }) };
}

export const unique = (prefix) => `${prefix}_${randomUUID().replace(/-/g, "").slice(0, 16)}`;

/**
 * A real HTTP proxy in front of the node whose `script` decides, per request, what happens:
 * "forward", "drop-after-forward" (the node acts, the client's connection is cut before the answer),
 * "cut-body-in-half" (half of the answer's body arrives, then the connection is cut),
 * or {status, headers} (answered here, never forwarded). Every request's headers are kept.
 */
export async function proxy(target, script) {
  const seen = [];
  const server = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const step = script[seen.length] ?? "forward";
      seen.push({ method: req.method, url: req.url, headers: req.headers });
      if (typeof step === "object") {
        res.writeHead(step.status, { "Content-Type": "application/problem+json", ...step.headers });
        res.end(JSON.stringify({ type: "about:blank", title: "busy", status: step.status, code: "busy", detail: "try later", errors: [] }));
        return;
      }
      const upstream = new URL(target);
      const forwarded = request(
        { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          const body = [];
          answer.on("data", (c) => body.push(c));
          answer.on("end", () => {
            if (step === "drop-after-forward") {
              req.socket.destroy();
              return;
            }
            if (step === "cut-body-in-half") {
              // the first half of the body, then the connection dies: a stream broken part way
              const whole = Buffer.concat(body);
              const { "content-length": _length, ...headers } = answer.headers;
              res.writeHead(answer.statusCode, headers);
              res.write(whole.subarray(0, Math.floor(whole.length / 2)), () => setTimeout(() => req.socket.destroy(), 20));
              return;
            }
            res.writeHead(answer.statusCode, answer.headers);
            res.end(Buffer.concat(body));
          });
        },
      );
      forwarded.end(Buffer.concat(chunks));
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    seen,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
