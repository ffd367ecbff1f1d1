// Runs the committed protocol vectors (tests/vectors/, format in its README) through the TypeScript
// verifier's command line, in this process, against a JSON-RPC replay server written here from the
// README's rules: answers only the requests the vector's transcript recorded.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

import { verifyCli } from "../../dist/verify/index.js";

export const REPO = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..");
export const VECTORS = join(REPO, "tests", "vectors");

export function vectorFiles() {
  const out = [];
  for (const version of readdirSync(VECTORS).filter((d) => /^v\d+$/.test(d)).sort()) {
    for (const mode of readdirSync(join(VECTORS, version)).sort()) {
      for (const file of readdirSync(join(VECTORS, version, mode)).filter((f) => f.endsWith(".json")).sort()) {
        out.push(join(VECTORS, version, mode, file));
      }
    }
  }
  return out;
}

export const vectorId = (path) => relative(VECTORS, path).replace(/\.json$/, "");

function normalise(value) {
  if (typeof value === "string") return value.startsWith("0x") ? value.toLowerCase() : value;
  if (Array.isArray(value)) return value.map(normalise);
  if (value !== null && typeof value === "object") {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, normalise(value[k])]));
  }
  return value;
}

const requestKey = (method, params) => `${method} ${JSON.stringify(normalise(params))}`;

/** Serve a transcript on 127.0.0.1 while `body(url)` runs. */
export async function withReplay(transcript, body) {
  const answers = new Map(transcript.map((e) => [requestKey(e.method, e.params), e]));
  const misses = [];
  const answer = (request) => {
    const entry = answers.get(requestKey(String(request?.method), request?.params ?? []));
    if (entry === undefined) {
      misses.push(requestKey(String(request?.method), request?.params ?? []));
      return { jsonrpc: "2.0", id: request?.id ?? null, error: { code: -32001, message: "not in the vector's transcript" } };
    }
    return "error" in entry ? { jsonrpc: "2.0", id: request.id, error: entry.error } : { jsonrpc: "2.0", id: request.id, result: entry.result };
  };
  const server = createServer((req, res) => {
    let text = "";
    req.on("data", (c) => (text += c));
    req.on("end", () => {
      const request = JSON.parse(text);
      const reply = Array.isArray(request) ? request.map(answer) : answer(request);
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end(JSON.stringify(reply));
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    return await body(`http://127.0.0.1:${server.address().port}`, misses);
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

/** A port where nothing listens. */
async function deadPort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = server.address().port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Vector integers may be beyond 2^53: the vector files are read with the SDK's exact parser. */
import { parseJson, stringifyJson } from "../../dist/json.js";

export function loadVector(path) {
  return parseJson(readFileSync(path, "utf8"), { integers: "auto" });
}

/** Runs one vector; resolves to {exit, failed, stdout, stderr}. */
export async function runVector(vector) {
  const dir = mkdtempSync(join(tmpdir(), "pacspace-vector-"));
  try {
    return await withReplay(vector.rpc ?? [], async (replayUrl) => {
      const rpc = vector.rpcUnreachable ? `http://127.0.0.1:${await deadPort()}` : replayUrl;
      const mode = vector.mode;
      const input = join(dir, mode === "derive" ? "input.jsonl" : "input.json");
      const lines = (items) => items.map((l) => stringifyJson(l) + "\n").join("");
      if ("inputText" in vector) writeFileSync(input, vector.inputText);
      else if (mode === "derive") writeFileSync(input, lines(vector.input));
      else if (mode !== "checkpoint") writeFileSync(input, stringifyJson(vector.input));
      const options = ["--rpc", rpc, "--json", "--confirmations", String(vector.options.confirmations)];
      if (vector.options.contract) options.push("--contract", vector.options.contract);
      let argv;
      if (mode === "bundle") argv = [input, ...options];
      else if (mode === "evidence") argv = ["evidence", input, ...options];
      else if (mode === "derive") argv = ["derive", input, "--quiet", ...options];
      else {
        const exportFile = join(dir, "export.jsonl");
        writeFileSync(exportFile, lines(vector.export));
        argv = ["checkpoint", "inputText" in vector ? vector.inputText : vector.input, "--export", exportFile, "--quiet", ...options];
      }
      const out = [];
      const err = [];
      const exit = await verifyCli(argv, { out: (l) => out.push(l), err: (l) => err.push(l) }, {});
      const stdout = out.join("\n");
      let failed = [];
      if (exit !== 2) {
        const report = JSON.parse(stdout);
        failed = mode === "derive" ? [...new Set(report.failures.map((f) => f.check))].sort() : [...new Set(report.checks.filter((c) => !c.ok).map((c) => c.name))].sort();
      }
      return { exit, failed, stdout, stderr: err.join("\n") };
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
