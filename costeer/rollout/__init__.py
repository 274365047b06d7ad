"""Rollouts: a task's system stepped in-process with the server's engine, an actor steering it, the result recorded.

One environment for every task, shared by the offline demonstrator, closed-loop evaluation
and DAgger::

    env = TaskEnvironment(get_task("nanotube"))
    hand = env.task.demonstrator(env.selection, env.chemistry, env.initial_positions, np.random.default_rng(3))
    rollout = run_rollout(env, hand_actor(hand, env.selection), seed=3, max_s=40.0)
    rollout.write_recording("episode.nanover.zip", labels={"origin": "synthetic"})
"""

from __future__ import annotations

from costeer.rollout.actor import SYNTHETIC_OWNER, Actor, HandActor, hand_actor
from costeer.rollout.environment import (
    DEFAULT_INTERACTION_KEY,
    RolloutStep,
    TaskEnvironment,
    interaction_key,
    interaction_work,
)
from costeer.rollout.recording import session_entry, write_rollout_recording
from costeer.rollout.rollout import Rollout, run_rollout

__all__ = [
    "Actor",
    "DEFAULT_INTERACTION_KEY",
    "HandActor",
    "Rollout",
    "RolloutStep",
    "SYNTHETIC_OWNER",
    "TaskEnvironment",
    "hand_actor",
    "interaction_key",
    "interaction_work",
    "run_rollout",
    "session_entry",
    "write_rollout_recording",
]
