// Reading what other clients put in the shared state. Any client may write any shape there
// (a number for `particles`, strings in a position), so every value is checked before it is
// drawn: one client's malformed key must not stop the page drawing everyone else's.

/** `value` if it is an array of `length` finite numbers, else null. */
export function numbers(value, length) {
  return Array.isArray(value) && value.length === length && value.every(Number.isFinite) ? value : null;
}

/** The atom indices of an interaction's `particles` that name one of `count` atoms. */
export function atomsOf(particles, count) {
  return Array.isArray(particles) ? particles.filter((atom) => Number.isInteger(atom) && atom >= 0 && atom < count) : [];
}

/** The positions (xyz, in the room) of an avatar's components that have one. */
export function componentPositions(avatar) {
  const components = Array.isArray(avatar?.components) ? avatar.components : [];
  return components.map((component) => numbers(component?.position, 3)).filter((position) => position !== null);
}
