// The live frame and the shared state, merged from the server's messages as NanoVer does:
// each key of a frame replaces the previous value; a frame with frame.index 0 starts afresh.

const FLOAT_KEYS = new Set(["particle.positions", "particle.velocities", "particle.forces", "system.box.vectors", "forces.user.sparse"]);
const UINT32_KEYS = new Set(["bond.pairs", "particle.residues", "residue.chains", "forces.user.index"]);
const UINT8_KEYS = new Set(["particle.elements", "bond.orders", "particle.colors"]);

/** A frame value as a typed array when it is one of NanoVer's arrays (sent as raw little-endian bytes). */
export function decodeValue(key, value) {
  const Type = FLOAT_KEYS.has(key) ? Float32Array : UINT32_KEYS.has(key) ? Uint32Array : UINT8_KEYS.has(key) ? Uint8Array : null;
  if (Type === null) return value;
  if (value instanceof Uint8Array) {
    const copy = value.slice(); // aligned, at offset 0
    return new Type(copy.buffer, 0, Math.floor(copy.byteLength / Type.BYTES_PER_ELEMENT));
  }
  return Array.isArray(value) ? Type.from(value.flat()) : value;
}

export class FrameStore {
  constructor() {
    this.frame = {};
    this.version = 0; // bumped on every change
    this.topologyVersion = 0; // bumped when the atoms or bonds (not only their positions) change
  }

  /** Forget the frame (the connection was lost: the next server may serve another system). */
  clear() {
    this.merge({ "frame.index": 0 });
  }

  /** Merge one received frame; returns true when it started a new sequence. */
  merge(delta) {
    const restart = delta["frame.index"] === 0;
    if (restart) this.frame = {};
    for (const [key, value] of Object.entries(delta)) this.frame[key] = decodeValue(key, value);
    if (restart || "particle.elements" in delta || "bond.pairs" in delta || "particle.count" in delta) this.topologyVersion++;
    this.version++;
    return restart;
  }

  get positions() {
    return this.frame["particle.positions"] ?? new Float32Array(0);
  }

  get atomCount() {
    return this.frame["particle.count"] ?? Math.floor(this.positions.length / 3);
  }
}

export class StateStore {
  constructor() {
    this.values = new Map();
  }

  apply(updates, removals) {
    for (const key of removals) this.values.delete(key);
    for (const [key, value] of Object.entries(updates)) this.values.set(key, value);
  }

  /** [key, value] of every entry whose key starts with `prefix`. */
  withPrefix(prefix) {
    return [...this.values].filter(([key]) => key.startsWith(prefix));
  }

  get(key) {
    return this.values.get(key);
  }
}

/** Counts frames received over the last second. */
export class RateMeter {
  constructor(windowMs = 1000) {
    this.windowMs = windowMs;
    this.times = [];
  }

  tick(now = performance.now()) {
    this.times.push(now);
    this.trim(now);
  }

  rate(now = performance.now()) {
    this.trim(now);
    return (this.times.length * 1000) / this.windowMs;
  }

  trim(now) {
    while (this.times.length && this.times[0] < now - this.windowMs) this.times.shift();
  }
}
