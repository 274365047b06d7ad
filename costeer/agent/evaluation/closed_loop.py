"""Closed-loop evaluation: seeded rollouts of a policy or a baseline, in-process, with success and its interval.

Rollout ``i`` uses seed ``seed + i`` whatever the number of workers, so a policy and the
baselines meet the same thermostat noise and the same synthetic people. Workers are separate
processes (spawned: OpenMM and torch keep threads), each building the environment and loading
the policy once.

    result = evaluate("policy.pt", task="nanotube", rollouts=50, seed=0, workers=2)
    result.summary()["success_rate"], result.summary()["success_interval"]
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from costeer.agent.evaluation.actors import BASELINES, PolicyActor
from costeer.agent.evaluation.intervals import median_interval, wilson_interval
from costeer.agent.evaluation.seeds import finite_median, map_seeds
from costeer.rollout import Rollout, TaskEnvironment, run_rollout
from costeer.tasks import resolve_task
from costeer.tasks.encoding import grabbed_centres

__all__ = ["Evaluation", "RolloutResult", "evaluate", "is_baseline", "trained_pace"]

PATH_POINTS = 200
"""At most this many points of each rollout's path are kept for the plot."""


@dataclass(frozen=True)
class RolloutResult:
    """One rollout's outcome: success, when, how much work and force it took, and its path."""

    seed: int
    success: bool
    time_to_success_s: float | None
    """Person's seconds from the start to the task's success; ``None`` without success."""
    duration_s: float
    work: float
    """Work done by the interactive force, kJ/mol."""
    peak_force: float
    """Largest interactive force on the grabbed atoms, kJ/(mol nm)."""
    path: list[list[float]] = field(repr=False)
    """The grabbed atoms' centre in the task frame, ``[[x, y, z], ...]`` nm (subsampled)."""


@dataclass
class Evaluation:
    """Every rollout of one actor (a checkpoint or a baseline) on one task, with the settings used."""

    actor: str
    task: str
    rollouts: list[RolloutResult]
    settings: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        """Success rate with its 95 % Wilson interval; medians of time to success, work and peak force."""
        successes = [result for result in self.rollouts if result.success]
        low, high = wilson_interval(len(successes), len(self.rollouts))
        times = [result.time_to_success_s for result in successes]
        rng = np.random.default_rng(0)
        return {
            "actor": self.actor,
            "task": self.task,
            "rollouts": len(self.rollouts),
            "successes": len(successes),
            "success_rate": len(successes) / len(self.rollouts) if self.rollouts else float("nan"),
            "success_interval": [low, high],
            "time_to_success_s_median": finite_median(times),
            "time_to_success_s_interval": list(median_interval(times, rng=rng)),
            "work_median": finite_median([result.work for result in self.rollouts]),
            "work_median_successful": finite_median([result.work for result in successes]),
            "peak_force_median": finite_median([result.peak_force for result in self.rollouts]),
        }

    def to_json(self) -> dict[str, Any]:
        """The summary, the settings and one entry per rollout (paths left out)."""
        entries = [{key: value for key, value in asdict(result).items() if key != "path"} for result in self.rollouts]
        return {**self.summary(), "settings": self.settings, "per_rollout": entries}


def is_baseline(actor: str) -> bool:
    return actor in BASELINES


def evaluate(
    actor: str,
    *,
    task: str,
    rollouts: int,
    seed: int = 0,
    workers: int = 1,
    max_s: float = 40.0,
    steps_per_frame: int | None = None,
    max_force: float = float("inf"),
    progress: bool | None = None,
) -> Evaluation:
    """Run ``rollouts`` seeded rollouts of ``actor`` (a checkpoint path or a baseline name) on ``task``.

    ``steps_per_frame``: MD steps between the actor's looks; ``None``: the pace of the policy's
    training data (the simulated time between its frames), else 5 (a person's pace at 30 frames/s).
    """
    if rollouts < 1:
        raise ValueError(f"--rollouts must be at least 1, got {rollouts}")
    if workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    if steps_per_frame is None:
        steps_per_frame = trained_pace(actor, task)
    settings = {"seed": seed, "max_s": max_s, "steps_per_frame": steps_per_frame, "max_force": max_force}
    seeds = [seed + index for index in range(rollouts)]
    name = actor if is_baseline(actor) else Path(actor).name
    results = map_seeds(_one_rollout, seeds, workers=workers, start=_start_worker, start_args=(actor, task, settings),
                        close=lambda: _worker.pop("env").close(), desc=f"evaluate {name}", unit="rollout", progress=progress)
    return Evaluation(actor=actor, task=task, rollouts=results, settings=settings)


DEFAULT_STEPS_PER_FRAME = 5


def trained_pace(actor: str, task: str) -> int:
    """Steps per frame that match the simulated time between the frames the policy learned from."""
    if is_baseline(actor):
        return DEFAULT_STEPS_PER_FRAME
    from costeer.agent.checkpoint import read_checkpoint
    from openmm import unit

    interval = read_checkpoint(actor, expect_task=resolve_task(task).name).get("training", {}).get("simulation_interval_ps")
    if not interval:
        return DEFAULT_STEPS_PER_FRAME
    step_ps = resolve_task(task).build_system().integrator.getStepSize().value_in_unit(unit.picosecond)
    return max(1, int(round(interval / step_ps)))


_worker: dict[str, Any] = {}
"""This process's environment and actor maker (one per worker process)."""


def _start_worker(actor: str, task_spec: str, settings: dict[str, Any], *, own_process: bool = True) -> None:
    """Build this process's environment and actor maker; a worker process of its own keeps torch to one thread."""
    if own_process:
        os.environ.setdefault("OMP_NUM_THREADS", "1")
    task = resolve_task(task_spec)
    env = TaskEnvironment(task, steps_per_frame=settings["steps_per_frame"])
    if is_baseline(actor):
        make = BASELINES[actor]
    else:
        from costeer.agent.checkpoint import load_policy

        if own_process:
            import torch

            torch.set_num_threads(1)
        runner = load_policy(actor, expect_task=task.name)

        def make(env: TaskEnvironment, rng: np.random.Generator) -> PolicyActor:
            return PolicyActor(runner, env, seed=int(rng.integers(2**31)), max_force=settings["max_force"])

    _worker.update(env=env, make=make, max_s=settings["max_s"])


def _one_rollout(seed: int) -> RolloutResult:
    env, make = _worker["env"], _worker["make"]
    actor = make(env, np.random.default_rng(seed))
    rollout = run_rollout(env, actor, seed=seed, max_s=_worker["max_s"], stop_on_success=True)
    return _result(seed, rollout, env)


def _result(seed: int, rollout: Rollout, env: TaskEnvironment) -> RolloutResult:
    positions = rollout.positions
    frames = env.task.frames(positions, env.selection)
    centre = grabbed_centres(positions, env.selection.grabbed, env.masses)
    path = frames.to_task(centre[:, None, :])[:, 0, :]
    keep = np.unique(np.linspace(0, len(path) - 1, min(PATH_POINTS, len(path))).astype(int))
    return RolloutResult(
        seed=seed,
        success=bool(rollout.outcome.success),
        time_to_success_s=rollout.time_to_success_s,
        duration_s=float(rollout.times_s[-1]),
        work=float(rollout.work),
        peak_force=float(rollout.peak_force),
        path=np.round(path[keep], 4).tolist(),
    )

