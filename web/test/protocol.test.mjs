// node --test: the WebSocket URL the page connects to, and command replies.
import assert from "node:assert/strict";
import { test } from "node:test";
import { encode } from "@msgpack/msgpack";
import { Connection, websocketUrl } from "../src/protocol.js";

const page = (href) => new URL(href);

test("the page connects back where it came from, ws or wss as the page, token passed along", () => {
  assert.equal(websocketUrl(page("http://127.0.0.1:38801/"), null), "ws://127.0.0.1:38801/");
  assert.equal(websocketUrl(page("https://lab.example.org/"), null), "wss://lab.example.org/");
  assert.equal(websocketUrl(page("http://10.0.0.5:8080/?token=a%20b&x=1"), 38801), "ws://10.0.0.5:38801/?token=a%20b");
  assert.equal(websocketUrl(page("http://[::1]:8080/"), 38801), "ws://[::1]:38801/");
});

test("frames, state and command replies reach their listeners", async () => {
  const seen = [];
  const connection = new Connection("ws://unused", {
    onFrame: (frame) => seen.push(["frame", frame]),
    onState: (updates, removals) => seen.push(["state", updates, removals]),
  });
  connection.open = true;
  connection.socket = { send() {} };
  const reply = connection.run("playback/list");
  const failed = connection.run("nope");
  connection.receive(encode({ frame: { "frame.index": 0 }, state: { updates: { a: 1 } } }));
  connection.receive(encode({ command: { request: { id: 1, name: "playback/list" }, response: { simulations: ["x"] } } }));
  connection.receive(encode({ command: { request: { id: 2, name: "nope" }, exception: "unknown command 'nope'" } }));
  connection.receive(new Uint8Array([0xc1])); // not msgpack: dropped
  assert.deepEqual(await reply, { simulations: ["x"] });
  await assert.rejects(failed, /unknown command/);
  assert.deepEqual(seen, [["frame", { "frame.index": 0 }], ["state", { a: 1 }, []]]);
});
