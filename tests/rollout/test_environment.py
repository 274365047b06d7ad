"""TaskEnvironment: seeded resets (same seed, same trajectory; new seed, new noise) and the engine's user force."""

from __future__ import annotations

import numpy as np
import pytest

from costeer.core import keys
from costeer.core.interaction import Interaction
from costeer.engine.imd import compute_imd_forces
from costeer.rollout import DEFAULT_INTERACTION_KEY, TaskEnvironment, interaction_key, interaction_work


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


def test_step_takes_several_interactions_and_gives_each_its_own_force(env: TaskEnvironment) -> None:
    step = env.reset(4)
    grabbed = env.selection.grabbed
    other = np.array([0])  # a tube atom
    person = Interaction(step.positions[grabbed[0]] + [0.4, 0.0, 0.0], grabbed, "spring", scale=1201.1,
                         properties={"owner.id": "ann", "label": "synthetic"})
    helper = Interaction(step.positions[grabbed[0]] + [0.0, 0.3, 0.0], grabbed, "spring", scale=600.0,
                         properties={"owner.id": "costeer-copilot", "label": "copilot"})
    tube = Interaction(step.positions[0] + [0.0, 0.0, 0.2], other, "spring", scale=50.0,
                       properties={"owner.id": "bob"})
    after = env.step([person, helper, tube])
    assert set(after.interaction_forces) == {"interaction.ann", "interaction.costeer-copilot", "interaction.bob"}
    expected = compute_imd_forces(after.positions, env.masses, [person, helper, tube], max_force=env.max_force)
    np.testing.assert_allclose(after.user_force, expected.forces, rtol=1e-4, atol=1e-2)
    atoms, force = after.interaction_forces["interaction.ann"]
    assert np.array_equal(atoms, grabbed) and force[0, 0] > 900 and abs(force[0, 1]) < 50  # its own pull, along +x
    shared = after.interaction_forces["interaction.ann"][1] + after.interaction_forces["interaction.costeer-copilot"][1]
    np.testing.assert_allclose(after.user_force[np.searchsorted(after.user_force_index, grabbed)], shared, rtol=1e-4)
    with pytest.raises(ValueError, match="owner.id"):
        env.step([person, person])


def test_the_work_of_each_interaction_adds_up_to_the_engines_work(env: TaskEnvironment) -> None:
    steps = [env.reset(5)]
    grabbed = env.selection.grabbed
    for index in range(12):
        centre = steps[-1].positions[grabbed[0]]
        person = Interaction(centre + [0.3, 0.0, 0.1], grabbed, "spring", scale=1201.1, properties={"owner.id": "ann"})
        helper = Interaction(centre + [0.0, 0.2, 0.0], grabbed, "spring", scale=400.0, properties={"owner.id": "cop"})
        steps.append(env.step([person, helper] if index < 10 else None))
    person_work = interaction_work(steps, "interaction.ann")
    helper_work = interaction_work(steps, "interaction.cop")
    assert person_work > 0 and helper_work != 0
    assert person_work + helper_work == pytest.approx(steps[-1].frame[keys.USER_WORK_DONE], rel=1e-3)
    # alone, an interaction's work is the engine's
    alone = [env.reset(5)]
    for _ in range(6):
        pull = Interaction(alone[-1].positions[grabbed[0]] + [0.3, 0, 0], grabbed, "spring", scale=1201.1,
                           properties={"owner.id": "ann"})
        alone.append(env.step(pull))
    alone.append(env.step(None))
    assert interaction_work(alone, "interaction.ann") == pytest.approx(alone[-1].frame[keys.USER_WORK_DONE], rel=1e-3)
    assert interaction_work(alone, "interaction.nobody") == 0.0
