// costeer's web client: connects back to the server that served it, draws the live frames
// and lets the visitor steer. The modules: protocol (the WebSocket and msgpack), frames
// (merging frames and the shared state), shared (reading other clients' keys safely), view
// (three.js), steering (mouse pulls), controls (playback, simulations, seeking) and status
// (the state panel).
import * as THREE from "three";
import { Controls } from "./controls.js";
import { FrameStore, RateMeter, StateStore } from "./frames.js";
import { Connection, websocketUrl } from "./protocol.js";
import { atomsOf, componentPositions, numbers } from "./shared.js";
import { StatusPanel } from "./status.js";
import { Steering } from "./steering.js";
import { View } from "./view.js";

const AVATAR_INTERVAL_MS = 500;
const RECONNECT_MS = 2000;
const SUGGESTION_KEY = "costeer.copilot.suggestion";

const playerId = `web-${Math.random().toString(36).slice(2, 10)}`;
const frames = new FrameStore();
const state = new StateStore();
const meter = new RateMeter();
const status = new StatusPanel(document.getElementById("status"));
const view = new View(document.getElementById("view"));
if (view.error) status.set({ error: view.error });

const drawn = { topology: -1, version: -1, state: -1 };
let stateVersion = 0;
let fitted = false;

async function websocketPort() {
  try {
    const response = await fetch(`costeer-web.json${window.location.search}`, { cache: "no-store" }); // with any ?token=
    return (await response.json()).websocket_port ?? null;
  } catch {
    return null; // served by another web server: the WebSocket is on the page's own port
  }
}

const url = websocketUrl(window.location, await websocketPort());
const connection = new Connection(url, {
  onOpen() {
    status.set({ connected: true, error: view.error ?? "" });
    controls.connected();
  },
  onClose(event) {
    const error = event.code === 1006 && !event.wasClean ? `cannot reach ${url} (refused or lost); retrying` : "";
    status.set({ connected: false, fps: 0, error });
    controls.disconnected();
    state.apply({}, [...state.values.keys()]);
    frames.clear();
    fitted = false;
    stateVersion++;
    setTimeout(() => connection.connect(), RECONNECT_MS);
  },
  onFrame(delta) {
    if (frames.merge(delta)) fitted = false;
    meter.tick();
  },
  onState(updates, removals) {
    state.apply(updates, removals);
    stateVersion++;
    controls.showState(state);
  },
});
const controls = new Controls(connection, (error) => status.set({ error }));
const steering = new Steering(view, connection, frames, { playerId, scale: () => controls.scale, onChange: () => stateVersion++ });

function sceneMatrix() {
  const pose = numbers(state.get("scene"), 10);
  if (!pose) return new THREE.Matrix4();
  const [px, py, pz, qx, qy, qz, qw, sx, sy, sz] = pose;
  return new THREE.Matrix4().compose(new THREE.Vector3(px, py, pz), new THREE.Quaternion(qx, qy, qz, qw), new THREE.Vector3(sx, sy, sz));
}

function centre(particles) {
  const p = frames.positions;
  const atoms = atomsOf(particles, Math.floor(p.length / 3));
  const sum = new THREE.Vector3();
  for (const i of atoms) {
    sum.x += p[3 * i]; sum.y += p[3 * i + 1]; sum.z += p[3 * i + 2];
  }
  return atoms.length ? sum.divideScalar(atoms.length) : null;
}

function pullOf(value) {
  const from = centre(value?.particles);
  const position = numbers(value?.position, 3);
  if (!from || !position) return null;
  return { from, to: new THREE.Vector3(...position) };
}

/** What to draw besides the atoms; also counted in the status panel. */
function overlays() {
  const pulls = [];
  const addPull = (value, own) => {
    const pull = pullOf(value);
    if (pull) pulls.push({ ...pull, own });
  };
  for (const [key, value] of state.withPrefix("interaction.")) {
    if (key !== steering.key) addPull(value, false);
  }
  addPull(steering.interaction, true); // drawn as the pointer moves, not when the server echoes it
  const toSimulation = sceneMatrix().invert();
  const others = state.withPrefix("avatar.").filter(([key]) => key !== `avatar.${playerId}`);
  const avatars = [];
  for (const [, avatar] of others) {
    for (const position of componentPositions(avatar)) {
      avatars.push({ position: new THREE.Vector3(...position).applyMatrix4(toSimulation) });
    }
  }
  const ghost = pullOf(state.get(SUGGESTION_KEY));
  status.set({ pulls: pulls.length, users: others.length, suggestion: ghost !== null });
  return { pulls, avatars, ghost };
}

function sendAvatar() {
  if (!connection.open) return;
  const room = sceneMatrix();
  const position = view.camera.position.clone().applyMatrix4(room);
  const rotation = view.camera.quaternion.clone();
  connection.updateState({
    [`avatar.${playerId}`]: { playerid: playerId, name: "web", components: [{ name: "headset", position: position.toArray(), rotation: rotation.toArray() }] },
  });
}

function draw() {
  requestAnimationFrame(draw);
  if (frames.topologyVersion !== drawn.topology) {
    view.setTopology(frames.frame, frames.atomCount);
    drawn.topology = frames.topologyVersion;
  }
  if (frames.version !== drawn.version) {
    view.setPositions(frames.positions);
    if (!fitted && frames.positions.length) {
      view.fit(frames.positions);
      fitted = true;
    }
  }
  if (frames.version !== drawn.version || stateVersion !== drawn.state) view.setOverlays(overlays());
  drawn.version = frames.version;
  drawn.state = stateVersion;
  view.controls.update();
  view.render();
}

/** For the browser's console and the tests: where atoms and points are drawn, the camera, the frame and state. */
window.costeer = {
  atomOnScreen: (index) => view.toScreen(...frames.positions.subarray(3 * index, 3 * index + 3)),
  toScreen: (point) => view.toScreen(...point),
  lookAt: (position, target) => view.lookAt(position, target),
  frames,
  state,
  playerId,
};

setInterval(() => {
  if (connection.open) status.set({ atoms: frames.atomCount, fps: meter.rate() });
}, 250);
setInterval(sendAvatar, AVATAR_INTERVAL_MS);
connection.connect();
draw();
