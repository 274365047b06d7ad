// The state panel: connection, atom count, frames/s and the last error, in the DOM (data-*
// attributes for tests, text for people and screen readers: the <output> is aria-live).

export class StatusPanel {
  constructor(element) {
    this.element = element;
    this.state = { connected: false, atoms: 0, fps: 0, error: "" };
    this.spoken = "";
  }

  set(changes) {
    Object.assign(this.state, changes);
    const { connected, atoms, fps, error } = this.state;
    const data = this.element.dataset;
    data.connected = String(connected);
    data.atoms = String(atoms);
    data.fps = fps.toFixed(1);
    data.error = error;
    // the text changes only when what it says changes (a screen reader would read every update)
    const text = error ? `error: ${error}` : connected ? `connected · ${atoms} atoms · ${Math.round(fps)} frames/s` : "not connected";
    if (text !== this.spoken) this.element.textContent = this.spoken = text;
  }
}
