"""HG-DAgger: the gate hands control to the expert where it disagrees and back when they agree; one round runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from costeer.agent.dagger import CORRECTION_LABEL, GatedActor, run_dagger
from costeer.core.interaction import Interaction
from costeer.datasets.reading import read_episodes, read_steps


class Scripted:
    """Pulls towards the target ``plan(time)`` (``None``: lets go)."""

    finished = False

    def __init__(self, plan) -> None:
        self.plan = plan

    def act(self, time_s: float, positions: np.ndarray) -> Interaction | None:
        target = self.plan(time_s)
        return None if target is None else Interaction(np.asarray(target, float), np.array([0]), "spring", scale=10.0)


def test_the_expert_takes_over_on_disagreement_holds_and_gives_back() -> None:
    policy = Scripted(lambda t: [0.0, 0.0, 0.0])
    expert = Scripted(lambda t: [0.0, 0.0, 1.0] if 1.0 <= t < 1.5 else [0.0, 0.0, 0.1])
    gated = GatedActor(policy, expert, gate_nm=0.3, hold_s=1.0)
    labels = {round(t, 1): gated.act(t, np.zeros((1, 3))).properties["label"] for t in np.arange(0.0, 3.01, 0.1)}
    assert labels[0.9] == "policy"  # 0.1 nm apart: within the gate
    assert all(labels[t] == CORRECTION_LABEL for t in (1.0, 1.5, 1.9))  # took over, held for hold_s
    assert labels[2.0] == labels[3.0] == "policy"  # agreeing again after the hold: handed back
    assert gated.corrected == 10 and gated.steps == 31


def test_pulling_against_letting_go_is_a_disagreement() -> None:
    gated = GatedActor(Scripted(lambda t: [0.0, 0.0, 0.0]), Scripted(lambda t: None), gate_nm=0.3, hold_s=0.0)
    assert gated.act(0.0, np.zeros((1, 3))) is None  # the expert lets go, so the pull stops
    assert gated.corrected == 1


def test_bad_gates_are_refused() -> None:
    with pytest.raises(ValueError, match="gate_nm must be > 0"):
        GatedActor(Scripted(lambda t: None), Scripted(lambda t: None), gate_nm=0.0)


@pytest.mark.slow
def test_one_round_adds_only_corrections_retrains_and_reports(session_dataset: Path, checkpoint: Path, tmp_path: Path) -> None:
    before = read_steps(session_dataset, columns=["action.valid"]).num_rows
    history = run_dagger(checkpoint, task="nanotube", dataset=session_dataset, output=tmp_path / "dagger",
                         rounds=1, episodes=1, rollouts=1, epochs=1, max_s=6.0, progress=False)
    assert [item.round for item in history] == [0, 1]
    assert (tmp_path / "dagger" / "round-1" / "policy.pt").is_file()
    assert (tmp_path / "dagger" / "dagger.png").stat().st_size > 0
    assert json.loads((tmp_path / "dagger" / "dagger.json").read_text())[1]["corrected_steps"] == history[1].corrected_steps
    grown = tmp_path / "dagger" / "dataset"
    episodes = read_episodes(grown).to_pydict()
    assert episodes["origin"][-1] == "dagger" and len(episodes["origin"]) == 2
    steps = read_steps(grown, columns=["episode_index", "action.valid"]).to_pydict()
    added = [valid for episode, valid in zip(steps["episode_index"], steps["action.valid"]) if episode == 1]
    assert 0 < sum(added) <= history[1].corrected_steps + 1  # only the expert's steps are learned from
    assert read_steps(session_dataset, columns=["action.valid"]).num_rows == before  # the input dataset untouched
