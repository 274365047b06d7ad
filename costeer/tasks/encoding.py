"""One meaning for observations and actions: what the dataset, the rollout environment and the co-pilot all call.

Observation: ``task.observe`` of the task's observed atoms, flattened, in the task frame,
which continues from step to step (``previous=``). Action (:data:`ACTION_NAMES`):

- ``target_x, target_y, target_z``: where the pull aims, nm, in the task's axes, relative
  to the grabbed atoms' mass-weighted centre (the point costeer's force code pulls); 0 when off.
- ``strength``: the ``scale`` that costeer's force law (:mod:`costeer.engine.imd`: the whole
  force ``scale * f(d)`` acts on the centre, no mass multiplier) needs to exert the recorded
  force. Older NanoVer servers multiplied a mass-weighted pull by the grabbed mass too, so
  there ``strength = scale * grabbed mass`` (``strength_factor``): the same pull is strength
  ~1201 for a person's scale 100 on methane's carbon and for a synthetic scale 1201.1. 0 when off.
- ``type``: :data:`INTERACTION_TYPE_CODES`; ``on``: 1.0 while the grabbed atoms are pulled.

Usage (one step of a live episode)::

    encoder = StepEncoder(task, selection, masses=masses)
    observation = encoder.observe(positions)                       # (obs_dim,) float32
    action = encoder.encode_action(interaction, positions)         # (6,) float32
    interaction = encoder.decode_action(policy_action, positions)  # Interaction | None
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
from openmm.app import Element
from openmm.unit import dalton

from costeer.core.interaction import Interaction
from costeer.tasks.chemistry import Chemistry
from costeer.tasks.frame import TaskFrame
from costeer.tasks.task import AtomSelection, Task

__all__ = [
    "ACTION_LAG",
    "ACTION_NAMES",
    "INTERACTION_TYPE_CODES",
    "StepEncoder",
    "acting_interaction",
    "element_masses",
    "grabbed_centres",
]

ACTION_NAMES = ("target_x", "target_y", "target_z", "strength", "type", "on")
"""The action vector: target (nm, task axes, from the grabbed atoms' centre), strength, type code, on."""
INTERACTION_TYPE_CODES = {"unknown": -1, "none": 0, "gaussian": 1, "spring": 2, "constant": 3}
"""``type`` in the action: 0 when nobody pulls, -1 when a frames-only recording cannot say."""
ACTION_LAG = 1
"""Steps from an observation to the step that records the action chosen on seeing it. A recording
(live, or a rollout's) keeps arrival order: the interaction chosen on seeing frame ``t`` arrives
before frame ``t + 1`` and is that step's action. Learners pair observation ``t`` with action
``t + ACTION_LAG``; a policy's action on seeing a frame is applied from that frame on."""
_TYPES_BY_CODE = {code: name for name, code in INTERACTION_TYPE_CODES.items() if code > 0}


def element_masses(chemistry: Chemistry) -> np.ndarray:
    """``(n,)`` standard atomic masses (dalton) of ``chemistry``'s elements; 0 for atomic number 0."""
    masses = {int(z): (Element.getByAtomicNumber(int(z)).mass.value_in_unit(dalton) if z else 0.0)
              for z in np.unique(chemistry.elements)}
    return np.array([masses[int(z)] for z in chemistry.elements], dtype=np.float64)


def grabbed_centres(positions: np.ndarray, grabbed: np.ndarray, masses: np.ndarray) -> np.ndarray:
    """The grabbed atoms' mass-weighted centre, ``(..., 3)`` for positions ``(..., n, 3)`` (the point pulled)."""
    atoms = np.asarray(positions, dtype=np.float64)[..., grabbed, :]
    weights = np.asarray(masses, dtype=np.float64)[grabbed]
    if len(grabbed) == 1 or not weights.sum() > 0:
        return atoms.mean(axis=-2)
    return np.einsum("...ki,k->...i", atoms, weights / weights.sum())


def acting_interaction(interactions: Mapping[str, Interaction], grabbed: np.ndarray) -> Interaction | None:
    """The interaction that pulls any of the ``grabbed`` atoms (first by key); ``None`` when none does.

    Someone else pulling other atoms (another user on the tube, say) is not the task's action.
    """
    for key in sorted(interactions):
        if np.intersect1d(interactions[key].particles, grabbed).size:
            return interactions[key]
    return None


class StepEncoder:
    """Observations and actions of one episode, step by step (or a whole episode at once), for a task.

    Usage: ``enc = StepEncoder(task, sel, masses=m); obs = enc.observe(x); a = enc.encode_action(i, x)``

    The task frame continues from one :meth:`observe` to the next (:attr:`frame`); call
    :meth:`reset` at an episode's start. Actions use the frame of the last observation.
    """

    def __init__(self, task: Task, selection: AtomSelection, *, masses: np.ndarray, velocities: bool = False) -> None:
        self.task = task
        self.selection = selection
        self.masses = np.asarray(masses, dtype=np.float64)
        self.velocities = velocities
        self.frame: TaskFrame | None = None
        """The task frame of the last observed step; ``None`` before the first."""

    def reset(self) -> None:
        """Start a new episode: the next observation's frame follows the task's start-of-episode rule."""
        self.frame = None

    # --- per step -------------------------------------------------------------------------

    def observe(self, positions: np.ndarray, velocities: np.ndarray | None = None) -> np.ndarray:
        """``(obs_dim,)`` float32: the observed atoms in the task frame (and their velocities)."""
        observations, _ = self.observe_episode(np.asarray(positions)[None],
                                               None if velocities is None else np.asarray(velocities)[None])
        return observations[0]

    def encode_action(
        self, interaction: Interaction | None, positions: np.ndarray, *, strength_factor: float = 1.0
    ) -> np.ndarray:
        """``(6,)`` float32 action of ``interaction`` at ``positions`` (lab, ``(n, 3)``), in the last frame."""
        return self.encode_actions([interaction], np.asarray(positions)[None], self._current_frame()[None],
                                   strength_factor=strength_factor)[0]

    def decode_action(
        self,
        action: np.ndarray,
        positions: np.ndarray,
        *,
        max_force: float = math.inf,
        properties: Mapping[str, object] | None = None,
        interaction_type: str | None = "spring",
    ) -> Interaction | None:
        """The interaction an action asks for at ``positions``; ``None`` when ``on < 0.5``.

        A pull on the grabbed atoms towards the target (back in lab coordinates) with
        ``scale = strength``, mass-weighted, capped at ``max_force``; ``properties`` (owner,
        label) are passed on. ``interaction_type``: a spring by default (a policy's regressed
        type code is no reliable choice of potential); ``None``: the action's own type (a
        spring when it is none or unknown), which makes decoding undo :meth:`encode_action`.
        """
        action = np.asarray(action, dtype=np.float64).reshape(-1)
        if action.shape != (len(ACTION_NAMES),):
            raise ValueError(f"an action has {len(ACTION_NAMES)} components {ACTION_NAMES}, got shape {action.shape}")
        if not action[5] >= 0.5:
            return None
        if not np.isfinite(action[:4]).all():
            raise ValueError(f"cannot pull with an action whose target or strength is not finite: {action.tolist()}")
        frame = self._current_frame()
        centre = grabbed_centres(positions, self.selection.grabbed, self.masses)
        target = frame.vectors_to_lab(action[None, :3])[0] + centre
        return Interaction(
            position=target,
            particles=self.selection.grabbed.copy(),
            interaction_type=interaction_type or _TYPES_BY_CODE.get(int(round(action[4])), "spring"),
            scale=float(action[3]),
            mass_weighted=True,
            max_force=float(max_force),
            properties=dict(properties or {}),
        )

    # --- a whole episode (the dataset builder): the same numbers as step by step ----------------

    def observe_episode(
        self, positions: np.ndarray, velocities: np.ndarray | None = None
    ) -> tuple[np.ndarray, TaskFrame]:
        """``(T, obs_dim)`` float32 observations of ``(T, n, 3)`` positions and their task frames.

        Continues from :attr:`frame` and leaves it at the last step, like ``T`` calls of :meth:`observe`.
        """
        positions = np.asarray(positions, dtype=np.float64)
        if velocities is None and self.velocities:
            raise ValueError("this encoder observes velocities: pass them with the positions")
        frames = self.task.frames(positions, self.selection, previous=self.frame)
        observed = self.task.observe(positions, frames, self.selection,
                                     velocities=np.asarray(velocities, dtype=np.float64) if self.velocities else None)
        self.frame = frames[-1]
        return observed.reshape(len(positions), -1).astype(np.float32), frames

    def encode_actions(
        self,
        interactions: Sequence[Interaction | None],
        positions: np.ndarray,
        frames: TaskFrame,
        *,
        strength_factor: float = 1.0,
    ) -> np.ndarray:
        """``(T, 6)`` float32 actions of one interaction (or ``None``) per step at ``(T, n, 3)`` positions, in ``frames``.

        A pull of raw per-atom forces (an IMD client's) has no target or strength: it is the
        unknown action (NaN, type ``unknown``, on), as a frames-only recording's pulls are.
        """
        centres = grabbed_centres(positions, self.selection.grabbed, self.masses)
        action = np.zeros((len(interactions), len(ACTION_NAMES)))
        for step, interaction in enumerate(interactions):
            if interaction is not None and interaction.forces is not None:  # raw forces (IMD): no target to learn
                action[step] = [np.nan, np.nan, np.nan, np.nan, INTERACTION_TYPE_CODES["unknown"], 1.0]
            elif interaction is not None:
                action[step, :3] = interaction.position - centres[step]
                action[step, 3] = interaction.scale * strength_factor
                action[step, 4] = INTERACTION_TYPE_CODES[interaction.interaction_type]
                action[step, 5] = 1.0
        action[:, :3] = frames.vectors_to_task(action[:, None, :3])[:, 0, :]
        return action.astype(np.float32)

    def _current_frame(self) -> TaskFrame:
        if self.frame is None:
            raise RuntimeError("no task frame yet: call observe(positions) for this step first")
        return self.frame
