"""Comparing a policy with a person: a policy that does what the person did agrees perfectly (the lag is right)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from costeer.agent.checkpoint import load_policy
from costeer.agent.evaluation import compare_with_recording
from costeer.datasets.demonstrations import read_demonstrations
from costeer.datasets.episodes import build_episode
from costeer.tasks import get_task
from costeer.tasks.encoding import ACTION_LAG


class Replay:
    """A stand-in policy that answers each recorded observation with what the person chose on seeing it."""

    def __init__(self, session: Path, *, lead_frames: int = ACTION_LAG) -> None:
        episodes = [build_episode(demo, get_task("nanotube")) for demo in read_demonstrations(session)]
        self.lead_frames = lead_frames
        self.answers = {
            observation.tobytes(): action
            for episode in episodes
            for observation, action in zip(episode.steps["observation.state"][:-lead_frames], episode.steps["action"][lead_frames:])
        }

    def reset(self, seed: int | None = None) -> None:
        pass

    def act(self, observation: np.ndarray) -> np.ndarray:
        return self.answers[np.asarray(observation, dtype=np.float32).tobytes()]


def test_the_persons_own_actions_agree_perfectly(session: Path) -> None:
    comparison = compare_with_recording(Replay(session), session, task="nanotube")
    assert comparison.pulling_steps > 100
    assert comparison.direction_cosine == pytest.approx(1.0)
    assert comparison.on_accuracy == 1.0 and comparison.target_error_nm == 0.0


def test_a_policy_that_leads_the_person_is_compared_with_the_action_it_learned(session: Path) -> None:
    comparison = compare_with_recording(Replay(session, lead_frames=15), session, task="nanotube")
    assert comparison.direction_cosine == pytest.approx(1.0)
    assert comparison.on_accuracy == 1.0 and comparison.target_error_nm == 0.0


def test_a_trained_policy_is_compared_step_by_step(session: Path, checkpoint: Path) -> None:
    comparison = compare_with_recording(load_policy(checkpoint, expect_task="nanotube"), session, task="nanotube")
    assert comparison.steps > comparison.pulling_steps > 100
    assert -1.0 <= comparison.direction_cosine <= 1.0 and 0.0 <= comparison.on_accuracy <= 1.0
    assert comparison.target_error_nm >= 0.0
