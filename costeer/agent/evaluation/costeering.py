"""Co-steering, measured headless: the task's synthetic person alone, then with the co-pilot beside them, seed by seed.

Seed ``s`` runs twice in a :class:`~costeer.rollout.TaskEnvironment` with thermostat seed ``s``
and the same synthetic person (the ``demonstrator`` baseline's, drawn from ``s``): once alone,
as ``costeer evaluate --baselines demonstrator`` runs it, and once with a
:class:`~costeer.agent.copilot.Copilot` acting on every frame. Each frame the person chooses
its pull, the co-pilot sees it (as the server's gate does: a person's pull always counts at
once) and answers with its state change, and both pulls that the state then holds act on the
next frames. Alone, an episode ends when the person lets go (threaded or gave up); with the
co-pilot, the co-pilot may carry on after the person gave up, until ``max_s``. Both stop at
the task's success. The person's work is the work of the person's own force only
(:func:`~costeer.rollout.interaction_work`).

    result = evaluate_costeering("nanotube.pt", task="nanotube", episodes=50, seed=0, mode="assist", blend=0.5)
    result.summary()["ratios"]["time_to_success"]["median"]     # with / alone, paired by seed
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from costeer.agent.copilot import COPILOT_INTERACTION_KEY, Copilot, CopilotSettings
from costeer.agent.evaluation.actors import BASELINES, ActorFactory
from costeer.agent.evaluation.closed_loop import trained_pace
from costeer.agent.evaluation.intervals import median_interval, wilson_interval
from costeer.agent.evaluation.seeds import finite_median, map_seeds
from costeer.core import keys
from costeer.core.interaction import Interaction
from costeer.rollout import RolloutStep, TaskEnvironment, interaction_key, interaction_work
from costeer.rollout.rollout import SUCCESS_CHECK_S
from costeer.tasks import resolve_task

__all__ = ["COSTEERING_MODES", "Costeering", "CosteeringEpisode", "TIME_RATIO_TARGET", "costeer_one_seed",
           "evaluate_costeering", "run_costeering_episode"]

COSTEERING_MODES = ("assist",)
"""Modes measured headless. (``apply`` beside a person is what the server's gate makes of it, the
same pulls as ``assist``; ``off`` and ``suggest`` exert no force.)"""
TIME_RATIO_TARGET = 0.5
"""The issue's target: with the co-pilot the person threads in at most half the time."""
SETTLE_S = 0.5
"""Person's seconds with no pull at the end, as a closed-loop rollout has."""
PERSON = "demonstrator"
"""The baseline whose synthetic person co-steers."""


@dataclass(frozen=True)
class CosteeringEpisode:
    """One seed, alone or with the co-pilot: the outcome, its time, and each one's work and time pulling."""

    seed: int
    with_copilot: bool
    success: bool
    time_to_success_s: float | None
    """Person's seconds from the start to the task's success; ``None`` without success."""
    duration_s: float
    person_work: float
    """Work of the person's force alone, kJ/mol."""
    copilot_work: float
    """Work of the co-pilot's force alone, kJ/mol (0 alone)."""
    person_pulled_s: float
    copilot_pulled_s: float
    """Person's seconds the co-pilot's pull was live."""
    person_outcome: str | None
    """What the synthetic person believed when it let go (``threaded``, ``gave_up``), or ``None``."""


