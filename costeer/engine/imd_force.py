"""Applying user forces inside OpenMM: NanoVer's external force in its own force group.

The force's energy, ``-f·x`` per particle, depends on where the atoms are and means
nothing: read energies with ``groups=NON_IMD_GROUPS`` (as NanoVer does) and report the user
energy from :func:`costeer.engine.imd.compute_imd_forces` instead.
"""

from __future__ import annotations

import logging

import numpy as np
import openmm

from costeer.engine.imd import ImdResult

__all__ = ["IMD_FORCE_GROUP", "NON_IMD_GROUPS", "IMD_FORCE_EXPRESSION", "ImdForce"]

_LOG = logging.getLogger(__name__)

IMD_FORCE_GROUP: int = 31
"""The force group that holds the user force and nothing else (NanoVer's choice)."""
NON_IMD_GROUPS: int = 0xFFFFFFFF ^ (1 << IMD_FORCE_GROUP)
"""Bitmask of every other group: ``context.getState(getEnergy=True, groups=NON_IMD_GROUPS)``."""
IMD_FORCE_EXPRESSION = "-fx*x-fy*y-fz*z"
"""A constant force (fx, fy, fz) per particle, set from Python every frame."""


class ImdForce:
    """Applies user forces inside OpenMM: a CustomExternalForce in its own force group.

    ``imd = ImdForce(system)`` before creating the Context, then each frame
    ``imd.apply(context, compute_imd_forces(...))``.

    Leftover NanoVer user forces saved in the System (NanoVer's XML files carry them) are
    removed; any other force in group 31 is refused, since its energy would be hidden.
    """

    def __init__(self, system: openmm.System) -> None:
        _remove_leftover_imd_forces(system)
        force = openmm.CustomExternalForce(IMD_FORCE_EXPRESSION)
        force.setName("costeer user force")
        force.setForceGroup(IMD_FORCE_GROUP)
        for name in ("fx", "fy", "fz"):
            force.addPerParticleParameter(name)
        for particle in range(system.getNumParticles()):
            force.addParticle(particle, (0.0, 0.0, 0.0))
        system.addForce(force)
        self.force = force
        """The OpenMM force; one entry per particle, in particle order."""
        self._indices = np.zeros(0, dtype=np.uint32)
        self._forces = np.zeros((0, 3), dtype=np.float64)

    def apply(self, context: openmm.Context, result: ImdResult) -> None:
        """Make ``context`` feel ``result``'s forces, and no force on particles released since."""
        indices = np.asarray(result.indices, dtype=np.uint32)
        forces = np.asarray(result.forces, dtype=np.float64)
        if np.array_equal(indices, self._indices) and np.array_equal(forces, self._forces):
            return
        released = np.setdiff1d(self._indices, indices, assume_unique=True)
        for particle in released.tolist():
            self.force.setParticleParameters(particle, particle, (0.0, 0.0, 0.0))
        for particle, force in zip(indices.tolist(), forces.tolist()):
            self.force.setParticleParameters(particle, particle, force)
        self.force.updateParametersInContext(context)
        self._indices = indices.copy()
        self._forces = forces.copy()

    def clear(self, context: openmm.Context) -> None:
        """Remove every user force from ``context``."""
        self.apply(context, ImdResult.EMPTY)


def _remove_leftover_imd_forces(system: openmm.System) -> None:
    for index in reversed(range(system.getNumForces())):
        force = system.getForce(index)
        if force.getForceGroup() != IMD_FORCE_GROUP:
            continue
        if isinstance(force, openmm.CustomExternalForce) and _is_imd_expression(force.getEnergyFunction()):
            system.removeForce(index)
            _LOG.info("removed a user force left in the system file (force %d, group %d)", index, IMD_FORCE_GROUP)
            continue
        raise ValueError(
            f"force {index} ({force.getName()}) is in force group {IMD_FORCE_GROUP}, which is "
            "reserved for interactive forces; move it to another group (force.setForceGroup)"
        )


def _is_imd_expression(expression: str) -> bool:
    return "".join(expression.split()) == IMD_FORCE_EXPRESSION
