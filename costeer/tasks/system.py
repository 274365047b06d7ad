"""The result of building a task's molecular system in code: topology, System, integrator, positions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import openmm
import openmm.app

__all__ = ["BuiltSystem"]


@dataclass(frozen=True)
class BuiltSystem:
    """A system built in code, ready to simulate.

    Usage: ``built = build_task_system("nanotube"); Simulation(built.topology, built.system, built.integrator)``
    """

    name: str
    """The task's name, as registered with :func:`costeer.tasks.register_task`."""
    topology: openmm.app.Topology
    """Atoms with elements, residues, chains and bonds, in the System's particle order."""
    system: openmm.System
    """The force field; each call builds a fresh one, so callers may add forces to it."""
    integrator: openmm.Integrator
    """A fresh integrator, not yet bound to a Context."""
    positions: np.ndarray
    """Starting positions, shape ``(n_atoms, 3)``, float64, nanometres."""
