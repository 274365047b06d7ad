"""Synthetic demonstrations without a server: episodes in worker processes, each written as a recording.

Each episode: a :class:`~costeer.rollout.TaskEnvironment` reset with seed ``seed + index``,
the task's synthetic person (``task.demonstrator``, its randomness from the same seed) steering
it through :func:`~costeer.rollout.run_rollout`, and the rollout written to
``DIR/episode-<index>.nanover.zip`` labelled ``origin: synthetic``. An episode's seed depends
only on its index, so the same episodes come out whatever the number of workers.

    reports = demonstrate_offline("synthetic/", episodes=20, seed=0, workers=2)
    sum(report.success for report in reports) / len(reports)
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from costeer.rollout import TaskEnvironment, hand_actor, run_rollout
from costeer.tasks import resolve_task

from .person import require_synthetic_person, synthetic_person

__all__ = ["OfflineEpisode", "demonstrate_offline", "episode_path", "offline_episode"]


@dataclass(frozen=True)
class OfflineEpisode:
    """What one offline episode came to (the recording holds the rest)."""

    index: int
    seed: int
    path: str
    success: bool
    """The task's success detector on the episode's frames."""
    frames: int
    person_s: float
    """Length in a person's seconds."""
    wall_s: float
    time_to_success_s: float | None
    work: float
    """kJ/mol."""
    peak_force: float
    """kJ/(mol nm)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def episode_path(output: str | Path, index: int) -> Path:
    """Where episode ``index`` is written."""
    return Path(output) / f"episode-{index:05d}.nanover.zip"


def offline_episode(env: TaskEnvironment, index: int, *, seed: int, output: str | Path, max_s: float) -> OfflineEpisode:
    """Run and write episode ``index`` (seed ``seed + index``) in ``env``."""
    started = time.monotonic()
    episode_seed = seed + index
    task = env.task
    hand = synthetic_person(task, env.selection, env.chemistry, env.initial_positions, np.random.default_rng(episode_seed))
    rollout = run_rollout(env, hand_actor(hand, env.selection), seed=episode_seed, max_s=max_s)
    labels = {
        "origin": "synthetic",
        "generator": "costeer demonstrate --offline",
        "seed": episode_seed,
        "episode": index,
        "task": task.name,
    }
    path = rollout.write_recording(episode_path(output, index), labels=labels)
    return OfflineEpisode(
        index=index,
        seed=episode_seed,
        path=str(path),
        success=bool(rollout.outcome.success),
        frames=len(rollout),
        person_s=float(rollout.times_s[-1]),
        wall_s=time.monotonic() - started,
        time_to_success_s=rollout.time_to_success_s,
        work=rollout.work,
        peak_force=rollout.peak_force,
    )


def demonstrate_offline(
    output: str | Path,
    *,
    episodes: int,
    seed: int = 0,
    workers: int = 1,
    task_name: str = "nanotube",
    steps_per_frame: int = 5,
    platform: str = "Reference",
    max_s: float = 60.0,
    on_episode: Callable[[OfflineEpisode], None] | None = None,
) -> list[OfflineEpisode]:
    """Write ``episodes`` synthetic episodes to ``output`` with ``workers`` processes; reports in index order.

    ``on_episode`` is called in this process as each episode finishes (in finishing order).
    """
    if episodes < 1 or workers < 1:
        raise ValueError(f"--episodes and --workers must be at least 1, got {episodes} and {workers}")
    clashes = [path for index in range(episodes) if (path := episode_path(output, index)).exists()]
    if clashes:
        raise FileExistsError(
            f"{clashes[0]} exists already ({len(clashes)} of the episodes would be overwritten): "
            "write to a new folder (-o), or move the old episodes away"
        )
    require_synthetic_person(resolve_task(task_name))
    Path(output).mkdir(parents=True, exist_ok=True)
    settings = (task_name, steps_per_frame, platform, seed, str(output), max_s)
    reports: list[OfflineEpisode] = []
    if workers == 1:
        env = TaskEnvironment(resolve_task(task_name), steps_per_frame=steps_per_frame, platform=platform)
        for index in range(episodes):
            reports.append(offline_episode(env, index, seed=seed, output=output, max_s=max_s))
            if on_episode is not None:
                on_episode(reports[-1])
        env.close()
    else:
        # spawn: each worker imports costeer and builds its own OpenMM context (nothing forked mid-use)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(min(workers, episodes), mp_context=context, initializer=_start_worker,
                                 initargs=settings) as pool:
            for future in as_completed([pool.submit(_run_episode, index) for index in range(episodes)]):
                reports.append(future.result())
                if on_episode is not None:
                    on_episode(reports[-1])
    return sorted(reports, key=lambda report: report.index)


_worker: dict[str, Any] = {}
"""This process's environment and settings (one per worker process)."""


def _start_worker(task_name: str, steps_per_frame: int, platform: str, seed: int, output: str, max_s: float) -> None:
    env = TaskEnvironment(resolve_task(task_name), steps_per_frame=steps_per_frame, platform=platform)
    _worker.update(env=env, seed=seed, output=output, max_s=max_s)


def _run_episode(index: int) -> OfflineEpisode:
    return offline_episode(_worker["env"], index, seed=_worker["seed"], output=_worker["output"], max_s=_worker["max_s"])
