// Mouse steering: press on an atom and drag; while the button is held the page writes a
// spring interaction (`interaction.<player id>`, NanoVer's format) pulling that atom toward
// the pointer in the view plane (the plane facing the camera through the atom where it was
// grabbed: fixed for the drag, so the atom is held at that depth too), with the pull strength
// from the slider; released, it is removed.
import * as THREE from "three";

const WRITE_INTERVAL_MS = 33;

export class Steering {
  /**
   * @param {import("./view.js").View} view
   * @param {import("./protocol.js").Connection} connection
   * @param {import("./frames.js").FrameStore} frames
   * @param {{playerId: string, scale: () => number, onChange: () => void}} options
   */
  constructor(view, connection, frames, { playerId, scale, onChange }) {
    this.view = view;
    this.connection = connection;
    this.frames = frames;
    this.key = `interaction.${playerId}`;
    this.playerId = playerId;
    this.scale = scale;
    this.onChange = onChange;
    this.atom = null; // the atom held, while dragging
    this.anchor = null; // where it was grabbed: the view plane passes through it
    this.target = null;
    this.lastWrite = 0;
    const surface = view.surface;
    surface.addEventListener("pointerdown", (event) => this.press(event), { capture: true });
    surface.addEventListener("pointermove", (event) => this.move(event));
    for (const name of ["pointerup", "pointercancel", "lostpointercapture"]) surface.addEventListener(name, () => this.release());
  }

  get interaction() {
    if (this.atom === null) return null;
    return {
      position: this.target.toArray(),
      particles: [this.atom],
      interaction_type: "spring",
      scale: this.scale(),
      mass_weighted: true,
      reset_velocities: false,
      "owner.id": this.playerId,
      label: "web",
    };
  }

  atomPosition(atom) {
    const p = this.frames.positions;
    return new THREE.Vector3(p[3 * atom], p[3 * atom + 1], p[3 * atom + 2]);
  }

  press(event) {
    if (event.button !== 0) return;
    const atom = this.view.pick(event.clientX, event.clientY);
    if (atom === null) return; // the view turns instead
    this.view.controls.enabled = false;
    event.stopPropagation();
    this.view.surface.setPointerCapture?.(event.pointerId);
    this.atom = atom;
    this.anchor = this.atomPosition(atom);
    this.target = this.anchor.clone();
    this.write(true);
  }

  move(event) {
    if (this.atom === null) return;
    this.target = this.view.viewPlanePoint(event.clientX, event.clientY, this.anchor);
    this.write(false);
  }

  release() {
    if (this.atom === null) return;
    this.atom = null;
    this.view.controls.enabled = true;
    this.connection.updateState({}, [this.key]);
    this.onChange();
  }

  write(now) {
    const time = performance.now();
    if (!now && time - this.lastWrite < WRITE_INTERVAL_MS) return;
    this.lastWrite = time;
    this.connection.updateState({ [this.key]: this.interaction });
    this.onChange();
  }
}
