/**
 * A JSON parser that keeps integers exact (bigint) and reports duplicate member names.
 *
 * `JSON.parse` turns every number into a double, so an int256 amount beyond 2^53 loses digits, and
 * it silently keeps the last of two members with the same name. The node's API carries amounts as
 * JSON numbers of any size, and a proof bundle with a duplicate key is ambiguous (the verifier's
 * `format` check names it), so both need a parser of their own.
 *
 * - `integers: "bigint"`: every integer literal (no fraction, no exponent) is a bigint; the others
 *   are numbers. What the verifier uses: `1` and `1.0` are different things there.
 * - `integers: "auto"`: safe integers are numbers, larger ones bigints. What the SDK uses.
 * - `NaN`, `Infinity` and `-Infinity` are read as numbers when `constants` is set (some JSON
 *   producers write them; the verifier must call such a value "not an integer", not "not JSON").
 */

export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export interface ParseOptions {
  integers?: "bigint" | "auto";
  constants?: boolean;
  /** Receives the name of each member that repeats an earlier member of the same object. */
  duplicates?: string[];
}

export class JsonSyntaxError extends SyntaxError {}

const MAX_DEPTH = 1000; // deeper nesting is refused rather than risking the stack
const MAX_INTEGER_DIGITS = 4300; // an integer literal longer than this is refused, as Python's int() does
const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);
const ESCAPES: Record<string, string> = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

class Parser {
  private i = 0;
  private depth = 0;
  constructor(
    private readonly text: string,
    private readonly options: ParseOptions,
  ) {}

  fail(why: string): never {
    throw new JsonSyntaxError(`${why} at position ${this.i}`);
  }

  skip(): void {
    while (this.i < this.text.length && WHITESPACE.has(this.text.charCodeAt(this.i))) this.i++;
  }

  document(): JsonValue {
    this.skip();
    const value = this.value();
    this.skip();
    if (this.i !== this.text.length) this.fail("extra data after the JSON value");
    return value;
  }

  value(): JsonValue {
    const c = this.text[this.i];
    if (c === "{") return this.object();
    if (c === "[") return this.array();
    if (c === '"') return this.string();
    if (c === "t" && this.text.startsWith("true", this.i)) return (this.i += 4), true;
    if (c === "f" && this.text.startsWith("false", this.i)) return (this.i += 5), false;
    if (c === "n" && this.text.startsWith("null", this.i)) return (this.i += 4), null;
    if (this.options.constants) {
      for (const [word, value] of [["NaN", NaN], ["Infinity", Infinity], ["-Infinity", -Infinity]] as const) {
        if (this.text.startsWith(word, this.i)) return (this.i += word.length), value;
      }
    }
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) return this.number();
    return this.fail(c === undefined ? "unexpected end of the text" : `unexpected character ${JSON.stringify(c)}`);
  }

  nest(): void {
    if (++this.depth > MAX_DEPTH) this.fail(`nested deeper than ${MAX_DEPTH} levels`);
  }

  object(): JsonObject {
    this.nest();
    this.i++;
    const out: JsonObject = {};
    const seen = new Set<string>();
    this.skip();
    if (this.text[this.i] === "}") {
      this.i++;
      this.depth--;
      return out;
    }
    for (;;) {
      this.skip();
      if (this.text[this.i] !== '"') this.fail("expected a member name in double quotes");
      const key = this.string();
      this.skip();
      if (this.text[this.i] !== ":") this.fail("expected ':'");
      this.i++;
      this.skip();
      const value = this.value();
      if (seen.has(key)) this.options.duplicates?.push(key);
      seen.add(key);
      // defineProperty: a member named "__proto__" is data, never the object's prototype
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      this.skip();
      const c = this.text[this.i++];
      if (c === "}") break;
      if (c !== ",") this.fail("expected ',' or '}'");
    }
    this.depth--;
    return out;
  }

  array(): JsonValue[] {
    this.nest();
    this.i++;
    const out: JsonValue[] = [];
    this.skip();
    if (this.text[this.i] === "]") {
      this.i++;
      this.depth--;
      return out;
    }
    for (;;) {
      this.skip();
      out.push(this.value());
      this.skip();
      const c = this.text[this.i++];
      if (c === "]") break;
      if (c !== ",") this.fail("expected ',' or ']'");
    }
    this.depth--;
    return out;
  }

  string(): string {
    this.i++;
    let out = "";
    let start = this.i;
    for (;;) {
      if (this.i >= this.text.length) this.fail("unterminated string");
      const code = this.text.charCodeAt(this.i);
      if (code === 0x22) break;
      if (code < 0x20) this.fail("control character in a string");
      if (code === 0x5c) {
        out += this.text.slice(start, this.i);
        const e = this.text[this.i + 1];
        if (e === "u") {
          const hex = this.text.slice(this.i + 2, this.i + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) this.fail("bad \\u escape");
          out += String.fromCharCode(parseInt(hex, 16));
          this.i += 6;
        } else if (e !== undefined && e in ESCAPES) {
          out += ESCAPES[e];
          this.i += 2;
        } else {
          this.fail("bad escape");
        }
        start = this.i;
        continue;
      }
      this.i++;
    }
    out += this.text.slice(start, this.i);
    this.i++;
    return out;
  }

  number(): number | bigint {
    const match = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/.exec(this.text.slice(this.i, this.i + 100_000));
    if (match === null) return this.fail("bad number");
    const literal = match[0];
    this.i += literal.length;
    if (match[2] !== undefined || match[3] !== undefined) return Number(literal);
    if (match[1]!.length > MAX_INTEGER_DIGITS) this.fail(`an integer of more than ${MAX_INTEGER_DIGITS} digits`);
    const big = BigInt(literal);
    if (this.options.integers === "auto" && big >= BigInt(Number.MIN_SAFE_INTEGER) && big <= BigInt(Number.MAX_SAFE_INTEGER)) {
      return Number(big);
    }
    return big;
  }
}

/** Parse JSON text; throws JsonSyntaxError. See the module comment for the options. */
export function parseJson(text: string, options: ParseOptions = {}): JsonValue {
  return new Parser(text, { integers: "bigint", ...options }).document();
}

/** JSON text of a value that may hold bigints (written as plain integer literals). */
export function stringifyJson(value: unknown, indent?: number): string {
  const marks = new Map<string, bigint>();
  let n = 0;
  const text = JSON.stringify(
    value,
    (_key, v: unknown) => {
      if (typeof v !== "bigint") return v;
      const mark = `\u0000big${n++}\u0000`;
      marks.set(mark, v);
      return mark;
    },
    indent,
  );
  if (text === undefined || marks.size === 0) return text ?? "null";
  return text.replace(/"\\u0000big\d+\\u0000"/g, (quoted) => marks.get(JSON.parse(quoted) as string)!.toString());
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
