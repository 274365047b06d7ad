// The 3D view (three.js): atoms as instanced spheres, bonds as lines, pulls as lines to a
// marker, other users' avatars as cones, the co-pilot's suggestion as a translucent ghost.
// Picking and the view plane need no GPU, so steering works where WebGL does not.
import * as THREE from "three";
import { OrbitControls } from "three/examples/jsm/controls/OrbitControls.js";

const ELEMENT_COLORS = { 1: 0xffffff, 6: 0x606060, 7: 0x3050f8, 8: 0xff0d0d, 9: 0x90e050, 15: 0xff8000, 16: 0xffff30, 17: 0x1ff01f };
const ELEMENT_RADII = { 1: 0.035 }; // nm; every other element 0.05
const OTHERS_COLOR = 0xff9a30;
const OWN_COLOR = 0x4fc3ff;
const GHOST_COLOR = 0x40ff80;
const LARGE_SYSTEM = 2000; // atoms; above this, coarser spheres

export class View {
  constructor(container) {
    this.container = container;
    this.scene = new THREE.Scene();
    this.scene.background = new THREE.Color(0x10131a);
    this.camera = new THREE.PerspectiveCamera(45, 1, 0.01, 1000);
    this.camera.position.set(0, 0, 5);
    this.scene.add(new THREE.HemisphereLight(0xffffff, 0x303040, 2.0));
    const sun = new THREE.DirectionalLight(0xffffff, 1.5);
    sun.position.set(3, 5, 8);
    this.camera.add(sun);
    this.scene.add(this.camera);
    this.atoms = null;
    this.bonds = null;
    this.overlays = new THREE.Group(); // pulls, avatars, the ghost: rebuilt when the state changes
    this.scene.add(this.overlays);
    this.raycaster = new THREE.Raycaster();
    this.renderer = null;
    this.error = null;
    try {
      this.renderer = new THREE.WebGLRenderer({ antialias: true, preserveDrawingBuffer: true });
      this.renderer.setPixelRatio(window.devicePixelRatio);
      container.appendChild(this.renderer.domElement);
    } catch (error) {
      this.error = `no 3D view: this browser has no WebGL (${error.message}); steering still works`;
    }
    this.controls = new OrbitControls(this.camera, this.renderer?.domElement ?? container);
    this.dirty = true; // drawn only when something changed: a browser without a GPU draws on the CPU
    this.controls.addEventListener("change", () => (this.dirty = true));
    this.resize();
    new ResizeObserver(() => this.resize()).observe(container);
  }

  /** The element picking and steering listen on. */
  get surface() {
    return this.renderer?.domElement ?? this.container;
  }

  resize() {
    const { clientWidth: width, clientHeight: height } = this.container;
    if (!width || !height) return;
    this.camera.aspect = width / height;
    this.camera.updateProjectionMatrix();
    this.renderer?.setSize(width, height, false);
    this.dirty = true;
  }

  /** New atoms or bonds: rebuild the meshes from `frame`. */
  setTopology(frame, count) {
    for (const old of [this.atoms, this.bonds]) if (old) { this.scene.remove(old); old.geometry.dispose(); }
    const elements = frame["particle.elements"];
    const [around, down] = count > LARGE_SYSTEM ? [8, 6] : [16, 12]; // software rendering copes with thousands of atoms
    const sphere = new THREE.SphereGeometry(1, around, down);
    const material = new THREE.MeshStandardMaterial({ roughness: 0.5, metalness: 0.1 });
    this.atoms = new THREE.InstancedMesh(sphere, material, Math.max(count, 1));
    this.atoms.count = count;
    this.radii = new Float32Array(count);
    const color = new THREE.Color();
    for (let i = 0; i < count; i++) {
      const element = elements ? elements[i] : 6;
      this.radii[i] = ELEMENT_RADII[element] ?? 0.05;
      this.atoms.setColorAt(i, color.setHex(ELEMENT_COLORS[element] ?? 0xff70c0));
    }
    this.scene.add(this.atoms);
    const pairs = frame["bond.pairs"] ?? new Uint32Array(0);
    this.bondPairs = pairs;
    const geometry = new THREE.BufferGeometry();
    geometry.setAttribute("position", new THREE.BufferAttribute(new Float32Array(pairs.length * 3), 3));
    this.bonds = new THREE.LineSegments(geometry, new THREE.LineBasicMaterial({ color: 0x9aa4b8 }));
    this.scene.add(this.bonds);
  }

