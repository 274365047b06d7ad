"""Raw OpenMM speed on a NanoVer XML system: no server, no frames, just ``integrator.step``.

    raw = RawOpenMM(Path("nanotube.xml"), platform="CPU", threads=1)
    raw.steps_per_second(seconds=2.0)      # one window; call again for the next pair
    pinned = RawOpenMM(Path("nanotube.xml"), platform="CPU", threads=1, core=0)  # this thread and
                                           # OpenMM's worker kept on core 0 (costeer.engine.affinity)

One context per platform, kept for the whole bench, so interleaved windows cost no set-up.
The system is stepped as costeer steps it while nobody pulls: without the user forces that
NanoVer's files carry (zero, yet each costs time every step: ~4% of the nanotube's; until
2026-12-02 the raw arms stepped the nanotube's two).
"""

from __future__ import annotations

import time
from pathlib import Path

import openmm

from costeer.engine.affinity import can_pin, least_busy_cores, on_core
from costeer.engine.imd_force import remove_leftover_user_forces
from costeer.engine.nanover_xml import LoadedSystem, read_nanover_xml

__all__ = ["RawOpenMM", "raw_candidates", "timestep_ps", "particle_count"]

CHUNK = 50
"""Most steps per ``integrator.step`` call: large enough that the Python call costs nothing."""
CALL_SECONDS = 0.05
"""Fewer steps per call once a step is slow, so a window ends near its length."""
REFERENCE_MAX_STEP_SECONDS = 0.004
"""Reference is left out when the CPU platform takes longer per step (it loses by far there,
and one of its steps on solvated villin takes over a second)."""


class RawOpenMM:
    """A context of a system (a NanoVer XML file, or one already loaded) on one platform, stepped in windows."""

    def __init__(self, source: Path | LoadedSystem, *, platform: str, threads: int | None = None,
                 core: int | None = None) -> None:
        loaded = read_nanover_xml(source) if isinstance(source, Path) else source
        system = openmm.XmlSerializer.clone(loaded.system)
        remove_leftover_user_forces(system)  # as costeer does: NanoVer's saved user forces are zero, not free
        self.platform = platform
        self.threads = threads
        self.core = core
        details = ([] if threads is None else [f"{threads} thread{'s' if threads != 1 else ''}"]) + (
            [] if core is None else [f"core {core}"])
        self.label = f"{platform} ({', '.join(details)})" if details else platform
        properties = {"Threads": str(threads)} if threads is not None else {}
        self.integrator = loaded.integrator
        with on_core(core):  # OpenMM's CPU worker starts on the core, as costeer's pinned platform does
            self.context = openmm.Context(
                system, self.integrator, openmm.Platform.getPlatformByName(platform), properties
            )
        if loaded.box is not None:
            self.context.setPeriodicBoxVectors(*loaded.box)
        self.context.setPositions(loaded.positions)
        if loaded.velocities is not None:
            self.context.setVelocities(loaded.velocities)
        with on_core(core):
            self.integrator.step(1)  # platform set-up
            started = time.perf_counter()
            self.integrator.step(1)
            self.seconds_per_step = time.perf_counter() - started
        self.chunk = max(1, min(CHUNK, int(CALL_SECONDS / max(self.seconds_per_step, 1e-9))))

    def steps_per_second(self, *, seconds: float) -> float:
        """MD steps per second of wall time over one window of about ``seconds``."""
        steps = 0
        with on_core(self.core):
            start = time.perf_counter()
            while (elapsed := time.perf_counter() - start) < seconds:
                self.integrator.step(self.chunk)
                steps += self.chunk
        return steps / elapsed


def raw_candidates(path: Path, cores: int) -> list[RawOpenMM]:
    """Raw contexts for the bench: CPU with every core and with one left free, CPU with one
    thread kept on one core (the least busy; as costeer's ``--cpu-core auto`` may run), and
    Reference unless a CPU step already takes longer than ``REFERENCE_MAX_STEP_SECONDS``."""
    runs = [RawOpenMM(path, platform="CPU", threads=threads) for threads in sorted({cores, max(1, cores - 1)}, reverse=True)]
    if can_pin():
        runs.append(RawOpenMM(path, platform="CPU", threads=1, core=least_busy_cores(1)[0]))
    if min(run.seconds_per_step for run in runs) < REFERENCE_MAX_STEP_SECONDS:
        runs.append(RawOpenMM(path, platform="Reference"))
    return runs


def timestep_ps(path: Path) -> float:
    return read_nanover_xml(path).integrator.getStepSize().value_in_unit(openmm.unit.picosecond)


def particle_count(path: Path) -> int:
    return read_nanover_xml(path).system.getNumParticles()
