import assert from "node:assert/strict";
import { test } from "node:test";

import { parseJson, stringifyJson } from "../../dist/json.js";

test("integers beyond 2^53 stay exact, both ways", () => {
  const text = '{"delta":-57896044618658097711785492504343953926634992332820282019728792003956564819968,"n":7,"f":1.5}';
  const value = parseJson(text, { integers: "auto" });
  assert.equal(value.delta, -(2n ** 255n));
  assert.equal(value.n, 7);
  assert.equal(value.f, 1.5);
  assert.equal(stringifyJson(value), text);
});

test("duplicate member names are reported; the last value wins", () => {
  const duplicates = [];
  const value = parseJson('{"a":1,"b":{"c":1,"c":2},"a":3}', { duplicates });
  assert.deepEqual(duplicates, ["c", "a"]);
  assert.equal(value.a, 3n);
  assert.equal(value.b.c, 2n);
});

test("a member named __proto__ is data, not a prototype", () => {
  const value = parseJson('{"__proto__":{"polluted":true}}');
  assert.equal(Object.getPrototypeOf(value), Object.prototype);
  assert.deepEqual(Object.keys(value), ["__proto__"]);
  assert.equal({}.polluted, undefined);
});

test("what is not JSON is refused", () => {
  for (const text of ["", "{", "[1,]", '{"a":01}', "NaN", '"\u0001"', "1 2", "{'a':1}"]) {
    assert.throws(() => parseJson(text), SyntaxError, text);
  }
  assert.ok(Number.isNaN(parseJson("NaN", { constants: true })));
});
