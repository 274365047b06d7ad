"""Interactive (iMD) force math: NanoVer 0.1.3018's reference potentials, in numpy.

Each interaction pulls the centre of mass of its particles (the particle itself when there
is one) towards its ``position`` with one of three potentials, then shares that force out
over the particles (by mass, or equally over those with non-zero mass)::

    result = compute_imd_forces(positions, masses, interactions, max_force=1000.0)
    result.indices, result.forces, result.energy

The potentials, with ``d`` the vector from the interaction position to the centre (minimum
image when the system is periodic), before multiplying by the interaction's ``scale``:

- ``gaussian``: ``E = 1 - exp(-|d|²/2)``, ``F = -d exp(-|d|²/2)``; a cap below the peak
  force ``1/sqrt(e)`` scales the whole potential down.
- ``spring``: ``E = |d|²``, ``F = -2d``; a cap stretches the spring no further than
  ``cap/2``.
- ``constant``: ``E = |d|``, ``F = -d/|d|`` (nothing at ``d = 0``); a cap below 1 lowers it.

A ``forces`` interaction (IMD clients' raw forces) has no potential: each listed particle
feels its own force times ``scale``, shortened to the cap's length if longer (the cap holds
per particle, since such forces need not add up to a pull of the whole), and no energy.

As in NanoVer, an interaction's ``max_force`` caps the magnitude of its whole (scaled)
force before the split. NanoVer applies it only for positive ``scale``, so a repulsive
(negative) pull of scale -1e6 went uncapped; here it holds whatever the sign (a negative
scale gives exactly minus the positive scale's capped force). The server-wide ``max_force``
caps that magnitude whatever the interaction says (a client may lower its cap, never raise
it past the server's) and then bounds every summed force component.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Callable, ClassVar, Iterable

import numpy as np

from costeer.core.interaction import FORCE_VECTORS, Interaction

__all__ = ["ImdResult", "compute_imd_forces", "work_contribution"]

_LOG = logging.getLogger(__name__)

_GAUSSIAN_PEAK_FORCE = 1.0 / math.sqrt(math.e)
"""Largest force of the unit-width Gaussian potential, reached at distance 1 nm."""
_SPRING_CONSTANT = 2.0
_WARNED_LIMIT = 256

_warned: set[str] = set()


@dataclass(frozen=True)
class ImdResult:
    """The user forces for one frame: which particles, what force, how much energy.

    ``result = compute_imd_forces(positions, masses, interactions)``
    """

    indices: np.ndarray
    """(k,) uint32: sorted unique particles that receive a non-zero user force."""
    forces: np.ndarray
    """(k, 3) float64, kJ/(mol nm): the force on each of ``indices``, summed over interactions."""
    energy: float
    """Total user energy, kJ/mol."""

    EMPTY: ClassVar["ImdResult"]
    """No interaction: no particle, no force, no energy (shared, read-only)."""


def _empty_result() -> ImdResult:
    indices = np.zeros(0, dtype=np.uint32)
    forces = np.zeros((0, 3), dtype=np.float64)
    indices.setflags(write=False)
    forces.setflags(write=False)
    return ImdResult(indices=indices, forces=forces, energy=0.0)


ImdResult.EMPTY = _empty_result()


def compute_imd_forces(
    positions: np.ndarray,
    masses: np.ndarray,
    interactions: Iterable[Interaction],
    *,
    periodic_box: np.ndarray | None = None,
    max_force: float | None = None,
) -> ImdResult:
    """The forces and energy of ``interactions`` on particles at ``positions``.

    ``positions`` (N, 3) nm, ``masses`` (N,) dalton. ``periodic_box`` is the orthorhombic
    box, as lengths (3,) or vectors (3, 3), nm; give it only when the system is periodic.
    ``max_force`` (kJ/(mol nm)) is the server-wide cap. An interaction whose force would not
    be finite (or whose particles weigh nothing in total) is left out with a warning.
    """
    positions = np.asarray(positions, dtype=np.float64)
    masses = np.asarray(masses, dtype=np.float64)
    box = _box_lengths(periodic_box)
    if max_force is not None and not max_force >= 0:
        raise ValueError(f"the server-wide max_force must be >= 0 (inf allowed), got {max_force}")

    all_indices: list[np.ndarray] = []
    all_forces: list[np.ndarray] = []
    energy = 0.0
    for interaction in interactions:
        contribution = _single_interaction(positions, masses, interaction, box, max_force)
        if contribution is None:
            continue
        particles, forces, interaction_energy = contribution
        all_indices.append(particles)
        all_forces.append(forces)
        energy += interaction_energy
    if not all_indices:
        return ImdResult(indices=ImdResult.EMPTY.indices, forces=ImdResult.EMPTY.forces, energy=energy)

    indices, inverse = np.unique(np.concatenate(all_indices), return_inverse=True)
    summed = np.zeros((indices.size, 3), dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is handled below
        np.add.at(summed, inverse, np.concatenate(all_forces))
    if max_force is not None:
        np.clip(summed, -max_force, max_force, out=summed)
    finite = np.all(np.isfinite(summed), axis=1)
    if not finite.all() or not np.isfinite(energy):
        # finite interactions can still overflow together: the simulation never gets that
        _warn(f"user forces on particles {_short(indices[~finite])} overflowed when summed; dropped them")
        if not np.isfinite(energy):
            energy = 0.0
    keep = finite & np.any(summed != 0.0, axis=1)
    return ImdResult(indices=indices[keep].astype(np.uint32), forces=summed[keep], energy=float(energy))


def work_contribution(forces: np.ndarray, positions: np.ndarray) -> float:
    """``sum_i F_i · r_i`` over the particles that felt a user force: NanoVer's work term.

    NanoVer's ``forces.user.work_done`` adds this for the previous frame's forces at the
    new positions and subtracts it at the old ones, so that the sum over frames is
    ``sum F(t-1) · (r(t) - r(t-1))``. ``forces`` and ``positions`` are both (k, 3).
    """
    return float(np.vdot(np.asarray(forces, dtype=np.float64), np.asarray(positions, dtype=np.float64)))


def _single_interaction(
    positions: np.ndarray,
    masses: np.ndarray,
    interaction: Interaction,
    box: np.ndarray | None,
    server_cap: float | None,
) -> tuple[np.ndarray, np.ndarray, float] | None:
    """(particles, forces (k, 3), energy) of one interaction, or None when it adds nothing."""
    particles = interaction.particles
    if particles.size == 0:
        return None
    if interaction.interaction_type == FORCE_VECTORS:
        return _force_vectors(interaction, _force_cap(interaction, server_cap))
    particle_masses = masses[particles]
    if interaction.mass_weighted:
        weights = particle_masses
    else:
        weights = (particle_masses != 0.0).astype(np.float64)
    total_weight = weights.sum()
    total_mass = particle_masses.sum()
    if particles.size > 1 and total_mass == 0.0:
        _warn(f"interaction on particles {_short(particles)} ignored: their total mass is zero")
        return None
    if total_weight == 0.0:
        return None

    potential = _POTENTIALS[interaction.interaction_type]
    scale = interaction.scale
    cap = _force_cap(interaction, server_cap)
    with np.errstate(all="ignore"):  # absurd (finite) positions may overflow: such a force is refused below
        if particles.size == 1:
            centre = positions[particles[0]]
        else:
            selected = positions[particles]
            if box is not None:
                selected = selected - np.floor(selected / box) * box
            centre = (selected * particle_masses[:, np.newaxis]).sum(axis=0) / total_mass
        diff = centre - interaction.position
        if box is not None:
            diff = diff - box * np.round(diff / box)
        raw_energy, raw_force = potential(diff, None if cap is None or scale == 0.0 else cap / abs(scale))
        energy = scale * raw_energy
        force = _within(scale * raw_force, cap)
        forces = force[np.newaxis, :] * (weights / total_weight)[:, np.newaxis]
    if not (math.isfinite(energy) and np.all(np.isfinite(forces))):
        _warn(f"interaction on particles {_short(particles)} ignored: its force is not finite")
        return None
    return particles, forces, energy


def _force_vectors(interaction: Interaction, cap: float | None) -> tuple[np.ndarray, np.ndarray, float] | None:
    """(particles, forces, 0.0) of a ``forces`` interaction: scaled, each capped in length.

    Capped before scaling (at ``cap / |scale|``) as the potentials are, so a huge scale
    cannot overflow, and again after, for rounding.
    """
    if interaction.forces is None:
        return None
    scale = interaction.scale
    forces = interaction.forces.copy()
    with np.errstate(all="ignore"):
        if cap is not None and scale != 0.0:
            _shorten_rows(forces, cap / abs(scale))
        forces *= scale
        if cap is not None:
            _shorten_rows(forces, cap)
    if not np.all(np.isfinite(forces)):
        _warn(f"forces on particles {_short(interaction.particles)} ignored: they are not finite")
        return None
    return interaction.particles, forces, 0.0


def _shorten_rows(forces: np.ndarray, cap: float) -> None:
    """Shorten, in place, every row of ``forces`` longer than ``cap`` to that length."""
    largest = np.max(np.abs(forces), axis=1)
    safe = np.where(largest > 0.0, largest, 1.0)
    lengths = largest * np.sqrt(np.sum((forces / safe[:, np.newaxis]) ** 2, axis=1))
    over = lengths > cap
    forces[over] *= (cap / lengths[over])[:, np.newaxis]


def _force_cap(interaction: Interaction, server_cap: float | None) -> float | None:
    """The cap on the magnitude of the pull's whole (scaled) force, or None for no cap."""
    caps = [cap for cap in (interaction.max_force, server_cap) if cap is not None and math.isfinite(cap)]
    return min(caps) if caps else None


