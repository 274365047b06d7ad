"""DAgger, human-gated (HG-DAgger): the policy drives, the synthetic person takes over where it disagrees.

Each round: ``episodes`` rollouts in which a :class:`GatedActor` lets the policy act until the
task's synthetic person (its ``demonstrator`` hand, watching every frame) would pull somewhere
else (targets more than ``gate_nm`` apart, or one pulls and the other not); then the person
steers for at least ``hold_s`` and until they agree again. The rollouts are written as
recordings (``origin=dagger``); only the person's steps, the corrections, become training
steps (the policy's own steps are masked out with ``action.valid``); they are appended to the
dataset, the policy is retrained from scratch on it with its own settings, and evaluated.

    rounds = run_dagger("weak.pt", task="nanotube", dataset="ds/", output="dagger/", rounds=3)
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from costeer.agent.evaluation import PolicyActor, evaluate
from costeer.core.interaction import Interaction
from costeer.datasets.build import build_dataset
from costeer.datasets.reading import read_info
from costeer.rollout import Actor, TaskEnvironment, hand_actor, run_rollout

__all__ = ["CORRECTION_LABEL", "DaggerRound", "GatedActor", "run_dagger"]

CORRECTION_LABEL = "correction"
"""The ``label`` of the person's interactions while they correct the policy."""
POLICY_LABEL = "policy"


class GatedActor:
    """The policy acts unless the expert disagrees; then the expert acts for a while (HG-DAgger's gate).

    ``corrected`` counts the frames the expert steered.
    """

    def __init__(self, policy: Actor, expert: Actor, *, gate_nm: float = 0.3, hold_s: float = 1.0) -> None:
        if gate_nm <= 0 or hold_s < 0:
            raise ValueError(f"gate_nm must be > 0 and hold_s >= 0, got {gate_nm} and {hold_s}")
        self._policy, self._expert = policy, expert
        self.gate_nm, self.hold_s = gate_nm, hold_s
        self._expert_until: float | None = None
        self.corrected = 0
        self.steps = 0

    @property
    def finished(self) -> bool:
        """The expert has let go for good (threaded, or given up): the episode is over."""
        return bool(self._expert.finished)

    def act(self, time_s: float, positions: np.ndarray) -> Interaction | None:
        mine = self._policy.act(time_s, positions)
        theirs = self._expert.act(time_s, positions)
        disagree = self._disagree(mine, theirs)
        if self._expert_until is not None and time_s >= self._expert_until and not disagree:
            self._expert_until = None
        elif self._expert_until is None and disagree:
            self._expert_until = time_s + self.hold_s
        self.steps += 1
        if self._expert_until is None:
            return _labelled(mine, POLICY_LABEL)
        self.corrected += 1
        return _labelled(theirs, CORRECTION_LABEL)

    def _disagree(self, mine: Interaction | None, theirs: Interaction | None) -> bool:
        if mine is None or theirs is None:
            return (mine is None) != (theirs is None)
        return float(np.linalg.norm(mine.position - theirs.position)) > self.gate_nm


@dataclass(frozen=True)
class DaggerRound:
    """One round's figures: the policy evaluated after it (round 0: the starting policy)."""

    round: int
    checkpoint: str
    success_rate: float
    success_interval: tuple[float, float]
    rollouts: int
    corrected_steps: int
    """Expert steps added to the dataset in this round (0 in round 0)."""
    dataset_steps: int
    """Valid training steps in the dataset the policy was trained on."""


