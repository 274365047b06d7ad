// node --test: other clients' keys in the shared state, read whatever their shape.
import assert from "node:assert/strict";
import { test } from "node:test";
import { atomsOf, componentPositions, numbers } from "../src/shared.js";

test("a position is three finite numbers or nothing", () => {
  assert.deepEqual(numbers([1, 2.5, -3], 3), [1, 2.5, -3]);
  for (const bad of [null, undefined, -1, "1,2,3", {}, [1, 2], [1, 2, 3, 4], [1, "2", 3], [1, NaN, 3], [1, Infinity, 3], [null, null, null]]) {
    assert.equal(numbers(bad, 3), null, JSON.stringify(bad));
  }
});

test("an interaction's particles are the whole numbers that name an atom", () => {
  assert.deepEqual(atomsOf([0, 4, 60], 65), [0, 4, 60]);
  assert.deepEqual(atomsOf([-1, 65, 1.5, "3", null, 7], 65), [7]);
  for (const bad of [-1, 3, "all", {}, null, undefined]) assert.deepEqual(atomsOf(bad, 65), []);
});

test("an avatar's drawable components are those with a position", () => {
  const avatar = { components: [{ position: [0, 1, 2] }, { position: "here" }, null, 5, { rotation: [0, 0, 0, 1] }] };
  assert.deepEqual(componentPositions(avatar), [[0, 1, 2]]);
  for (const bad of [null, 5, "x", { components: 3 }, { components: { position: [0, 0, 0] } }]) {
    assert.deepEqual(componentPositions(bad), []);
  }
});
