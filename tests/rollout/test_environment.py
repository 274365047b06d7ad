"""TaskEnvironment: seeded resets (same seed, same trajectory; new seed, new noise) and the engine's user force."""

from __future__ import annotations

import numpy as np
import pytest

from costeer.core import keys
from costeer.core.interaction import Interaction
from costeer.engine.imd import compute_imd_forces
from costeer.rollout import DEFAULT_INTERACTION_KEY, TaskEnvironment, interaction_key


def _trajectory(env: TaskEnvironment, seed: int, frames: int = 5) -> np.ndarray:
    env.reset(seed)
    return np.stack([env.step(None).positions for _ in range(frames)])


def test_the_same_seed_replays_and_another_seed_draws_new_noise(env: TaskEnvironment) -> None:
    first = _trajectory(env, 7)
    assert np.array_equal(first, _trajectory(env, 7))
    other = _trajectory(env, 8)
    assert not np.array_equal(first, other)
    assert np.abs(first - other).max() < 0.2  # new noise, same system and start
    assert np.array_equal(_trajectory(env, 7), first)  # and back again


def test_a_reset_returns_to_the_start_with_a_full_frame(env: TaskEnvironment) -> None:
    env.reset(1)
    env.step(None)
    step = env.reset(2)
    assert step.time_s == 0.0 and step.frame[keys.FRAME_INDEX] == 0
    assert keys.BOND_PAIRS in step.frame and keys.PARTICLE_ELEMENTS in step.frame
    assert np.array_equal(step.positions, env.initial_positions)
    later = env.step(None)
    assert later.frame[keys.FRAME_INDEX] == 1 and keys.BOND_PAIRS not in later.frame
    assert later.time_s == pytest.approx(env.frame_interval_s)
    assert env.frame_interval_s == pytest.approx(30 * 0.0005 / 0.075)  # 30 steps of 0.5 fs at a person's pace


def test_one_step_applies_the_interaction_force_as_the_engine_does(env: TaskEnvironment) -> None:
    step = env.reset(3)
    grabbed = env.selection.grabbed
    pull = Interaction(step.positions[grabbed[0]] + [0.5, 0.0, 0.0], grabbed, "spring", scale=1201.1)
    after = env.step(pull)
    expected = compute_imd_forces(after.positions, env.masses, [pull], max_force=env.max_force)
    assert np.array_equal(after.user_force_index, expected.indices.astype(np.int64))
    np.testing.assert_allclose(after.user_force, expected.forces, rtol=1e-4, atol=1e-2)
    assert after.user_force[0, 0] > 1000  # towards +x: about 2 x 1201 x 0.5
    again = env.step(pull)  # the force of the first step has now been felt: methane moved along +x
    assert again.positions[grabbed[0], 0] > after.positions[grabbed[0], 0]
    assert again.frame[keys.USER_WORK_DONE] > 0
    released = env.step(None)
    assert len(released.user_force_index) == 0


def test_interaction_keys_follow_the_owner() -> None:
    bare = Interaction(np.zeros(3), np.array([0]), "spring")
    owned = Interaction(np.zeros(3), np.array([0]), "spring", properties={"owner.id": "ann"})
    assert interaction_key(bare) == DEFAULT_INTERACTION_KEY and interaction_key(owned) == "interaction.ann"


def test_step_before_reset_says_what_to_do() -> None:
    environment = TaskEnvironment("nanotube", steps_per_frame=30)
    with pytest.raises(RuntimeError, match="reset"):
        environment.step(None)