def run_dagger(
    policy: str | Path,
    *,
    task: str,
    dataset: str | Path,
    output: str | Path,
    rounds: int = 3,
    episodes: int = 20,
    rollouts: int = 20,
    epochs: int = 50,
    seed: int = 0,
    max_s: float = 40.0,
    workers: int = 1,
    gate_nm: float = 0.3,
    hold_s: float = 1.0,
    progress: bool | None = None,
) -> list[DaggerRound]:
    """Run ``rounds`` of HG-DAgger from ``policy`` trained on ``dataset`` (left untouched: a copy grows in ``output``).

    Writes ``output/round-N/`` (the round's recordings and ``policy.pt``), ``output/dataset/``,
    ``output/dagger.json`` and ``output/dagger.png``; returns one :class:`DaggerRound` per
    round, round 0 being the starting policy. Evaluation rollouts use seeds ``seed + i``;
    correction episodes use seeds no evaluation meets.
    """
    from costeer.agent.checkpoint import load_policy, read_checkpoint
    from costeer.agent.training import TrainOptions, train_policy

    if rounds < 1 or episodes < 1:
        raise ValueError(f"--rounds and --episodes must be at least 1, got {rounds} and {episodes}")
    output, policy = Path(output), Path(policy)
    grown = output / "dataset"
    if output.is_dir() and any(output.iterdir()):
        raise FileExistsError(
            f"{output} is not empty: give an empty or new --output folder (DAgger writes round-N/, its own copy of "
            "the dataset, dagger.json and dagger.png there)"
        )
    output.mkdir(parents=True, exist_ok=True)
    shutil.copytree(dataset, grown)
    saved = read_checkpoint(policy, expect_task=task)
    history = [_round(0, policy, 0, grown, task=task, rollouts=rollouts, seed=seed, max_s=max_s, workers=workers)]
    env = TaskEnvironment(task)
    current = policy
    for number in range(1, rounds + 1):
        folder = output / f"round-{number}"
        runner = load_policy(current, expect_task=env.task.name)
        recordings, corrected = [], 0
        for episode in range(episodes):
            episode_seed = seed + 1_000_000 * number + episode
            rng = np.random.default_rng(episode_seed)
            hand = env.task.demonstrator(env.selection, env.chemistry, env.initial_positions, rng)
            gated = GatedActor(PolicyActor(runner, env, seed=episode_seed), hand_actor(hand, env.selection),
                               gate_nm=gate_nm, hold_s=hold_s)
            rollout = run_rollout(env, gated, seed=episode_seed, max_s=max_s)
            corrected += gated.corrected
            path = folder / f"episode-{episode:04d}.nanover.zip"
            recordings.append(rollout.write_recording(path, labels={"origin": "dagger", "dagger_round": number}))
        if corrected:
            build_dataset(recordings, task=task, output=grown, append=True, progress=progress,
                          actions_labelled=CORRECTION_LABEL,
                          infer_spring=read_info(grown).get("costeer", {}).get("infer_spring"))  # the dataset's own
        current = folder / "policy.pt"
        train_policy(grown, saved["policy"], current, config=saved["config"],
                     options=TrainOptions(epochs=epochs, seed=seed, progress=progress),
                     command=["costeer", "dagger", "round", str(number)])
        history.append(_round(number, current, corrected, grown, task=task, rollouts=rollouts, seed=seed,
                              max_s=max_s, workers=workers))
    env.close()
    (output / "dagger.json").write_text(json.dumps([asdict(item) for item in history], indent=1))
    plot_rounds(history, output / "dagger.png")
    return history


def plot_rounds(history: list[DaggerRound], path: Path) -> Path:
    """Success per round with its 95 % interval (PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rounds = [item.round for item in history]
    rates = np.array([item.success_rate for item in history]) * 100
    intervals = np.array([item.success_interval for item in history]).T * 100
    figure, axes = plt.subplots(figsize=(5, 3.4))
    axes.errorbar(rounds, rates, yerr=np.abs(intervals - rates), marker="o", capsize=5)
    axes.set_xticks(rounds)
    axes.set_ylim(-5, 105)
    axes.set_xlabel("DAgger round (0: the starting policy)")
    axes.set_ylabel("success, % (95 % Wilson interval)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def _round(number: int, checkpoint: Path, corrected: int, dataset: Path, *, task: str, rollouts: int, seed: int,
           max_s: float, workers: int) -> DaggerRound:
    from costeer.datasets.reading import read_steps

    summary = evaluate(str(checkpoint), task=task, rollouts=rollouts, seed=seed, max_s=max_s, workers=workers,
                       progress=False).summary()
    valid = read_steps(dataset, columns=["action.valid"]).column("action.valid").to_numpy(zero_copy_only=False)
    return DaggerRound(round=number, checkpoint=str(checkpoint), success_rate=summary["success_rate"],
                       success_interval=tuple(summary["success_interval"]), rollouts=rollouts,
                       corrected_steps=corrected, dataset_steps=int(np.count_nonzero(valid)))


def _labelled(interaction: Interaction | None, label: str) -> Interaction | None:
    if interaction is None:
        return None
    return replace(interaction, properties={**interaction.properties, "label": label})
