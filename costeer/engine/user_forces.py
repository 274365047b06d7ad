"""The users' forces on one OpenMM context: computed from the live interactions, applied, their work kept.

NanoVer's order each chunk: account the work of the forces just felt (at the positions the
chunk ended on), release the velocities of interactions that ended with
``reset_velocities``, compute the new forces (``compute_imd_forces``, capped by the server's
``max_force``), apply them (``ImdForce``) and count their work from here on as pending.

    forces = UserForces(ImdForce(system), masses, periodic_box=None)
    forces.update(context, positions, interactions, max_force=2000.0)
    frame.update(forces.frame())    # energy.user.total, forces.user.*, forces.user.work_done
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import openmm
from openmm import unit

from costeer.core import keys
from costeer.core.frame import FrameDict
from costeer.core.interaction import Interaction

from .imd import ImdResult, compute_imd_forces, work_contribution
from .imd_force import ImdForce
from .openmm_frames import float32

__all__ = ["UserForces"]


class UserForces:
    """The user forces of one context and the work they did (NanoVer's ``forces.user.work_done``)."""

    def __init__(self, imd: ImdForce, masses: np.ndarray, *, periodic_box: np.ndarray | None) -> None:
        self.imd = imd
        self.masses = masses
        self.periodic_box = periodic_box
        self.result: ImdResult = ImdResult.EMPTY
        """The forces applied now."""
        self.work_done = 0.0
        """Work the user forces did up to the last update, kJ/mol."""
        self._work_pending = 0.0
        self._previous: dict[str, Interaction] = {}

    def needed(self, interactions: Mapping[str, Interaction]) -> bool:
        """Whether an update has anything to do (someone interacts now or did last chunk)."""
        return bool(interactions or self._previous)

    def update(
        self,
        context: openmm.Context,
        positions: np.ndarray,
        interactions: Mapping[str, Interaction],
        *,
        max_force: float | None,
    ) -> None:
        """Account the work of the forces just felt, then compute and apply those of ``interactions``."""
        previous = self.result
        if previous.indices.size:
            self._work_pending += work_contribution(previous.forces, positions[previous.indices])
        ended = [
            interaction
            for key, interaction in self._previous.items()
            if interaction.reset_velocities and key not in interactions
        ]
        if ended:
            _remove_mean_velocities(context, ended)
        result = compute_imd_forces(
            positions, self.masses, interactions.values(), periodic_box=self.periodic_box, max_force=max_force
        )
        self.imd.apply(context, result)
        self.work_done = self._work_pending
        if result.indices.size:
            self._work_pending -= work_contribution(result.forces, positions[result.indices])
        self.result = result
        self._previous = dict(interactions)

    def drop(self, context: openmm.Context, *, keep_work: bool) -> None:
        """Remove every user force; the work restarts from 0 unless ``keep_work`` (a rollback)."""
        self.imd.clear(context)
        self.result = ImdResult.EMPTY
        self._previous = {}
        if keep_work:
            self._work_pending = self.work_done  # the forces just dropped will not be felt
        else:
            self.work_done = self._work_pending = 0.0

    def frame(self) -> FrameDict:
        """The user-force keys of a delta frame."""
        return {
            keys.USER_ENERGY: self.result.energy,
            keys.USER_FORCES_SPARSE: float32(self.result.forces),
            keys.USER_FORCES_INDEX: self.result.indices.astype(np.uint32),
            keys.USER_WORK_DONE: self.work_done,
        }


def _remove_mean_velocities(context: openmm.Context, interactions: list[Interaction]) -> None:
    """NanoVer's velocity reset: released particles lose their mean velocity."""
    state = context.getState(getVelocities=True)
    velocities = state.getVelocities(asNumpy=True).value_in_unit(unit.nanometer / unit.picosecond)
    for interaction in interactions:
        particles = interaction.particles
        velocities[particles] -= velocities[particles].mean(axis=0)
    context.setVelocities(velocities)
