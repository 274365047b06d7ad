"""One rollout: an actor steering a task environment from a seeded reset to the end, and what came of it.

    rollout = run_rollout(env, hand_actor(hand, env.selection), seed=3, max_s=40.0)
    rollout.outcome.success, rollout.time_to_success_s, rollout.work, rollout.peak_force
    rollout.write_recording("episode.nanover.zip", labels={"origin": "synthetic"})

The actor acts at every frame until it is ``finished`` or ``max_s`` person's seconds have
passed; then nobody pulls for ``settle_s`` more (so the frames show what the pull left).
``interactions[t]`` is what the actor chose on seeing frame ``t``: the engine applies it to
the MD steps after frame ``t`` (its force, evaluated at frame ``t + 1``'s positions, is in
frame ``t + 1`` and acts on the steps after that, as on the server).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from costeer.core import keys
from costeer.core.frame import FrameDict
from costeer.core.interaction import Interaction
from costeer.tasks import AtomSelection, Outcome, Task

from .actor import Actor
from .environment import RolloutStep, TaskEnvironment
from .recording import write_rollout_recording

__all__ = ["Rollout", "SUCCESS_CHECK_S", "run_rollout"]

SUCCESS_CHECK_S = 1.0
"""With ``stop_on_success``, how often (person's seconds) the task judges the path so far."""


@dataclass(eq=False)
class Rollout:
    """A finished rollout: per-frame times, positions, interactions and forces, the task's verdict, the frames.

    Usage: ``rollout.positions  # (T, n, 3) ; rollout.interactions[t]  # chosen on seeing frame t``
    """

    task: Task
    selection: AtomSelection
    seed: int
    times_s: np.ndarray
    """``(T,)`` a person's seconds since the reset."""
    positions: np.ndarray
    """``(T, n, 3)`` float64 nm, lab frame; frame 0 is the start."""
    interactions: list[Interaction | None]
    """``T`` entries: what the actor chose on seeing each frame (``None`` after it finished, and at the last)."""
    user_forces: np.ndarray
    """``(T, 3)`` the net user force in each frame, kJ/(mol nm)."""
    outcome: Outcome
    """``task.evaluate`` of the whole rollout."""
    frames: list[FrameDict] = field(repr=False)
    """The frames the engine published (the full frame, then deltas): what a recording holds."""
    settings: dict[str, Any] = field(default_factory=dict)
    """How the environment made the frames (steps per frame, pace, platform, cap)."""
    work: float = 0.0
    """Work of the user's force on the pulled atoms, kJ/mol: the engine's ``forces.user.work_done``
    at the last frame, ``sum F(t-1) · (r(t) - r(t-1))`` over the frames (NanoVer's)."""

    def __len__(self) -> int:
        return len(self.times_s)

    @property
    def time_to_success_s(self) -> float | None:
        """A person's seconds from the reset to the frame the task was first done; ``None`` without success."""
        index = self.outcome.success_index if self.outcome.success else None
        return None if index is None else float(self.times_s[index])

    @property
    def peak_force(self) -> float:
        """Largest net user force of any frame, kJ/(mol nm)."""
        return float(np.linalg.norm(self.user_forces, axis=1).max(initial=0.0))

    @property
    def pulled_s(self) -> float:
        """A person's seconds with an interaction live."""
        live = np.array([interaction is not None for interaction in self.interactions[:-1]], dtype=bool)
        return float(np.diff(self.times_s)[live].sum())

    def summary(self) -> dict[str, Any]:
        """JSON-friendly figures of the rollout."""
        return {
            "seed": self.seed,
            "success": bool(self.outcome.success),
            "time_to_success_s": self.time_to_success_s,
            "work": self.work,
            "peak_force": self.peak_force,
            "frames": len(self),
            "person_s": float(self.times_s[-1]),
            "pulled_s": self.pulled_s,
        }

    def write_recording(self, path: str | Path, *, labels: Mapping[str, Any]) -> Path:
        """Write a ``.nanover.zip`` that ``costeer dataset build`` reads as it reads a live recording."""
        return write_rollout_recording(self, path, labels=labels)


def run_rollout(
    env: TaskEnvironment,
    actor: Actor,
    *,
    seed: int,
    max_s: float,
    settle_s: float = 0.5,
    stop_on_success: bool = False,
) -> Rollout:
    """Reset ``env`` with ``seed``, let ``actor`` act until finished or ``max_s``, then ``settle_s`` with no pull.

    ``stop_on_success``: also stop once the task is done (judged every ``SUCCESS_CHECK_S`` of a
    person's time on the path so far), as closed-loop evaluation does for actors that never
    say they have finished.
    """
    if not max_s > 0 or settle_s < 0:
        raise ValueError(f"max_s must be positive and settle_s >= 0, got {max_s} and {settle_s}")
    step = env.reset(seed)
    steps, interactions = [step], []
    check_every = max(1, int(round(SUCCESS_CHECK_S / env.frame_interval_s)))
    while step.time_s < max_s and not actor.finished:
        interaction = actor.act(step.time_s, step.positions)
        interactions.append(interaction)
        step = env.step(interaction)
        steps.append(step)
        if stop_on_success and len(steps) % check_every == 0 and _done(env, steps):
            break
    for _ in range(int(round(settle_s / env.frame_interval_s))):
        interactions.append(None)
        step = env.step(None)
        steps.append(step)
    interactions.append(None)  # the last frame: nothing chosen on seeing it
    positions = np.stack([step.positions for step in steps])
    return Rollout(
        task=env.task,
        selection=env.selection,
        seed=seed,
        times_s=np.array([step.time_s for step in steps]),
        positions=positions,
        interactions=interactions,
        user_forces=np.stack([step.user_force.sum(axis=0) if len(step.user_force) else np.zeros(3) for step in steps]),
        outcome=env.task.evaluate(positions, env.selection),
        frames=[step.frame for step in steps],
        settings=env.settings(),
        work=float(steps[-1].frame.get(keys.USER_WORK_DONE, 0.0)),
    )


def _done(env: TaskEnvironment, steps: list[RolloutStep]) -> bool:
    return bool(env.task.evaluate(np.stack([step.positions for step in steps]), env.selection).success)
