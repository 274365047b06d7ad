"""A task's system stepped in-process, frame by frame, with the server's engine and interactive-force code.

The loop is what a paced server does with one client: each frame the actor sees the
positions and sets (or drops) its interaction, then the engine runs ``steps_per_frame`` MD
steps and publishes a delta frame, user forces and work included. Time is a person's time:
simulated time over the human pace, so a hand or policy acts at the pace people did.

    env = TaskEnvironment(get_task("nanotube"))
    step = env.reset(seed=3)                    # new thermostat noise per seed, same start
    step = env.step(Interaction(step.positions[0] + 1.0, env.selection.grabbed, "spring", scale=1201.1))
    step = env.step([person_pull, copilot_pull])  # several at once, as a server with two clients
    interaction_work(steps, "interaction.costeer-demonstrator")   # one of them's work alone

``reset(seed)`` reseeds the integrator's random numbers without rebuilding the System
(``OpenMMSimulation.reset(seed=...)``, which the server's resets share): OpenMM draws them
from a generator seeded only when its kernels initialise, and a checkpoint carries that
generator's state (so a plain reset would replay the same noise). So a reset loads the
engine's initial checkpoint, sets the seed, reinitialises the context and restores the
initial state with ``setState``, which leaves the new generator alone. For the 65-atom
nanotube on Reference that costs about 20 ms (recompiling the custom forces' kernels), against
0.2 ms for a reset that replays the noise, 33 ms for a new environment and about 3 s for an
episode. The same
seed gives the same trajectory on the same platform; platform ``Reference`` (the default)
gives it on every machine.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from openmm import unit

from costeer.core import keys
from costeer.core.frame import FrameDict
from costeer.core.interaction import DEFAULT_MAX_FORCE, Interaction
from costeer.engine.imd import compute_imd_forces, work_contribution
from costeer.engine.loading import from_built
from costeer.engine.openmm_simulation import OpenMMSimulation
from costeer.tasks import AtomSelection, Chemistry, Task, resolve_task
from costeer.tasks.hand import HUMAN_PACE_PS_PER_S

__all__ = ["DEFAULT_INTERACTION_KEY", "RolloutStep", "TaskEnvironment", "interaction_key", "interaction_work"]

DEFAULT_INTERACTION_KEY = f"{keys.INTERACTION_PREFIX}rollout"
"""Shared-state key of an interaction whose properties name no ``owner.id``."""


def interaction_key(interaction: Interaction) -> str:
    """The ``interaction.<owner.id>`` state key an interaction goes under (as a headset's would)."""
    owner = interaction.properties.get("owner.id")
    return f"{keys.INTERACTION_PREFIX}{owner}" if owner else DEFAULT_INTERACTION_KEY


@dataclass(frozen=True, eq=False)
class RolloutStep:
    """One frame of a rollout: when, where the atoms are, the user's force, and the frame itself.

    Usage: ``step = env.step(None); step.positions[env.selection.grabbed]``
    """

    time_s: float
    """A person's seconds since the reset (simulated time over the pace)."""
    positions: np.ndarray
    """``(n, 3)`` float64 nm: the published (float32) positions, as a client sees them."""
    user_force_index: np.ndarray
    """Atoms the user's force acts on, ``(k,)`` int64 (empty when nobody pulls)."""
    user_force: np.ndarray
    """The force on each of them, ``(k, 3)`` float64 kJ/(mol nm): what the next MD steps feel."""
    frame: FrameDict
    """The frame the engine published (the full frame after a reset, else a delta), ``frame.index`` stamped."""
    interaction_forces: Mapping[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    """Per live interaction's state key, its own ``(atoms (k,) int64, force (k, 3))`` at these positions
    (the engine's law and caps, as if it were alone): each actor's share of ``user_force``."""


class TaskEnvironment:
    """One task's system, reset by seed and stepped one frame per action, headless and in-process.

    Usage: ``env = TaskEnvironment(get_task("nanotube")); step = env.reset(0); step = env.step(None)``

    ``task``: a :class:`~costeer.tasks.Task` or what ``--task`` accepts (name or task file).
    ``platform``: the OpenMM platform (``"Reference"``: the same trajectory for a seed on every
    machine; ``"CPU"``/``"CUDA"`` are faster for big systems). ``max_force``: the server-wide
    cap on user forces, kJ/(mol nm), as ``costeer serve --max-force``.
    """

    def __init__(
        self,
        task: Task | str,
        *,
        steps_per_frame: int = 5,
        pace_ps_per_s: float = HUMAN_PACE_PS_PER_S,
        platform: str = "Reference",
        max_force: float | None = DEFAULT_MAX_FORCE,
    ) -> None:
        if not pace_ps_per_s > 0:
            raise ValueError(f"pace_ps_per_s must be positive (a person's pace is {HUMAN_PACE_PS_PER_S}), got {pace_ps_per_s}")
        self.task = resolve_task(task) if isinstance(task, str) else task
        self.pace_ps_per_s = pace_ps_per_s
        self.platform_name = platform
        self.max_force = max_force
        loaded = from_built(self.task.build_system())
        self._simulation = OpenMMSimulation(
            loaded,
            steps_per_frame=steps_per_frame,
            platform=platform,
            include_energies=False,
            max_force=max_force,
            source=f"task:{self.task.name}",
        )
        self._simulation.load()
        frame = self._simulation.reset()
        context = self._simulation.context
        self.chemistry: Chemistry = Chemistry.from_frame(frame)
        """Elements and bonds of the system."""
        self.selection: AtomSelection = self.task.select(self.chemistry)
        """The task's grabbed and observed atoms."""
        self.masses: np.ndarray = self._simulation.masses
        """``(n,)`` particle masses, dalton."""
        self.initial_positions: np.ndarray = np.asarray(frame[keys.PARTICLE_POSITIONS], dtype=np.float64)
        """``(n, 3)`` nm: where every reset starts (as published, float32 precision)."""
        step_ps = context.getIntegrator().getStepSize().value_in_unit(unit.picosecond)
        self.frame_interval_s: float = steps_per_frame * step_ps / pace_ps_per_s
        """A person's seconds per frame (1/30 s at NanoVer's default pacing)."""
        self.steps_per_frame = steps_per_frame
        self.resets = 0
        """Resets so far (the ``system.simulation.counter`` of the frames)."""
        self._time0 = 0.0
        self._next_index = 0

    def settings(self) -> dict[str, Any]:
        """How frames are made (for a recording's ``costeer.session`` entry)."""
        return {
            "steps_per_frame": self.steps_per_frame,
            "pace_ps_per_s": self.pace_ps_per_s,
            "platform": self.platform_name,
            "max_force": self.max_force,
            "energies": False,
        }

    def reset(self, seed: int) -> RolloutStep:
        """Back to the start with the thermostat's random numbers seeded by ``seed``; the full frame."""
        frame = self._simulation.reset(seed=seed)
        self._time0 = float(frame[keys.SIMULATION_TIME])
        frame[keys.FRAME_INDEX] = 0
        frame[keys.SIMULATION_COUNTER] = self.resets
        self.resets += 1
        self._next_index = 1
        return self._step(frame)

    def step(self, interactions: Interaction | Iterable[Interaction] | None) -> RolloutStep:
        """Run one frame (``steps_per_frame`` MD steps) with ``interactions`` live (``None`` or none: nobody pulls).

        Several interactions act together, as several clients' on a server; each goes under its
        :func:`interaction_key`, so two need different owners.
        """
        if self._next_index == 0:
            raise RuntimeError("step() before reset(): call env.reset(seed) first")
        live = _by_key(interactions)
        self._simulation.set_interactions(live)
        frame = self._simulation.advance(0.0)
        frame[keys.FRAME_INDEX] = self._next_index
        self._next_index += 1
        return self._step(frame, live)

    def close(self) -> None:
        """Drop the OpenMM context."""
        self._simulation.close()

    def _step(self, frame: FrameDict, live: Mapping[str, Interaction] | None = None) -> RolloutStep:
        positions = np.asarray(frame[keys.PARTICLE_POSITIONS], dtype=np.float64)
        index = np.asarray(frame.get(keys.USER_FORCES_INDEX, ()), dtype=np.int64).reshape(-1)
        force = np.asarray(frame.get(keys.USER_FORCES_SPARSE, ()), dtype=np.float64).reshape(-1, 3)
        live = live or {}
        if len(live) == 1:  # one pull: its force is the engine's (no second computation on the common path)
            shares = {key: (index, force) for key in live}
        else:
            shares = {key: self._force_of(interaction, positions) for key, interaction in live.items()}
        return RolloutStep(
            time_s=(float(frame[keys.SIMULATION_TIME]) - self._time0) / self.pace_ps_per_s,
            positions=positions,
            user_force_index=index,
            user_force=force,
            frame=frame,
            interaction_forces=shares,
        )

    def _force_of(self, interaction: Interaction, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        simulation = self._simulation
        box = simulation.loaded.box if simulation.periodic else None
        result = compute_imd_forces(positions, self.masses, [interaction], periodic_box=box, max_force=self.max_force)
        return result.indices.astype(np.int64), result.forces


def interaction_work(steps: Sequence[RolloutStep], key: str) -> float:
    """Work of the interaction under ``key`` alone over ``steps``, kJ/mol: ``sum F_key(t-1) · (r(t) - r(t-1))``.

    The engine's ``forces.user.work_done`` is the same sum for all interactions together (NanoVer's
    definition), so with one interaction the two agree; with several, their works add up to it
    unless the server-wide cap clipped their sum.
    """
    total = 0.0
    for before, after in zip(steps, steps[1:]):
        felt = before.interaction_forces.get(key)
        if felt is not None and len(felt[0]):
            atoms, force = felt
            total += work_contribution(force, after.positions[atoms]) - work_contribution(force, before.positions[atoms])
    return total


def _by_key(interactions: Interaction | Iterable[Interaction] | None) -> dict[str, Interaction]:
    if interactions is None:
        return {}
    if isinstance(interactions, Interaction):
        return {interaction_key(interactions): interactions}
    live: dict[str, Interaction] = {}
    for interaction in interactions:
        key = interaction_key(interaction)
        if key in live:
            raise ValueError(f"two interactions under {key}: give each actor its own owner.id in its properties")
        live[key] = interaction
    return live