def run_costeering_episode(env: TaskEnvironment, seed: int, *, copilot: Copilot | None, max_s: float = 40.0,
                           make_person: ActorFactory = BASELINES[PERSON]) -> CosteeringEpisode:
    """Seed ``seed``'s person in ``env``, alone (``copilot=None``) or beside ``copilot``.

    ``make_person``: who pulls as the person (default the task's synthetic person), built from the seed.
    """
    person = make_person(env, np.random.default_rng(seed))
    step = env.reset(seed)
    steps = [step]
    state: dict[str, Any] = {}  # the co-pilot's entries in the shared state, as its changes leave them
    pulled = {"person": 0.0, "copilot": 0.0}
    person_keys: set[str] = set()
    check_every = max(1, int(round(SUCCESS_CHECK_S / env.frame_interval_s)))
    while step.time_s < max_s and not (person.finished and copilot is None):
        live: dict[str, Interaction] = {}
        if not person.finished:
            pull = person.act(step.time_s, step.positions)
            if pull is not None:
                live[interaction_key(pull)] = pull
                person_keys.add(interaction_key(pull))
        if copilot is not None:
            change = copilot.on_frame(step.positions, live, frame_index=int(step.frame[keys.FRAME_INDEX]))
            state.update(change.updates)
            for key in change.removals:
                state.pop(key, None)
            if COPILOT_INTERACTION_KEY in state:
                live[COPILOT_INTERACTION_KEY] = Interaction.from_state(state[COPILOT_INTERACTION_KEY])
        before = step.time_s
        step = env.step(live.values())
        steps.append(step)
        pulled["person"] += (step.time_s - before) * any(key != COPILOT_INTERACTION_KEY for key in live)
        pulled["copilot"] += (step.time_s - before) * (COPILOT_INTERACTION_KEY in live)
        if len(steps) % check_every == 0 and env.task.evaluate(_positions(steps), env.selection).success:
            break
    for _ in range(int(round(SETTLE_S / env.frame_interval_s))):
        steps.append(env.step(None))
    positions = _positions(steps)
    outcome = env.task.evaluate(positions, env.selection)
    index = outcome.success_index if outcome.success else None
    return CosteeringEpisode(
        seed=seed,
        with_copilot=copilot is not None,
        success=bool(outcome.success),
        time_to_success_s=None if index is None else float(steps[index].time_s),
        duration_s=float(steps[-1].time_s),
        person_work=sum(interaction_work(steps, key) for key in person_keys),
        copilot_work=interaction_work(steps, COPILOT_INTERACTION_KEY),
        person_pulled_s=pulled["person"],
        copilot_pulled_s=pulled["copilot"],
        person_outcome=getattr(getattr(person, "hand", None), "outcome", None),
    )


@dataclass
class Costeering:
    """Every seed's person alone and with the co-pilot, with the settings used; :meth:`summary` compares them."""

    policy: str
    task: str
    mode: str
    blend: float | None
    alone: list[CosteeringEpisode]
    together: list[CosteeringEpisode]
    settings: dict[str, Any]

    def summary(self) -> dict[str, Any]:
        """Each arm's success (Wilson), time to success and person's work (bootstrap medians), and paired ratios.

        Ratios are with / alone per seed, summarised by their median with a bootstrap 95 %
        interval: time to success over the seeds threaded both ways, the person's work over
        the seeds where the person did positive work alone.
        """
        alone = {episode.seed: episode for episode in self.alone}
        together = {episode.seed: episode for episode in self.together}
        seeds = sorted(alone.keys() & together.keys())
        times = [together[s].time_to_success_s / alone[s].time_to_success_s for s in seeds
                 if alone[s].success and together[s].success and alone[s].time_to_success_s]
        works = [together[s].person_work / alone[s].person_work for s in seeds if alone[s].person_work > 0]
        time_ratio = _paired(times, seed=1)
        return {
            "policy": self.policy,
            "task": self.task,
            "mode": self.mode,
            "blend": self.blend,
            "alone": _arm(self.alone),
            "with_copilot": _arm(self.together),
            "ratios": {"time_to_success": time_ratio, "person_work": _paired(works, seed=2)},
            "time_ratio_target": TIME_RATIO_TARGET,
            "target_met": time_ratio["median"] is not None and time_ratio["median"] <= TIME_RATIO_TARGET,
        }

    def to_json(self) -> dict[str, Any]:
        """The summary, the settings and one entry per episode."""
        return {**self.summary(), "settings": self.settings,
                "per_episode": [asdict(episode) for episode in self.alone + self.together]}


def evaluate_costeering(
    policy: str | Path,
    *,
    task: str = "nanotube",
    episodes: int = 50,
    seed: int = 0,
    mode: str = "assist",
    blend: float | None = None,
    workers: int = 1,
    max_s: float = 40.0,
    max_force: float = CopilotSettings.max_force,
    steps_per_frame: int | None = None,
    progress: bool | None = None,
) -> Costeering:
    """Seeds ``seed .. seed + episodes - 1``: the synthetic person alone, then beside the co-pilot of ``policy``.

    ``steps_per_frame``: MD steps between looks; ``None``: the pace the policy learned at.
    """
    if mode not in COSTEERING_MODES:
        raise ValueError(f"--mode {mode}: co-steering is measured in {', '.join(COSTEERING_MODES)} "
                         "(the modes in which the co-pilot pulls beside a person)")
    if episodes < 1 or workers < 1:
        raise ValueError(f"--episodes and --workers must be at least 1, got {episodes} and {workers}")
    CopilotSettings(mode=mode, blend=blend, max_force=max_force)  # refuse bad values before any work
    policy = str(policy)
    if steps_per_frame is None:
        steps_per_frame = trained_pace(policy, task)
    settings = {"seed": seed, "episodes": episodes, "max_s": max_s, "steps_per_frame": steps_per_frame,
                "max_force": max_force, "person": f"{PERSON} (synthetic)"}
    seeds = [seed + index for index in range(episodes)]
    args = (policy, task, mode, blend, max_force, steps_per_frame, max_s)
    pairs = map_seeds(_both, seeds, workers=workers, start=_start_worker, start_args=args,
                      close=lambda: _worker.pop("env").close(), desc=f"co-steer {Path(policy).name}", unit="seed",
                      progress=progress)
    return Costeering(policy=policy, task=resolve_task(task).name, mode=mode, blend=blend,
                      alone=[alone for alone, _ in pairs], together=[together for _, together in pairs],
                      settings=settings)


