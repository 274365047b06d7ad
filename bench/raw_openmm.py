"""Raw OpenMM speed on a NanoVer XML system: no server, no frames, just ``integrator.step``.

    steps_per_second(Path("nanotube.xml"), platform="Reference", seconds=3.0)
"""

from __future__ import annotations

import time
from pathlib import Path

import openmm

from costeer.engine.nanover_xml import read_nanover_xml

__all__ = ["steps_per_second", "timestep_ps", "particle_count"]

CHUNK = 50
"""Steps per ``integrator.step`` call: large enough that the Python call costs nothing."""


def _context(path: Path, platform: str) -> tuple[openmm.Context, openmm.Integrator]:
    loaded = read_nanover_xml(path)
    integrator = loaded.integrator
    context = openmm.Context(loaded.system, integrator, openmm.Platform.getPlatformByName(platform))
    context.setPositions(loaded.positions)
    if loaded.velocities is not None:
        context.setVelocities(loaded.velocities)
    return context, integrator


def steps_per_second(path: Path, *, platform: str, seconds: float) -> float:
    """MD steps per second of wall time, after a short warm-up."""
    context, integrator = _context(path, platform)
    integrator.step(CHUNK)
    steps = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        integrator.step(CHUNK)
        steps += CHUNK
    del context
    return steps / elapsed


def timestep_ps(path: Path) -> float:
    return read_nanover_xml(path).integrator.getStepSize().value_in_unit(openmm.unit.picosecond)


def particle_count(path: Path) -> int:
    return read_nanover_xml(path).system.getNumParticles()