  /** Move the atoms and bonds to `positions` (nm, xyz per atom). */
  setPositions(positions) {
    if (!this.atoms) return;
    const matrix = new THREE.Matrix4();
    const count = Math.min(this.atoms.count, positions.length / 3);
    for (let i = 0; i < count; i++) {
      const r = this.radii[i];
      matrix.makeScale(r, r, r).setPosition(positions[3 * i], positions[3 * i + 1], positions[3 * i + 2]);
      this.atoms.setMatrixAt(i, matrix);
    }
    this.atoms.instanceMatrix.needsUpdate = true;
    this.atoms.computeBoundingSphere();
    this.atoms.computeBoundingBox();
    const line = this.bonds.geometry.attributes.position;
    const pairs = this.bondPairs;
    for (let b = 0; b < pairs.length; b++) {
      const atom = pairs[b];
      if (atom < count) line.array.set(positions.subarray(3 * atom, 3 * atom + 3), 3 * b);
    }
    line.needsUpdate = true;
    this.dirty = true;
  }

  /** Point the camera at the whole system. */
  fit(positions) {
    if (!positions.length) return;
    const box = new THREE.Box3().setFromArray(positions);
    const sphere = box.getBoundingSphere(new THREE.Sphere());
    const distance = Math.max(sphere.radius, 0.5) / Math.sin(THREE.MathUtils.degToRad(this.camera.fov / 2)) * 1.1;
    this.controls.target.copy(sphere.center);
    this.camera.position.copy(sphere.center).add(new THREE.Vector3(0, 0, distance));
    this.camera.near = distance / 100;
    this.camera.far = distance * 100;
    this.camera.updateProjectionMatrix();
    this.controls.update();
  }

  ray(clientX, clientY) {
    const rect = this.surface.getBoundingClientRect();
    const ndc = new THREE.Vector2(((clientX - rect.left) / rect.width) * 2 - 1, -((clientY - rect.top) / rect.height) * 2 + 1);
    this.camera.updateMatrixWorld();
    this.raycaster.setFromCamera(ndc, this.camera);
    return this.raycaster.ray;
  }

  /** The atom under the pointer, or null. */
  pick(clientX, clientY) {
    if (!this.atoms) return null;
    this.ray(clientX, clientY);
    const hit = this.raycaster.intersectObject(this.atoms, false)[0];
    return hit?.instanceId ?? null;
  }

  /** Where the point (x, y, z) in nm is drawn, in client pixels (for tests and the console). */
  toScreen(x, y, z) {
    const rect = this.surface.getBoundingClientRect();
    const point = new THREE.Vector3(x, y, z).project(this.camera);
    return { x: rect.left + ((point.x + 1) / 2) * rect.width, y: rect.top + ((1 - point.y) / 2) * rect.height };
  }

  /** Look at `target` from `position` (both in nm). */
  lookAt(position, target) {
    this.camera.position.set(...position);
    this.controls.target.set(...target);
    this.controls.update();
    this.dirty = true;
  }

  /** Where the pointer is on the plane through `anchor` facing the camera (the view plane). */
  viewPlanePoint(clientX, clientY, anchor) {
    const ray = this.ray(clientX, clientY);
    const normal = this.camera.getWorldDirection(new THREE.Vector3());
    const plane = new THREE.Plane().setFromNormalAndCoplanarPoint(normal, anchor);
    return ray.intersectPlane(plane, new THREE.Vector3()) ?? anchor.clone();
  }

  /** Draw pulls ({from, to, own}), avatars ({position, color}) and the ghost ({from, to}). */
  setOverlays({ pulls, avatars, ghost }) {
    this.dirty = true;
    for (const child of [...this.overlays.children]) {
      this.overlays.remove(child);
      child.geometry.dispose();
      child.material.dispose();
    }
    for (const pull of pulls) this.addPull(pull.from, pull.to, pull.own ? OWN_COLOR : OTHERS_COLOR, 1);
    if (ghost) this.addPull(ghost.from, ghost.to, GHOST_COLOR, 0.45);
    for (const avatar of avatars) {
      const cone = new THREE.Mesh(new THREE.ConeGeometry(0.08, 0.2, 12), new THREE.MeshStandardMaterial({ color: avatar.color ?? OTHERS_COLOR }));
      cone.position.copy(avatar.position);
      this.overlays.add(cone);
    }
  }

  /** A rod from the pulled atoms' centre to the target, and a ball at the target. */
  addPull(from, to, color, opacity) {
    const material = () => new THREE.MeshStandardMaterial({ color, transparent: opacity < 1, opacity });
    const marker = new THREE.Mesh(new THREE.SphereGeometry(0.04, 12, 8), material());
    marker.position.copy(to);
    this.overlays.add(marker);
    const direction = to.clone().sub(from);
    const length = direction.length();
    if (length < 1e-6) return;
    const rod = new THREE.Mesh(new THREE.CylinderGeometry(0.012, 0.012, length, 8), material());
    rod.position.copy(from).addScaledVector(direction, 0.5);
    rod.quaternion.setFromUnitVectors(new THREE.Vector3(0, 1, 0), direction.divideScalar(length));
    this.overlays.add(rod);
  }

  /** Draw, if anything changed since the last time (``dirty``). */
  render() {
    if (!this.dirty) return;
    this.dirty = false;
    this.renderer?.render(this.scene, this.camera);
  }
}
