"""Interactions: a user's pull on atoms, as read from an ``interaction.<id>`` state entry.

``Interaction.from_state`` validates what a client sent and raises
``InvalidInteractionError`` with a message that says what was wrong, so a bad entry is
rejected before it can reach the simulation::

    interaction = Interaction.from_state(state["interaction.abc"], particle_count=65)

Besides NanoVer's three potentials (``gaussian``, ``spring``, ``constant``: a pull of the
particles' centre towards ``position``), ``forces`` carries a raw force per particle, as IMD
clients (VMD) send them: ``{"interaction_type": "forces", "particles": [3, 7],
"forces": [[fx, fy, fz], [fx, fy, fz]]}`` in kJ/(mol nm), one triplet per listed particle
(a particle listed twice feels the sum); ``position`` means nothing to it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

__all__ = [
    "Interaction",
    "InvalidInteractionError",
    "INTERACTION_TYPES",
    "DEFAULT_MAX_FORCE",
    "MAX_INTERACTION_PARTICLES",
    "MAX_POSITION_NM",
    "FORCE_VECTORS",
    "POTENTIAL_TYPES",
]

POTENTIAL_TYPES = ("gaussian", "spring", "constant")
"""NanoVer's interaction types: a potential pulling the particles' centre towards ``position``."""
FORCE_VECTORS = "forces"
"""The interaction type that carries one force vector per particle instead of a potential."""
INTERACTION_TYPES = (*POTENTIAL_TYPES, FORCE_VECTORS)
DEFAULT_MAX_FORCE = 20000.0
"""NanoVer's default per-interaction force cap, kJ/(mol nm)."""
MAX_INTERACTION_PARTICLES = 100_000
"""More particles than this in one interaction is refused as abuse."""
MAX_POSITION_NM = 10_000.0
"""Largest accepted ``|position|`` component, nm: 10 µm, a thousand times the size of any
system served interactively. Farther targets change nothing a capped force would not do
(a capped spring is a constant pull), and squaring absurd ones (1e308) overflows."""

_BUILTIN_FIELDS = {
    "position",
    "particles",
    "interaction_type",
    "type",
    "scale",
    "mass_weighted",
    "reset_velocities",
    "max_force",
}


class InvalidInteractionError(ValueError):
    """An ``interaction.*`` state entry that cannot become a force; the message says why."""


@dataclass(frozen=True, eq=False)
class Interaction:
    """One user interaction: pull ``particles`` towards ``position`` (nm)."""

    position: np.ndarray
    """Where the controller is, in nm, shape (3,)."""
    particles: np.ndarray
    """Sorted unique particle indices (int64)."""
    interaction_type: str = "gaussian"
    scale: float = 1.0
    mass_weighted: bool = True
    reset_velocities: bool = False
    max_force: float = DEFAULT_MAX_FORCE
    """Per-interaction cap on each force component, kJ/(mol nm); ``inf`` means no cap."""
    properties: dict[str, Any] = field(default_factory=dict)
    """Pass-through fields such as ``owner.id`` and ``label``."""
    forces: np.ndarray | None = None
    """``forces`` interactions only: (k, 3) float64 kJ/(mol nm), the force on each of ``particles``."""

    @classmethod
    def from_state(cls, value: Any, *, particle_count: int | None = None) -> "Interaction":
        """Build an interaction from a state value, checking every field.

        ``particle_count``, when given, rejects indices outside ``[0, particle_count)``.
        """
        if not isinstance(value, Mapping):
            raise InvalidInteractionError(
                f"an interaction must be a map of fields, got {type(value).__name__}"
            )
        try:
            return cls._from_fields(value, particle_count)
        except InvalidInteractionError:
            raise
        except (TypeError, ValueError, OverflowError) as error:  # anything else odd in the fields
            raise InvalidInteractionError(f"unreadable interaction: {error}") from None

    @classmethod
    def _from_fields(cls, value: Mapping[str, Any], particle_count: int | None) -> "Interaction":
        position = _vector3(value.get("position", (0.0, 0.0, 0.0)))
        particles = _particles(value.get("particles", ()), particle_count)
        interaction_type = value.get("interaction_type", value.get("type", "gaussian"))
        if interaction_type not in INTERACTION_TYPES:
            raise InvalidInteractionError(
                f"unknown interaction_type {interaction_type!r}; use one of {', '.join(INTERACTION_TYPES)}"
            )
        scale = _finite_number(value.get("scale", 1.0), "scale")
        max_force = _number(value.get("max_force", DEFAULT_MAX_FORCE), "max_force")
        if math.isnan(max_force) or max_force < 0:
            raise InvalidInteractionError(f"max_force must be >= 0 (inf allowed), got {max_force}")
        forces = None
        builtin = _BUILTIN_FIELDS
        if interaction_type == FORCE_VECTORS:
            particles, forces = _particle_forces(value.get("particles", ()), value.get("forces"), particles)
            builtin = builtin | {"forces"}
        properties = {k: v for k, v in value.items() if k not in builtin}
        return cls(
            position=position,
            particles=particles,
            forces=forces,
            interaction_type=str(interaction_type),
            scale=scale,
            mass_weighted=_flag(value.get("mass_weighted", True), "mass_weighted"),
            reset_velocities=_flag(value.get("reset_velocities", False), "reset_velocities"),
            max_force=max_force,
            properties=properties,
        )

    def to_state(self) -> dict[str, Any]:
        """The state value NanoVer clients write for this interaction."""
        value = {
            **self.properties,
            "position": [float(x) for x in self.position],
            "particles": [int(i) for i in self.particles],
            "interaction_type": self.interaction_type,
            "scale": self.scale,
            "mass_weighted": self.mass_weighted,
            "reset_velocities": self.reset_velocities,
            "max_force": self.max_force,
        }
        if self.forces is not None:
            value["forces"] = self.forces.tolist()
        return value


