"""Frames from OpenMM's objects: the topology keys, float32 arrays, finiteness, degrees of freedom.

What ``OpenMMSimulation`` needs to turn a context's state into NanoVer's frame keys, apart from
the stepping: ``topology_frame`` (once per load), ``state_frame`` (each frame's positions, box,
time and step; velocities and forces when asked), ``float32`` (every array sent),
``require_finite`` (raises ``SimulationBlowUpError``), ``energy_frame`` (energies and temperature,
one force evaluation), ``degrees_of_freedom`` (for the temperature, as OpenMM's StateDataReporter
counts them).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import openmm
from openmm import unit

from costeer.core import keys
from costeer.core.frame import FrameDict

from .frame_guard import SimulationBlowUpError
from .imd_force import NON_IMD_GROUPS

__all__ = [
    "MOLAR_GAS_CONSTANT",
    "blow_up_message",
    "degrees_of_freedom",
    "energy_frame",
    "float32",
    "require_finite",
    "state_frame",
    "topology_frame",
]

MOLAR_GAS_CONSTANT = 0.00831446261815324
"""R in kJ/(mol K), for the instantaneous temperature."""


def float32(values: Any) -> np.ndarray:
    """``values`` as float32 for a frame. Numbers beyond float32's range become infinite without
    numpy's "overflow encountered in cast" warning: the frame guard refuses such a frame."""
    with np.errstate(over="ignore"):
        return np.asarray(values, dtype=np.float32)


def require_finite(values: np.ndarray, what: str, name: str) -> None:
    """Raise ``SimulationBlowUpError`` naming simulation ``name`` unless every value is finite."""
    if not np.isfinite(values).all():
        raise SimulationBlowUpError(blow_up_message(name, f"non-finite {what}"), cause=f"non-finite {what}")


def blow_up_message(name: str, what: str) -> str:
    """What a user reads when simulation ``name`` blew up (``what``): how to go on."""
    return (
        f"simulation {name!r} blew up ({what}); to go on, reset it (playback/reset) and then "
        "play it (playback/play), and pull more gently or lower --max-force"
    )


def topology_frame(topology: openmm.app.Topology) -> FrameDict:
    """The topology keys of NanoVer's first frame (built once per load)."""
    atoms = list(topology.atoms())
    residues = list(topology.residues())
    chains = list(topology.chains())
    bonds = [(a.index, b.index) for a, b in topology.bonds()]
    return {
        keys.PARTICLE_COUNT: len(atoms),
        keys.PARTICLE_NAMES: [atom.name for atom in atoms],
        keys.PARTICLE_ELEMENTS: np.array(
            [atom.element.atomic_number if atom.element is not None else 0 for atom in atoms], dtype=np.uint8
        ),
        keys.PARTICLE_RESIDUES: np.array([atom.residue.index for atom in atoms], dtype=np.uint32),
        keys.RESIDUE_COUNT: len(residues),
        keys.RESIDUE_NAMES: [residue.name for residue in residues],
        keys.RESIDUE_IDS: [residue.id for residue in residues],
        keys.RESIDUE_CHAINS: np.array([residue.chain.index for residue in residues], dtype=np.uint32),
        keys.CHAIN_COUNT: len(chains),
        keys.CHAIN_NAMES: [chain.id for chain in chains],
        keys.BOND_PAIRS: np.array(bonds, dtype=np.uint32).reshape(-1, 2),
    }


def state_frame(
    context: openmm.Context,
    *,
    name: str,
    periodic: bool,
    timestep_ps: float,
    positions: np.ndarray | None = None,
    velocities: bool = False,
    forces: bool = False,
) -> FrameDict:
    """The context's positions (``positions`` when already fetched, nm), box, time, step and step
    size now; its velocities and system forces (the user force's group left out) when asked.

    Raises ``SimulationBlowUpError`` on non-finite positions.
    """
    state = context.getState(getPositions=positions is None, getVelocities=velocities, getForces=forces,
                             enforcePeriodicBox=periodic, groups=NON_IMD_GROUPS)
    if positions is None:
        positions = state.getPositions(asNumpy=True).value_in_unit(unit.nanometer)
        require_finite(positions, "positions", name)
    frame: FrameDict = {
        keys.PARTICLE_POSITIONS: float32(positions),
        keys.BOX_VECTORS: float32(state.getPeriodicBoxVectors(asNumpy=True).value_in_unit(unit.nanometer)),
        keys.SIMULATION_TIME: state.getTime().value_in_unit(unit.picosecond),
        keys.SIMULATION_STEP: state.getStepCount(),
        keys.SIMULATION_TIMESTEP: timestep_ps,
    }
    if velocities:
        frame[keys.PARTICLE_VELOCITIES] = float32(state.getVelocities(asNumpy=True).value_in_unit(unit.nanometer / unit.picosecond))
    if forces:
        frame[keys.PARTICLE_FORCES_SYSTEM] = float32(state.getForces(asNumpy=True).value_in_unit(unit.kilojoule_per_mole / unit.nanometer))
    return frame


def degrees_of_freedom(system: openmm.System) -> int:
    """OpenMM StateDataReporter's count: 3 per massive particle, minus constraints and COM motion."""
    masses = np.array([system.getParticleMass(i).value_in_unit(unit.dalton) for i in range(system.getNumParticles())])
    dof = 3 * int(np.count_nonzero(masses > 0))
    for i in range(system.getNumConstraints()):
        first, second, _ = system.getConstraintParameters(i)
        if masses[first] > 0 or masses[second] > 0:
            dof -= 1
    if any(isinstance(system.getForce(i), openmm.CMMotionRemover) for i in range(system.getNumForces())):
        dof -= 3
    return dof


def energy_frame(context: openmm.Context, time_ps: float, *, name: str, degrees: int = 0) -> FrameDict:
    """The energies of ``context`` now (without the IMD forces' group), stamped ``time_ps``; with
    ``degrees`` of freedom, the instantaneous temperature too. One force evaluation; raises
    ``SimulationBlowUpError`` naming simulation ``name`` if an energy is not finite."""
    state = context.getState(getEnergy=True, groups=NON_IMD_GROUPS)
    kinetic = state.getKineticEnergy().value_in_unit(unit.kilojoule_per_mole)
    potential = state.getPotentialEnergy().value_in_unit(unit.kilojoule_per_mole)
    require_finite(np.array([kinetic, potential]), "energies", name)
    frame: FrameDict = {keys.KINETIC_ENERGY: kinetic, keys.POTENTIAL_ENERGY: potential, keys.ENERGY_TIME: time_ps}
    if degrees > 0:
        frame[keys.SYSTEM_TEMPERATURE] = 2.0 * kinetic / (degrees * MOLAR_GAS_CONSTANT)
    return frame
