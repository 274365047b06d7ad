// The state panel: connection, atom count, frames/s, the last error, and what the others do
// (pulls, other users, the co-pilot's suggestion), in the DOM: data-* attributes for tests,
// text for people and screen readers (the <output> is aria-live).

export class StatusPanel {
  constructor(element) {
    this.element = element;
    this.state = { connected: false, atoms: 0, fps: 0, error: "", pulls: 0, users: 0, suggestion: false };
    this.spoken = "";
  }

  set(changes) {
    Object.assign(this.state, changes);
    const { connected, atoms, fps, error, pulls, users, suggestion } = this.state;
    const data = this.element.dataset;
    data.connected = String(connected);
    data.atoms = String(atoms);
    data.fps = fps.toFixed(1);
    data.error = error;
    data.pulls = String(pulls);
    data.users = String(users);
    data.suggestion = String(suggestion);
    // the text changes only when what it says changes (a screen reader would read every update)
    const others = [plural(pulls, "pull"), plural(users, "other user"), suggestion ? "a co-pilot suggestion" : ""].filter(Boolean);
    const live = `connected · ${atoms} atoms · ${Math.round(fps)} frames/s${others.length ? ` · ${others.join(", ")}` : ""}`;
    const text = error ? `error: ${error}` : connected ? live : "not connected";
    if (text !== this.spoken) this.element.textContent = this.spoken = text;
  }
}

function plural(count, noun) {
  return count ? `${count} ${noun}${count === 1 ? "" : "s"}` : "";
}