def costeer_one_seed(policy: str | Path, seed: int, *, task: str = "nanotube", mode: str = "assist",
                     blend: float | None = None, max_s: float = 40.0, max_force: float = CopilotSettings.max_force,
                     steps_per_frame: int | None = None) -> tuple[CosteeringEpisode, CosteeringEpisode]:
    """One seed in this process (``costeer demo``): the person alone, then beside the co-pilot."""
    policy = str(policy)
    settings = CopilotSettings(mode=mode, blend=blend, max_force=max_force)
    pace = trained_pace(policy, task) if steps_per_frame is None else steps_per_frame
    _start_worker(policy, task, settings.mode, settings.blend, max_force, pace, max_s, own_process=False)
    try:
        return _both(seed)
    finally:
        _worker.pop("env").close()


_worker: dict[str, Any] = {}
"""This process's environment and co-pilot maker."""


def _start_worker(policy: str, task_spec: str, mode: str, blend: float | None, max_force: float,
                  steps_per_frame: int, max_s: float, *, own_process: bool = True) -> None:
    from costeer.agent.checkpoint import load_policy

    if own_process:  # OpenMM steps on this core; torch keeps to one thread
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        import torch

        torch.set_num_threads(1)
    task = resolve_task(task_spec)
    env = TaskEnvironment(task, steps_per_frame=steps_per_frame)
    runner = load_policy(policy, expect_task=task.name)
    settings = CopilotSettings(mode=mode, blend=blend, max_force=max_force)

    def make() -> Copilot:
        return Copilot(runner, task=env.task, selection=env.selection, masses=env.masses, settings=settings,
                       policy_name=Path(policy).name)

    _worker.update(env=env, make=make, max_s=max_s)


def _both(seed: int) -> tuple[CosteeringEpisode, CosteeringEpisode]:
    env, max_s = _worker["env"], _worker["max_s"]
    alone = run_costeering_episode(env, seed, copilot=None, max_s=max_s)
    together = run_costeering_episode(env, seed, copilot=_worker["make"](), max_s=max_s)
    return alone, together


def _arm(episodes: list[CosteeringEpisode]) -> dict[str, Any]:
    successes = [episode for episode in episodes if episode.success]
    rng = np.random.default_rng(0)
    times = [episode.time_to_success_s for episode in successes]
    works = [episode.person_work for episode in episodes]
    low, high = wilson_interval(len(successes), len(episodes))
    return {
        "episodes": len(episodes),
        "successes": len(successes),
        "success_rate": len(successes) / len(episodes) if episodes else float("nan"),
        "success_interval": [low, high],
        "time_to_success_s_median": finite_median(times),
        "time_to_success_s_interval": list(median_interval(times, rng=rng)),
        "person_work_median": finite_median(works),
        "person_work_interval": list(median_interval(works, rng=rng)),
        "copilot_work_median": finite_median([episode.copilot_work for episode in episodes]),
        "copilot_pulled_s_median": finite_median([episode.copilot_pulled_s for episode in episodes]),
        "person_gave_up": sum(episode.person_outcome == "gave_up" for episode in episodes),
    }


def _paired(ratios: list[float], *, seed: int) -> dict[str, Any]:
    low, high = median_interval(ratios, rng=np.random.default_rng(seed))
    return {"median": finite_median(ratios), "interval": [low, high], "pairs": len(ratios)}


def _positions(steps: list[RolloutStep]) -> np.ndarray:
    return np.stack([step.positions for step in steps])

