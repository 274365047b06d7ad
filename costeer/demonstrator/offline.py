"""Headless rollouts: a hand steering the task's system in-process, no server (tuning and fast tests).

The loop is what a paced server does with one client: each frame, the hand sees the positions
and sets the interaction, then the simulation runs ``steps_per_frame`` steps with that force.
Time for the hand is a person's time: simulated time divided by the human pace.

    episode = rollout_offline(lambda task, sel, chem, pos: ThreadingHand(task, sel, pos, rng=rng), seed=3)
    episode.outcome.success
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from openmm import unit

from costeer.core import keys
from costeer.core.interaction import Interaction
from costeer.tasks import AtomSelection, Chemistry, Outcome, get_task
from costeer.tasks.builtin.nanotube import NanotubeTask

from .calibration import HUMAN_PACE_PS_PER_S
from costeer.tasks.hand import human_scale

__all__ = ["OfflineEpisode", "rollout_offline"]

HandFactory = Callable[[NanotubeTask, AtomSelection, Chemistry, np.ndarray], Any]
"""Builds the hand from the task, selection, chemistry and first positions."""


@dataclass
class OfflineEpisode:
    """One headless episode: per-frame person's time, positions, hand targets and user forces."""

    times_s: np.ndarray
    positions: np.ndarray
    """(T, n, 3) nm, lab frame; the first entry is the start, before any pull."""
    targets: np.ndarray
    """(T - 1, 3): the hand's target sent before each later frame."""
    forces: np.ndarray
    """(T - 1,) magnitude of the user's force in each later frame, kJ/(mol nm)."""
    hand: Any
    outcome: Outcome


def rollout_offline(
    make_hand: HandFactory,
    *,
    task_name: str = "nanotube",
    steps_per_frame: int = 5,
    seed: int = 0,
    max_s: float = 45.0,
    pace: float = HUMAN_PACE_PS_PER_S,
) -> OfflineEpisode:
    """Run one episode of at most ``max_s`` person's seconds, until the hand is ``finished`` (if it says)."""
    from costeer.engine.loading import from_built
    from costeer.engine.openmm_simulation import OpenMMSimulation

    task = get_task(task_name)
    loaded = from_built(task.build_system())
    loaded.integrator.setRandomNumberSeed(seed)
    # Reference: the same trajectory for a seed on every machine, and no platform timing per episode
    simulation = OpenMMSimulation(loaded, steps_per_frame=steps_per_frame, include_energies=False, platform="Reference")
    simulation.load()
    frame = simulation.reset()
    chemistry = Chemistry.from_frame(frame)
    selection = task.select(chemistry)
    start = np.asarray(frame[keys.PARTICLE_POSITIONS], dtype=np.float64)
    hand = make_hand(task, selection, chemistry, start)
    scale = human_scale(chemistry, selection)
    time0 = float(frame[keys.SIMULATION_TIME])
    times, positions, targets, forces = [0.0], [start], [], []
    while times[-1] < max_s and not getattr(hand, "finished", False):
        target = np.asarray(hand(times[-1], positions[-1]), dtype=np.float64)
        interaction = Interaction(target, selection.grabbed, "spring", scale=scale, max_force=float("inf"))
        simulation.set_interactions({"interaction.offline": interaction})
        delta = simulation.advance(0.0)
        times.append((float(delta[keys.SIMULATION_TIME]) - time0) / pace)
        positions.append(np.asarray(delta[keys.PARTICLE_POSITIONS], dtype=np.float64))
        targets.append(target)
        forces.append(float(np.linalg.norm(delta[keys.USER_FORCES_SPARSE], axis=-1).sum()))
    simulation.set_interactions({})
    frame_ps = steps_per_frame * loaded.integrator.getStepSize().value_in_unit(unit.picosecond)
    for _ in range(int(round(0.5 * pace / frame_ps))):  # half a second after letting go
        delta = simulation.advance(0.0)
        times.append((float(delta[keys.SIMULATION_TIME]) - time0) / pace)
        positions.append(np.asarray(delta[keys.PARTICLE_POSITIONS], dtype=np.float64))
    stacked = np.array(positions)
    return OfflineEpisode(
        times_s=np.array(times),
        positions=stacked,
        targets=np.array(targets).reshape(-1, 3),
        forces=np.array(forces),
        hand=hand,
        outcome=task.evaluate(stacked, selection),
    )