def _within(force: np.ndarray, cap: float | None) -> np.ndarray:
    """``force`` shortened to ``cap`` if rounding left it longer.

    The potentials cap the unscaled force at ``cap / |scale|``; for huge scales and distances
    that quotient is so small that rounding can let the scaled force overshoot (by up to 2x).
    """
    if cap is None:
        return force
    largest = float(np.max(np.abs(force)))
    if not largest > 0.0 or not math.isfinite(largest):
        return force
    magnitude = largest * math.sqrt(float(np.sum((force / largest) ** 2)))
    return force * (cap / magnitude) if magnitude > cap else force


def _gaussian(diff: np.ndarray, limit: float | None) -> tuple[float, np.ndarray]:
    gauss = math.exp(-float(diff @ diff) / 2.0)
    energy = 1.0 - gauss
    force = -diff * gauss
    if limit is not None and _GAUSSIAN_PEAK_FORCE > limit:
        factor = limit / _GAUSSIAN_PEAK_FORCE
        energy *= factor
        force = force * factor
    return energy, force


def _spring(diff: np.ndarray, limit: float | None) -> tuple[float, np.ndarray]:
    dist_sqr = float(diff @ diff)
    if limit is not None:
        longest = limit / _SPRING_CONSTANT
        if dist_sqr > longest * longest:
            diff = diff * (longest / math.sqrt(dist_sqr))
            dist_sqr = longest * longest
    return 0.5 * _SPRING_CONSTANT * dist_sqr, -_SPRING_CONSTANT * diff


