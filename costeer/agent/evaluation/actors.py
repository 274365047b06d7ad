"""Who acts in a closed-loop rollout: a trained policy, or a baseline (``none``, ``scripted``, ``demonstrator``).

Each is an :class:`~costeer.rollout.Actor` built for one rollout from the environment (every
reset starts from ``env.initial_positions``) and the rollout's random numbers
(``make_actor(env, rng)``), so evaluation compares them on the same seeds with the same
engine and force code.

    actor = BASELINES["scripted"](env, np.random.default_rng(3))
    actor = PolicyActor(load_policy("policy.pt", expect_task="nanotube"), env)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from costeer.agent.copilot.proposer import PolicyProposer
from costeer.core.interaction import Interaction
from costeer.rollout import Actor, TaskEnvironment, hand_actor
from costeer.tasks.encoding import StepEncoder, grabbed_centres

__all__ = ["BASELINES", "ActorFactory", "NoForce", "PolicyActor", "ScriptedPull"]

ActorFactory = Callable[[TaskEnvironment, np.random.Generator], Actor]
"""Builds one rollout's actor from the environment and the rollout's random numbers."""

SCRIPTED_SPEED = 0.3
"""The scripted pull's speed along its path, nm per person's second (people's median hand speed)."""
SCRIPTED_DAMPING_S = 1.0
"""How much the scripted hand leans against the grabbed atoms' drift (nm per nm/s), as people do."""
AGENT_LABEL = "policy"


class NoForce:
    """The ``none`` baseline: never pulls; what the system does by itself in the time allowed."""

    finished = False

    def act(self, time_s: float, positions: np.ndarray) -> Interaction | None:
        return None


class ScriptedPull:
    """The ``scripted`` baseline: the target slides along the task's straight path at a person's speed.

    The path is :meth:`~costeer.tasks.Task.scripted_path` (the nanotube: round to the axis before
    the near end, then straight through); the target leans against the grabbed atoms' drift so
    the spring does not leave them swinging, and pulls as hard as the task's synthetic person.
    """

    finished = False

    def __init__(self, env: TaskEnvironment, *, strength: float) -> None:
        self._encoder = StepEncoder(env.task, env.selection, masses=env.masses)
        self._selection = env.selection
        self._strength = float(strength)
        self._waypoints = env.task.scripted_path(env.selection, env.initial_positions)
        self._lengths = np.r_[0.0, np.cumsum(np.linalg.norm(np.diff(self._waypoints, axis=0), axis=1))]
        self._last: tuple[float, np.ndarray] | None = None

    def act(self, time_s: float, positions: np.ndarray) -> Interaction | None:
        self._encoder.observe(positions)
        frame = self._encoder.frame
        centre = grabbed_centres(positions[None], self._selection.grabbed, self._encoder.masses)
        grabbed = frame.to_task(centre)[0]
        last, self._last = self._last, (time_s, grabbed)
        drift = np.zeros(3) if last is None or time_s <= last[0] else (grabbed - last[1]) / (time_s - last[0])
        along = min(SCRIPTED_SPEED * time_s, self._lengths[-1])
        aim = np.array([np.interp(along, self._lengths, self._waypoints[:, axis]) for axis in range(3)])
        target = frame.to_lab((aim - SCRIPTED_DAMPING_S * drift)[None])[0]
        return Interaction(
            target, self._selection.grabbed, "spring", scale=self._strength, max_force=float("inf"),
            properties={"label": "scripted", "owner.id": "costeer-scripted"},
        )


class PolicyActor:
    """A trained policy acting once per frame: its :class:`~costeer.agent.copilot.PolicyProposer`'s pull.

    ``runner`` is a loaded checkpoint (:func:`costeer.agent.checkpoint.load_policy`); the
    observation and action meanings are the dataset's (:class:`~costeer.tasks.encoding.StepEncoder`),
    the same the live co-pilot uses.
    """

    finished = False

    def __init__(self, runner: Any, env: TaskEnvironment, *, seed: int = 0, max_force: float = float("inf"),
                 label: str = AGENT_LABEL) -> None:
        if list(runner.observation_names) and len(runner.observation_names) != _observation_size(env):
            raise ValueError(
                f"the policy observes {len(runner.observation_names)} numbers, the {env.task.name} task's "
                f"environment gives {_observation_size(env)}: evaluate it on the task it was trained for"
            )
        self._proposer = PolicyProposer(runner, env.task, env.selection, masses=env.masses, max_force=max_force,
                                        properties={"label": label, "owner.id": f"costeer-{label}"})
        self._proposer.reset(seed)

    def act(self, time_s: float, positions: np.ndarray) -> Interaction | None:
        return self._proposer.propose(positions).interaction


def _observation_size(env: TaskEnvironment) -> int:
    return StepEncoder(env.task, env.selection, masses=env.masses).observe(env.initial_positions).size


def _demonstrator(env: TaskEnvironment, rng: np.random.Generator) -> Actor:
    return hand_actor(env.task.demonstrator(env.selection, env.chemistry, env.initial_positions, rng), env.selection)


def _scripted(env: TaskEnvironment, rng: np.random.Generator) -> Actor:
    hand = env.task.demonstrator(env.selection, env.chemistry, env.initial_positions, rng)
    return ScriptedPull(env, strength=hand.strength)


BASELINES: dict[str, ActorFactory] = {
    "none": lambda env, rng: NoForce(),
    "scripted": _scripted,
    "demonstrator": _demonstrator,
}
"""Baselines by name, for ``costeer evaluate --baseline NAME``."""
