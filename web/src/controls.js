// The panel's controls: play/pause/step/reset (NanoVer's playback/* commands), the pull
// strength, the list of simulations (playback/list, playback/load) and, when the server
// plays a recording back, seeking through it (costeer's playback/seek).

const POLL_MS = 1000;

export class Controls {
  /** @param {import("./protocol.js").Connection} connection  @param {(error: string) => void} report */
  constructor(connection, report) {
    this.connection = connection;
    this.report = report;
    this.byId = (id) => document.getElementById(id);
    for (const name of ["play", "pause", "step", "reset"]) this.byId(name).addEventListener("click", () => this.run(`playback/${name}`));
    this.byId("load").addEventListener("click", () => this.run("playback/load", { index: Number(this.byId("simulations").value) }));
    const scale = this.byId("scale");
    scale.addEventListener("input", () => (this.byId("scale-value").textContent = scale.value));
    const seek = this.byId("seek");
    seek.addEventListener("change", () => this.run("playback/seek", { time: Number(seek.value) }).then((where) => this.showSeek(where)));
    this.seekTimer = null;
  }

  get scale() {
    return Number(this.byId("scale").value);
  }

  /** Run a command; an error goes to the status panel. */
  run(name, args = {}) {
    return this.connection.run(name, args).catch((error) => {
      this.report(`${name}: ${error.message}`);
      return null;
    });
  }

  /** After (re)connecting: fetch the simulations and whether a recording can be sought. */
  async connected() {
    const listing = await this.run("playback/list");
    const select = this.byId("simulations");
    select.replaceChildren(...(listing?.simulations ?? []).map((name, index) => new Option(name, String(index))));
    const commands = await this.run("commands/list");
    const canSeek = Boolean(commands?.list && "playback/seek" in commands.list);
    this.byId("seek-section").hidden = !canSeek;
    clearInterval(this.seekTimer);
    if (canSeek) this.seekTimer = setInterval(() => this.pollSeek(), POLL_MS);
  }

  disconnected() {
    clearInterval(this.seekTimer);
  }

  async pollSeek() {
    if (document.activeElement === this.byId("seek")) return; // the user is moving it
    this.showSeek(await this.connection.run("playback/seek").catch(() => null));
  }

  showSeek(where) {
    if (!where) return;
    const seek = this.byId("seek");
    seek.max = String(where.duration);
    seek.value = String(where.time);
    this.byId("seek-value").textContent = `${where.time.toFixed(1)} / ${where.duration.toFixed(1)} s`;
  }

  /** The shared state's simulation name and co-pilot status. */
  showState(state) {
    const index = state.get("simulation.index");
    if (index !== undefined) this.byId("simulations").value = String(index);
    const copilot = state.get("costeer.copilot");
    const line = this.byId("copilot");
    line.hidden = !copilot;
    if (copilot) line.textContent = `co-pilot: ${copilot.mode ?? "?"}${copilot.acting ? ", pulling" : ""}`;
  }
}
