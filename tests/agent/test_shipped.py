"""The checkpoint that ships for the nanotube task loads, acts, and says how it was made."""

from __future__ import annotations

import numpy as np
import pytest

from costeer.agent.checkpoint import CheckpointError, load_policy, read_checkpoint, shipped_checkpoint
from costeer.rollout import TaskEnvironment
from costeer.tasks.encoding import ACTION_NAMES, StepEncoder


def test_the_nanotube_checkpoint_ships_small_with_its_recipe() -> None:
    path = shipped_checkpoint("nanotube")
    assert path.stat().st_size < 4 * 2**20
    content = read_checkpoint(path, expect_task="nanotube")
    assert content["training"]["command"][:2] == ["costeer", "train"]
    assert len(content["dataset_fingerprint"]) == 64


def test_it_acts_on_the_tasks_own_observation() -> None:
    env = TaskEnvironment("nanotube")
    encoder = StepEncoder(env.task, env.selection, masses=env.masses)
    runner = load_policy(shipped_checkpoint("nanotube"), expect_task="nanotube")
    action = runner.act(encoder.observe(env.initial_positions))
    assert action.shape == (len(ACTION_NAMES),) and np.isfinite(action).all()
    env.close()


def test_a_task_without_one_is_told_how_to_make_it() -> None:
    with pytest.raises(CheckpointError, match="no checkpoint ships for task 'helix'.*costeer train"):
        shipped_checkpoint("helix")