def _number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise InvalidInteractionError(f"{name} must be a number, got {value!r}")
    return float(value)


def _finite_number(value: Any, name: str) -> float:
    number = _number(value, name)
    if not math.isfinite(number):
        raise InvalidInteractionError(f"{name} must be finite, got {number}")
    return number


def _flag(value: Any, name: str) -> bool:
    if not isinstance(value, (bool, int, np.bool_)):
        raise InvalidInteractionError(f"{name} must be true or false, got {value!r}")
    return bool(value)


def _vector3(value: Any) -> np.ndarray:
    if not isinstance(value, (list, tuple, np.ndarray)):
        raise InvalidInteractionError(f"position must be three numbers, got {value!r}")
    vector = np.asarray(value)
    if vector.shape != (3,) or vector.dtype.kind not in "iuf":
        raise InvalidInteractionError(f"position must be three numbers, got {value!r}")
    vector = vector.astype(np.float64)
    if not np.all(np.isfinite(vector)):
        raise InvalidInteractionError(f"position must be finite, got {vector.tolist()}")
    if np.abs(vector).max() > MAX_POSITION_NM:
        raise InvalidInteractionError(
            f"position must lie within {MAX_POSITION_NM:g} nm of the origin, got {vector.tolist()}"
        )
    return vector


def _particles(value: Any, particle_count: int | None) -> np.ndarray:
    if not isinstance(value, (list, tuple, np.ndarray)):
        raise InvalidInteractionError(f"particles must be a list of indices, got {value!r}")
    limit = MAX_INTERACTION_PARTICLES if particle_count is None else min(MAX_INTERACTION_PARTICLES, particle_count)
    if len(value) > limit:
        raise InvalidInteractionError(f"an interaction may hold at most {limit} particles, got {len(value)}")
    indices = np.asarray(value)
    if indices.size == 0:
        raise InvalidInteractionError("an interaction needs at least one particle; particles is empty")
    if indices.ndim != 1 or indices.dtype.kind not in "iu":
        raise InvalidInteractionError("particles must be whole numbers")
    if indices.min() < 0:
        raise InvalidInteractionError(f"particle index {int(indices.min())} is negative")
    highest = int(indices.max())
    if particle_count is not None and highest >= particle_count:
        raise InvalidInteractionError(
            f"particle index {highest} is out of range: the system has {particle_count} particles"
        )
    if highest > np.iinfo(np.int64).max:
        raise InvalidInteractionError(f"particle index {highest} is out of range")
    return np.unique(indices.astype(np.int64))


def _particle_forces(listed: Any, forces: Any, unique: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(unique particles, summed force on each)`` of a ``forces`` interaction, checked."""
    if not isinstance(forces, (list, tuple, np.ndarray)):
        raise InvalidInteractionError(
            f"a 'forces' interaction needs forces: one [fx, fy, fz] per particle, got {forces!r}"
        )
    vectors = np.asarray(forces)
    if vectors.dtype.kind not in "iuf" or vectors.shape != (len(listed), 3):
        raise InvalidInteractionError(
            f"forces must be one [fx, fy, fz] per particle ({len(listed)} particles), got shape {vectors.shape}"
        )
    vectors = vectors.astype(np.float64)
    if not np.all(np.isfinite(vectors)):
        raise InvalidInteractionError("forces must be finite numbers")
    _, inverse = np.unique(np.asarray(listed).astype(np.int64), return_inverse=True)
    summed = np.zeros((unique.size, 3))
    with np.errstate(over="ignore"):
        np.add.at(summed, inverse, vectors)
    if not np.all(np.isfinite(summed)):
        raise InvalidInteractionError("forces on a particle listed more than once overflow when summed")
    return unique, summed