def _constant(diff: np.ndarray, limit: float | None) -> tuple[float, np.ndarray]:
    dist_sqr = float(diff @ diff)
    if dist_sqr <= 0.0:
        return 0.0, np.zeros(3)
    distance = math.sqrt(dist_sqr)
    magnitude = 1.0 if limit is None else min(1.0, limit)
    return distance * magnitude, -(diff / distance) * magnitude


_POTENTIALS: dict[str, Callable[[np.ndarray, float | None], tuple[float, np.ndarray]]] = {
    "gaussian": _gaussian,
    "spring": _spring,
    "constant": _constant,
}


def _box_lengths(periodic_box: np.ndarray | None) -> np.ndarray | None:
    if periodic_box is None:
        return None
    box = np.asarray(periodic_box, dtype=np.float64)
    if box.shape == (3, 3):
        if np.any(box != np.diag(np.diag(box))):
            raise ValueError(
                "interactive forces support only orthorhombic periodic boxes; "
                f"got box vectors {box.tolist()}"
            )
        box = np.diag(box)
    if box.shape != (3,) or not np.all(np.isfinite(box)) or np.any(box <= 0):
        raise ValueError(f"periodic_box must be three positive box lengths (nm), got {box.tolist()}")
    return box


def _short(particles: np.ndarray) -> str:
    shown = ", ".join(str(int(i)) for i in particles[:5])
    return f"[{shown}{', ...' if particles.size > 5 else ''}]"


def _warn(message: str) -> None:
    """Log ``message`` once: interactions repeat every frame, warnings need not."""
    if message in _warned:
        return
    if len(_warned) >= _WARNED_LIMIT:
        _warned.clear()
    _warned.add(message)
    _LOG.warning(message)
