// node --test: merging frames and the shared state as NanoVer does.
import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeValue, FrameStore, RateMeter, StateStore } from "../src/frames.js";

const bytes = (typed) => new Uint8Array(typed.buffer.slice(0));

test("NanoVer's byte arrays become typed arrays, whatever their offset", () => {
  const positions = new Float32Array([1, 2, 3, 4, 5, 6]);
  const shifted = new Uint8Array(positions.byteLength + 1);
  shifted.set(bytes(positions), 1);
  assert.deepEqual(decodeValue("particle.positions", shifted.subarray(1)), positions);
  assert.deepEqual(decodeValue("bond.pairs", bytes(new Uint32Array([0, 1]))), new Uint32Array([0, 1]));
  assert.deepEqual(decodeValue("particle.positions", [[1, 2, 3]]), new Float32Array([1, 2, 3]));
  assert.equal(decodeValue("system.simulation.time", 1.5), 1.5);
});

test("each key replaces the last; frame.index 0 starts afresh and counts as new atoms", () => {
  const store = new FrameStore();
  store.merge({ "frame.index": 0, "particle.count": 2, "particle.positions": bytes(new Float32Array(6)) });
  const topology = store.topologyVersion;
  store.merge({ "particle.positions": bytes(new Float32Array([1, 1, 1, 2, 2, 2])) });
  assert.equal(store.topologyVersion, topology);
  assert.equal(store.atomCount, 2);
  assert.equal(store.positions[3], 2);
  assert.equal(store.merge({ "frame.index": 0, "particle.positions": bytes(new Float32Array(3)) }), true);
  assert.equal(store.atomCount, 1);
  assert.equal(store.frame["particle.count"], undefined);
  assert.ok(store.topologyVersion > topology);
});

test("the state keeps updates, forgets removals, and finds keys by prefix", () => {
  const state = new StateStore();
  state.apply({ "interaction.a": 1, "interaction.b": 2, "avatar.a": 3 }, []);
  state.apply({}, ["interaction.a"]);
  assert.deepEqual(state.withPrefix("interaction."), [["interaction.b", 2]]);
});

test("frames/s counts the last second", () => {
  const meter = new RateMeter();
  for (let t = 0; t < 2000; t += 100) meter.tick(t);
  assert.equal(meter.rate(1999), 10);
  assert.equal(meter.rate(5000), 0);
});

test("clearing forgets the frame, as a new sequence would", () => {
  const store = new FrameStore();
  store.merge({ "particle.count": 3 });
  store.clear();
  assert.equal(store.atomCount, 0);
});
