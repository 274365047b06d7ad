// NanoVer's WebSocket protocol: one msgpack map per message, holding any of `frame`, `state`
// and `command`. A Connection sends state changes and command requests, and hands received
// frames, state changes and the connection's open/close to its listeners.
import { decode, encode } from "@msgpack/msgpack";

/** The WebSocket URL for a page at `location`: ws or wss as the page, its token passed along. */
export function websocketUrl(location, websocketPort) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const port = websocketPort ?? location.port;
  const host = port ? `${location.hostname}:${port}` : location.host; // an IPv6 hostname keeps its brackets
  const token = new URLSearchParams(location.search).get("token");
  return `${scheme}//${host}/${token ? `?token=${encodeURIComponent(token)}` : ""}`;
}

export class Connection {
  /** @param {string} url  @param {{onFrame, onState, onOpen, onClose}} listeners */
  constructor(url, listeners) {
    this.url = url;
    this.listeners = listeners;
    this.pending = new Map(); // command id -> {resolve, reject}
    this.nextId = 1;
    this.socket = null;
    this.open = false;
  }

  /** Open the WebSocket (again, after a close: the listeners stay). */
  connect() {
    const socket = new WebSocket(this.url);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    socket.onopen = () => {
      this.open = true;
      this.listeners.onOpen?.();
    };
    socket.onclose = (event) => {
      this.open = false;
      for (const { reject } of this.pending.values()) reject(new Error("disconnected"));
      this.pending.clear();
      this.listeners.onClose?.(event);
    };
    socket.onmessage = (event) => this.receive(new Uint8Array(event.data));
  }

  receive(data) {
    let message;
    try {
      message = decode(data);
    } catch (error) {
      console.warn("an unreadable message from the server was dropped", error);
      return;
    }
    if (message.frame) this.listeners.onFrame?.(message.frame);
    if (message.state) this.listeners.onState?.(message.state.updates ?? {}, message.state.removals ?? []);
    if (message.command) this.answer(message.command);
  }

  answer(command) {
    const id = command.request?.id;
    const waiting = this.pending.get(id);
    if (!waiting) return; // a request the server forwards to command owners: this page registers none
    this.pending.delete(id);
    if ("exception" in command) waiting.reject(new Error(String(command.exception)));
    else waiting.resolve(command.response);
  }

  send(message) {
    if (this.open) this.socket.send(encode(message));
  }

  /** Write `updates` to the shared state and remove `removals`. */
  updateState(updates, removals = []) {
    this.send({ state: { updates, removals } });
  }

  /** Run the server's command `name`; resolves with its response. */
  run(name, args = {}) {
    if (!this.open) return Promise.reject(new Error("not connected"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send({ command: { request: { name, arguments: args, id } } });
    });
  }
}
