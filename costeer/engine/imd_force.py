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

__all__ = ["IMD_FORCE_GROUP", "NON_IMD_GROUPS", "IMD_FORCE_EXPRESSION", "ImdForce", "remove_leftover_user_forces"]

_LOG = logging.getLogger(__name__)

IMD_FORCE_GROUP: int = 31
"""The force group that holds the user force and nothing else (NanoVer's choice)."""
_ALL_GROUPS = 0xFFFFFFFF
_IMD_BIT = 1 << IMD_FORCE_GROUP
NON_IMD_GROUPS: int = _ALL_GROUPS ^ _IMD_BIT
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
        remove_leftover_user_forces(system)
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
        self._integrated: bool | None = None

    def apply(self, context: openmm.Context, result: ImdResult) -> None:
        """Make ``context`` feel ``result``'s forces, and no force on particles released since.

        With no user force the force's group is left out of the integration (``integrated``):
        evaluated at zero, a custom force over every particle still costs time every step (the
        nanotube's step: 4%; a 3,222-atom water box's: 2-3%).
        """
        indices = np.asarray(result.indices, dtype=np.uint32)
        forces = np.asarray(result.forces, dtype=np.float64)
        if not (np.array_equal(indices, self._indices) and np.array_equal(forces, self._forces)):
            released = np.setdiff1d(self._indices, indices, assume_unique=True)
            for particle in released.tolist():
                self.force.setParticleParameters(particle, particle, (0.0, 0.0, 0.0))
            for particle, force in zip(indices.tolist(), forces.tolist()):
                self.force.setParticleParameters(particle, particle, force)
            self.force.updateParametersInContext(context)
            self._indices = indices.copy()
            self._forces = forces.copy()
        felt = bool(indices.size)
        if felt != self._integrated:
            self._integrate(context.getIntegrator(), felt)

    def clear(self, context: openmm.Context) -> None:
        """Remove every user force from ``context`` (and the force's group from its integration)."""
        self.apply(context, ImdResult.EMPTY)

    def _integrate(self, integrator: openmm.Integrator, felt: bool) -> None:
        """Add the force's group to the integrator's force groups, or take it out; other groups kept."""
        groups = integrator.getIntegrationForceGroups() & _ALL_GROUPS
        groups = groups | _IMD_BIT if felt else groups & ~_IMD_BIT
        integrator.setIntegrationForceGroups(groups - (1 << 32) if groups & (1 << 31) else groups)  # a signed C int
        self._integrated = felt

    @property
    def integrated(self) -> bool:
        """Whether the integrator includes the user force's group now (only while a user force is applied)."""
        return bool(self._integrated)


def remove_leftover_user_forces(system: openmm.System) -> None:
    """Remove the user forces a NanoVer XML file carries (its server's, saved with the system);
    refuse any other force in the user group. They are zero, but each still costs time every step."""
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
