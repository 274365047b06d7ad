"""Open the OpenMM context a simulation runs in: on the platform timed fastest, in the loaded initial state.

    opened = open_context(loaded, system, platform="auto", cpu_threads=None, cpu_core="auto",
                          seed=None, steps_per_call=5, name="nanotube")
    opened.context, opened.integrator, opened.candidate     # candidate: platform, threads, core

``system`` is the simulation's own copy of ``loaded.system`` (with the user force added); each
candidate gets its context from it and a clone of ``loaded``'s integrator, seeded from
``seed`` when given (``openmm_seed``: any integer, 0 included, gives the same noise every
run). The choice (``costeer.engine.platforms``) and its timings are logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import openmm

from .affinity import on_core, pin_cores
from .nanover_xml import LoadedSystem
from .platforms import ContextTrial, PlatformCandidate, choose_platform, platform_candidates
from .seeds import openmm_seed

__all__ = ["OpenedContext", "open_context", "new_context"]

_LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class OpenedContext:
    """A context ready to step, its integrator, and the platform candidate it runs on."""

    context: openmm.Context
    integrator: openmm.Integrator
    candidate: PlatformCandidate


def new_context(
    loaded: LoadedSystem, system: openmm.System, candidate: PlatformCandidate, *, seed: int | None = None
) -> tuple[openmm.Context, openmm.Integrator]:
    """A context for ``system`` on ``candidate``, in ``loaded``'s initial state."""
    integrator = openmm.XmlSerializer.clone(loaded.integrator)
    if seed is not None and hasattr(integrator, "setRandomNumberSeed"):
        integrator.setRandomNumberSeed(openmm_seed(seed))  # seed 0 too is a seed, not OpenMM's "pick one"
    with on_core(candidate.core):  # OpenMM's CPU workers start here and stay on the thread's core
        context = openmm.Context(system, integrator, candidate.platform, candidate.properties)
    if loaded.box is not None:
        context.setPeriodicBoxVectors(*loaded.box)
    context.setPositions(loaded.positions)
    if loaded.velocities is not None:
        context.setVelocities(loaded.velocities)
    if loaded.state is not None:
        context.setTime(loaded.state.getTime())
        context.setStepCount(loaded.state.getStepCount())
    if system.getNumConstraints():
        context.applyConstraints(1e-6)
    return context, integrator


def open_context(
    loaded: LoadedSystem, system: openmm.System, *, platform: str | None, cpu_threads: int | None,
    cpu_core: int | str | None, seed: int | None, steps_per_call: int, name: str,
) -> OpenedContext:
    """The context on the fastest candidate (timed when there are several), back in the initial state.

    ``platform``/``cpu_threads``/``cpu_core`` as ``OpenMMSimulation`` takes them; ``name`` is
    for the log.
    """
    choice = choose_platform(
        platform_candidates(platform, cpu_threads=cpu_threads, pin_cores=pin_cores(cpu_core),
                            pinned_only=isinstance(cpu_core, int)),
        open_trial=lambda candidate: ContextTrial(
            *new_context(loaded, system, candidate, seed=seed), steps_per_call=steps_per_call, core=candidate.core
        ),
    )
    if choice.trial is None:
        context, integrator = new_context(loaded, system, choice.candidate, seed=seed)
    else:
        context, integrator = choice.trial.restored(), choice.trial.integrator
        _LOG.info("platform timing for %s: %s", name, choice.describe())
        if seed is not None and choice.steps_per_second:
            _LOG.warning("%s is seeded but its platform was chosen by timing, which may choose "
                         "another next run: give a platform (--platform) for runs that repeat exactly", name)
    return OpenedContext(context, integrator, choice.candidate)
